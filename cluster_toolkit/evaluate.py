"""How well an embedding groups tracks the way a library's own labels do (any backend).

Four views of one question, all on the pooled track embeddings of the store:

- **retrieval**: Recall@k (a same-label track among the k nearest by cosine) and mAP@k, each with a 95%
  bootstrap interval over the queries;
- **clustering**: k-means with k = number of labels on the L2-normalised vectors, scored with NMI, AMI
  and ARI against the labels, mean and sd over several k-means seeds;
- **linear probe**: accuracy of a logistic regression (standardised inputs) in stratified k-fold
  cross-validation, repeated over several shuffles of the folds, next to the majority-class rate;
- **relative** (the seeds' evaluation): mean cosine of each track to the other tracks of its label
  against its mean cosine to random tracks; ``gap = same - random`` above 0 means labels are
  tighter than chance.

Tracks without a label are left out; labels carried by a single track count for clustering and
probing only where they can (retrieval skips them as queries, the probe drops them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score, normalized_mutual_info_score
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cluster_toolkit.errors import UsageError
from cluster_toolkit.reference_labels import reference_labels
from cluster_toolkit.store.protocol import Store
from embeddings.errors import ConfigError
from embeddings.positives import playlist_positives
from embeddings.retrieval import mean_scores, per_query_retrieval


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def playlist_labels(tracks: pd.DataFrame, playlists_dir: str | Path) -> pd.Series:
    """Label = the first playlist (in file order) holding the track; ``None`` for tracks in none."""
    try:
        groups = playlist_positives(
            tracks["path"].tolist(),
            playlists_dir,
            artists=tracks["artist"].fillna("").astype(str).tolist(),
            titles=tracks["title"].fillna("").astype(str).tolist(),
        )
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    labels: list[str | None] = [None] * len(tracks)
    for name, members in zip(groups.names, groups.groups, strict=True):
        for i in members:
            if labels[i] is None:
                labels[i] = name
    return pd.Series(labels, index=tracks.index, dtype="object")


def labels_for(tracks: pd.DataFrame, spec: str, *, playlists_dir: str | Path | None = None) -> pd.Series:
    """One label (or ``None``) per track for ``--labels`` ``folder``, ``tag``, ``playlist`` or ``csv:PATH``
    (any column of the tracks table works too, e.g. ``artist``)."""
    if spec == "playlist":
        if playlists_dir is None:
            raise UsageError("--labels playlist needs --playlists DIR")
        return playlist_labels(tracks, playlists_dir)
    return reference_labels(tracks, spec)


def relative_evaluation(x: np.ndarray, labels: np.ndarray, *, n_random: int = 50, seed: int = 0) -> dict[str, float]:
    """Mean cosine to same-label tracks vs to ``n_random`` random other tracks, averaged over tracks."""
    xn = _normalise(np.asarray(x, dtype=np.float64))
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    same, rand = [], []
    n = len(xn)
    for i in range(n):
        others = np.flatnonzero(labels == labels[i])
        others = others[others != i]
        if len(others) == 0:
            continue
        same.append(float((xn[others] @ xn[i]).mean()))
        pool = rng.choice(n - 1, size=min(n_random, n - 1), replace=False)
        pool = pool + (pool >= i)  # skip the track itself
        rand.append(float((xn[pool] @ xn[i]).mean()))
    if not same:
        return {"same_label_cosine": float("nan"), "random_cosine": float("nan"), "gap": float("nan")}
    s, r = float(np.mean(same)), float(np.mean(rand))
    return {"same_label_cosine": s, "random_cosine": r, "gap": s - r}


PROBE_PREDICTIONS = 2000
"""``repeats=None`` repeats the probe's k-fold split until about this many test predictions are made (1 to 10)."""


def probe_repeats(n: int) -> int:
    """Repeats of the probe's k-fold split for ``n`` tracks: ``ceil(2000 / n)``, between 1 and 10.

    One split of a few hundred tracks moves the accuracy by about 0.02 with the split alone (222 held-out tracks:
    sd 0.016-0.026 over ten splits, docs/BENCHMARKS.md), as much as the gaps between embeddings it ranks; the
    spread shrinks with n, so a large library needs one split.
    """
    return int(min(10, max(1, -(-PROBE_PREDICTIONS // max(n, 1)))))


def linear_probe(
    x: np.ndarray, labels: np.ndarray, *, folds: int = 5, repeats: int | None = None, seed: int = 0
) -> dict[str, float]:
    """Stratified k-fold accuracy of logistic regression on standardised embeddings, averaged over ``repeats``
    shuffles of the folds (``None``: :func:`probe_repeats`).

    Labels with fewer than 2 tracks are dropped; the fold count is lowered to the smallest class size.
    Returns ``accuracy`` (mean over every fold of every repeat), ``accuracy_std`` (sd over those folds),
    ``split_std`` (sd of one k-fold split's accuracy across the repeats: what a single split would move by;
    NaN for one repeat), ``majority``, ``folds`` and ``repeats``.
    """
    labels = np.asarray(labels)
    values, counts = np.unique(labels, return_counts=True)
    keep = np.isin(labels, values[counts >= 2])
    classes = int((counts >= 2).sum())
    if classes < 2:
        return {"accuracy": float("nan"), "accuracy_std": float("nan"), "split_std": float("nan"),
                "majority": float("nan"), "folds": 0, "repeats": 0}
    x, labels = np.asarray(x)[keep], labels[keep]
    k = int(min(folds, counts[counts >= 2].min()))
    repeats = probe_repeats(len(labels)) if repeats is None else int(repeats)
    if repeats < 1:
        raise UsageError(f"the linear probe needs at least 1 repeat, got {repeats}")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
    # the folds in parallel: ten repeats of 599-dimensional vectors are ~30 fits of a second each
    scores = cross_val_score(model, x, labels, cv=cv, scoring="accuracy", n_jobs=-1).reshape(repeats, k)
    majority = float(np.unique(labels, return_counts=True)[1].max() / len(labels))
    split_std = float(scores.mean(axis=1).std(ddof=1)) if repeats > 1 else float("nan")
    return {"accuracy": float(scores.mean()), "accuracy_std": float(scores.std()), "split_std": split_std,
            "majority": majority, "folds": k, "repeats": repeats}


def retrieval_with_intervals(
    x: np.ndarray, labels: np.ndarray, *, ks: Sequence[int] = (1, 5, 10), resamples: int = 2000, seed: int = 0
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Recall@k and mAP@k (:func:`embeddings.retrieval.retrieval_scores`' figures) and a 95% percentile
    bootstrap interval of each over the queries (``scipy.stats.bootstrap``): on a few hundred tracks Recall@1
    is known to about +-0.06, which a reader comparing two models needs to see."""
    from scipy.stats import bootstrap

    per_query = per_query_retrieval(x, labels, ks=ks)
    scores = mean_scores(per_query)
    intervals: dict[str, list[float]] = {}
    for k in ks:
        for metric in (f"recall@{k}", f"map@{k}"):
            values = per_query[metric]
            if len(values) < 2 or np.ptp(values) == 0:  # no spread to resample
                intervals[metric] = [scores[metric], scores[metric]]
                continue
            ci = bootstrap((values,), np.mean, n_resamples=resamples, method="percentile", batch=100,
                           random_state=seed).confidence_interval
            intervals[metric] = [float(ci.low), float(ci.high)]
    return scores, intervals


def clustering_scores(x: np.ndarray, labels: np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """NMI, AMI and ARI of k-means (k = number of labels, L2-normalised vectors) against the labels."""
    labels = np.asarray(labels)
    k = len(np.unique(labels))
    if k < 2 or len(labels) <= k:
        return {"nmi": float("nan"), "ami": float("nan"), "ari": float("nan"), "k": k}
    predicted = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(_normalise(np.asarray(x)))
    return {
        "nmi": float(normalized_mutual_info_score(labels, predicted)),
        "ami": float(adjusted_mutual_info_score(labels, predicted)),
        "ari": float(adjusted_rand_score(labels, predicted)),
        "k": k,
    }


KMEANS_TRACK_SEEDS = 50_000
"""``kmeans_seeds=None`` runs k-means from ``ceil(50,000 / n)`` seeds, between 1 and 10."""


def kmeans_seed_count(n: int) -> int:
    """k-means seeds for ``n`` tracks: ``ceil(50,000 / n)`` between 1 and 10 (10 up to 5,000 tracks, 3 at 20,000).

    One k-means run (itself the best of 10 starts) moved NMI by sd 0.008-0.019 on 222 held-out tracks
    (docs/BENCHMARKS.md), the size of the gaps between models; a large library costs seconds per run.
    """
    return int(min(10, max(1, -(-KMEANS_TRACK_SEEDS // max(n, 1)))))


def clustering_over_seeds(
    x: np.ndarray, labels: np.ndarray, *, seeds: int | None = None, seed: int = 0
) -> dict[str, float]:
    """:func:`clustering_scores` from k-means seeds ``seed, seed + 1, ...`` (``seeds`` of them; ``None``:
    :func:`kmeans_seed_count`): the mean of NMI, AMI and ARI, their sd over the seeds (``nmi_std``, ...; 0 for
    one seed), ``k`` and ``kmeans_seeds``."""
    seeds = kmeans_seed_count(len(labels)) if seeds is None else int(seeds)
    if seeds < 1:
        raise UsageError(f"clustering needs at least 1 k-means seed, got {seeds}")
    runs = [clustering_scores(x, labels, seed=seed + i) for i in range(seeds)]
    out: dict[str, float] = {"k": runs[0]["k"], "kmeans_seeds": seeds}
    for metric in ("nmi", "ami", "ari"):
        values = np.array([r[metric] for r in runs], dtype=float)
        out[metric], out[f"{metric}_std"] = float(values.mean()), float(values.std())
    return out


def evaluate_embeddings(
    x: np.ndarray,
    labels: Sequence | np.ndarray,
    *,
    ks: Sequence[int] = (1, 5, 10),
    folds: int = 5,
    repeats: int | None = None,
    kmeans_seeds: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """All four evaluations of ``x`` ``(n, dim)`` against ``labels`` ``(n,)`` (``None`` = unlabelled)."""
    x = np.asarray(x, dtype=np.float32)
    labels = np.asarray([None if v is None else str(v) for v in labels], dtype=object)
    if x.ndim != 2 or len(x) != len(labels):
        raise UsageError(f"evaluate needs embeddings (n, dim) and n labels, got {x.shape} and {len(labels)}")
    has = np.array([v is not None for v in labels])
    x, labels = x[has], labels[has].astype(str)
    n_classes = len(np.unique(labels))
    if len(labels) < 3 or n_classes < 2:
        raise UsageError(f"need at least 3 labelled tracks in 2 labels to evaluate, found {len(labels)} in {n_classes}")
    retrieval, intervals = retrieval_with_intervals(x, labels, ks=ks, seed=seed)
    return {
        "n_labelled": int(len(labels)),
        "n_labels": int(n_classes),
        "retrieval": retrieval,
        "retrieval_ci95": intervals,
        "clustering": clustering_over_seeds(x, labels, seeds=kmeans_seeds, seed=seed),
        "linear_probe": linear_probe(x, labels, folds=folds, repeats=repeats, seed=seed),
        "relative": relative_evaluation(x, labels, seed=seed),
    }


def evaluate_library(
    store: Store,
    spec: str,
    *,
    playlists_dir: str | Path | None = None,
    ks: Sequence[int] = (1, 5, 10),
    folds: int = 5,
    repeats: int | None = None,
    kmeans_seeds: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Evaluate the track embeddings of a :class:`~cluster_toolkit.store.LibraryStore` against ``spec`` labels."""
    tracks, x = store.track_embeddings()
    if len(tracks) == 0:
        raise UsageError(f"{store.root}: the library has no embedded tracks; run `ctk embed` first")
    labels = labels_for(tracks, spec, playlists_dir=playlists_dir)
    report = evaluate_embeddings(x, labels.tolist(), ks=ks, folds=folds, repeats=repeats,
                                 kmeans_seeds=kmeans_seeds, seed=seed)
    report.update({"labels": spec, "model_id": store.model_id, "n_tracks": int(len(tracks))})
    return report
