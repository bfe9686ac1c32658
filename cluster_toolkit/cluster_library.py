"""Cluster a library store end to end: embeddings -> clusterer -> metrics -> saved run and pictures.

``cluster_embeddings`` works on a matrix (and is what a fine-tuning loop or a notebook would call);
``cluster_library`` adds the store: it reads the tracks' pooled embeddings, computes internal metrics and,
given reference labels, external ones, saves the run (:mod:`cluster_toolkit.store.runs`) and writes the run's
pictures (k curve, k-distance curve, dendrogram) to ``<root>/runs/<run_id>/``.

Normalisation: embeddings from audio are L2-normalised (cosine geometry); a tabular store's standardised
feature vectors are clustered as they are (their length - how extreme a track is - carries meaning), unless
``normalize`` says otherwise.
"""

from __future__ import annotations

import pickle
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cluster_toolkit.clustering import (
    ClusteringWarning,
    DBSCANClusterer,
    EpsChoice,
    HDBSCANClusterer,
    HierarchicalClusterer,
    KChoice,
    KMeansClusterer,
    choose_k,
    default_k_range,
)
from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.metrics import external_metrics, internal_metrics
from cluster_toolkit.store.library_store import now_iso
from cluster_toolkit.store.protocol import Store
from cluster_toolkit.store.runs import ClusterRun, labels_frame, make_run_id, run_dir, save_run

METHODS = ("hierarchical", "kmeans", "dbscan", "hdbscan")
DEFAULT_MAX_NOISE = 0.2  # HDBSCAN, DBSCAN: at most this share of the tracks stays noise unless asked


@dataclass(frozen=True)
class ClusterOptions:
    """What to cluster with; ``None`` means the method's default. ``k`` is an int or "auto".

    The default, k-means with ``k="auto"``, agreed best with the source labels of held-out real music among
    the methods' defaults (docs/BENCHMARKS.md, "Clustering defaults on held-out real music")."""

    method: str = "kmeans"
    k: int | str | None = None
    k_min: int = 2
    k_max: int | None = None
    distance_threshold: float | None = None
    linkage: str = "ward"
    metric: str | None = None
    eps: float | str = "auto"
    min_samples: int | None = None
    min_cluster_size: int | None = None
    pca_components: int | str | None = "auto"
    selection: str = "auto"
    max_noise: float | None = None
    allow_single_cluster: bool = False
    seed: int = 0
    normalize: bool | None = None
    backend: str = "auto"

    def requested(self) -> dict[str, Any]:
        """The options that matter for ``method`` (what the run id hashes and ``params`` records)."""
        keep = {
            "hierarchical": ("k", "k_min", "k_max", "distance_threshold", "linkage", "metric"),
            "kmeans": ("k", "k_min", "k_max"),
            "dbscan": ("eps", "min_samples", "metric", "max_noise"),
            "hdbscan": ("min_cluster_size", "min_samples", "pca_components", "selection", "max_noise",
                        "allow_single_cluster"),
        }[self.method]
        values = asdict(self)
        chosen = {name: values[name] for name in keep} | {"normalize": self.normalize}
        if self.method == "kmeans" and self.backend != "auto":  # auto keeps the run ids of earlier runs
            chosen["backend"] = self.backend
        return chosen


@dataclass
class ClusterOutcome:
    """A finished clustering: the run (saved or not), the fitted estimator, and what was written."""

    run: ClusterRun
    clusterer: Any
    k_choice: KChoice | None = None
    eps_choice: EpsChoice | None = None
    warnings: list[str] = field(default_factory=list)
    pictures: dict[str, Path] = field(default_factory=dict)
    saved: bool = False


def cluster_embeddings(X: np.ndarray, options: ClusterOptions, *, normalize: bool = True):
    """Fit the clusterer ``options`` describe on ``X`` ``(n, d)``.

    Returns ``(fitted clusterer, KChoice or None, resolved params dict)``.
    """
    if options.method not in METHODS:
        raise ClusteringError(f"method={options.method!r} is not one of {', '.join(METHODS)}")
    n = X.shape[0]
    k_choice = None
    method = options.method
    if method in ("kmeans", "hierarchical"):
        k = options.k
        if options.distance_threshold is not None:
            if method != "hierarchical":
                raise ClusteringError("distance_threshold is only for --method hierarchical")
            if k not in (None, "auto"):
                raise ClusteringError(f"give --k or --distance-threshold, not both (k={k})")
            k = None
        elif k is None or k == "auto":
            high = options.k_max or default_k_range(n).stop - 1
            k_choice = choose_k(
                X,
                k_values=range(options.k_min, high + 1),
                method=method,
                linkage=options.linkage,
                random_state=options.seed,
                normalize=normalize,
                **({"backend": options.backend} if method == "kmeans" else {}),
            )
            k = k_choice.k
            if k_choice.edge_warning():
                warnings.warn(k_choice.edge_warning(), ClusteringWarning, stacklevel=2)
        elif not isinstance(k, int):
            raise ClusteringError(f"k={k!r}: give a whole number of clusters or 'auto'")
        if method == "kmeans":
            model = KMeansClusterer(k, random_state=options.seed, normalize=normalize, backend=options.backend)
        else:
            model = HierarchicalClusterer(
                k,
                distance_threshold=options.distance_threshold,
                linkage=options.linkage,
                metric=options.metric or "euclidean",
                random_state=options.seed,
                normalize=normalize,
            )
    elif method == "dbscan":
        model = DBSCANClusterer(
            options.eps,
            min_samples=options.min_samples,
            metric=options.metric or "cosine",
            normalize=normalize,
            random_state=options.seed,
            max_noise=DEFAULT_MAX_NOISE if options.max_noise is None else options.max_noise,
        )
    else:
        model = HDBSCANClusterer(
            options.min_cluster_size,
            min_samples=options.min_samples,
            n_components=options.pca_components,
            cluster_selection_method=options.selection,
            max_noise=DEFAULT_MAX_NOISE if options.max_noise is None else options.max_noise,
            allow_single_cluster=options.allow_single_cluster,
            random_state=options.seed,
            normalize=normalize,
        )
    model.fit(X)
    resolved = dict(model.get_params())
    if method == "dbscan":
        resolved |= {"eps": model.eps_, "eps_euclidean": model.eps_euclidean_, "min_samples": model.min_samples_}
        if model.eps_choice_ is not None:
            resolved["eps_search"] = model.eps_choice_.as_dict()
    if method == "hdbscan":
        resolved |= {"min_cluster_size": model.min_cluster_size_, "min_samples": model.min_samples_,
                     "cluster_selection_method": model.cluster_selection_method_}
        if model.search_ is not None:
            resolved["search"] = model.search_.as_dict()
    if method in ("dbscan", "hdbscan"):
        resolved["noise_assigned"] = int(model.noise_assigned_.sum())
    if method == "hierarchical":
        resolved |= {"two_stage": bool(model.two_stage_)}
    if method == "kmeans":
        resolved |= {"backend_used": model.backend_}
    if k_choice is not None and k_choice.fit_rows is not None and k_choice.fit_rows < len(model.labels_):
        resolved |= {"k_search_rows": k_choice.fit_rows}
    return model, k_choice, resolved


def cluster_library(
    store: Store,
    options: ClusterOptions,
    *,
    reference: str | None = None,
    save: bool = True,
) -> ClusterOutcome:
    """Cluster the ok tracks of ``store``; with ``save`` store the run and write its pictures."""
    from cluster_toolkit.reference_labels import reference_labels

    if not store.dim:
        raise ClusteringError(f"{store.root}: 0 embedded tracks; run `ctk embed MUSIC_DIR` first")
    tracks, X = store.track_embeddings()
    if len(tracks) < 2:
        raise ClusteringError(
            f"{store.root}: {len(tracks)} embedded tracks; clustering needs at least 2 (run `ctk embed` first)"
        )
    normalize = options.normalize
    if normalize is None:
        normalize = store.meta.get("source") != "tabular"
    reference_values = reference_labels(tracks, reference) if reference else None
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, k_choice, resolved = cluster_embeddings(X, options, normalize=normalize)
    seconds = time.perf_counter() - started
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    labels = model.labels_
    metrics: dict[str, Any] = {"internal": internal_metrics(X, labels, normalize=normalize)}
    if reference_values is not None:
        metrics["external"] = external_metrics(reference_values, labels) | {"reference": reference}
    if k_choice is not None:
        metrics["k_auto"] = {"k_values": list(k_choice.k_values), "silhouette": list(k_choice.scores),
                             "reference": list(k_choice.null_scores), "criterion": k_choice.criterion,
                             "peak_k": k_choice.peak_k, "prior_k": k_choice.prior_k}
    track_ids = tracks["track_id"].astype(str).tolist()
    requested = options.requested() | {"normalize": normalize}
    run_id = make_run_id(
        options.method, requested, seed=options.seed, model_id=store.model_id, track_ids=track_ids, embeddings=X
    )
    frame = labels_frame(
        run_id,
        track_ids,
        labels,
        probability=getattr(model, "probabilities_", None),
        outlier_score=getattr(model, "outlier_scores_", None),
        core=_core_mask(model, len(track_ids)),
    )
    run = ClusterRun(
        run_id=run_id,
        method=options.method,
        params={"requested": requested, "used": resolved},
        model_id=store.model_id,
        metrics=metrics,
        n_clusters=int(model.n_clusters_),
        n_noise=int(model.n_noise_),
        created_at=now_iso(),
        seconds=round(seconds, 3),
        seed=options.seed,
        labels=frame,
    )
    eps_choice = getattr(model, "eps_choice_", None)
    outcome = ClusterOutcome(run, model, k_choice, eps_choice, messages)
    if save:
        with store.writing():
            save_run(store, run)
            outcome.pictures = _write_pictures(store, run, model, k_choice, eps_choice, tracks)
        outcome.saved = True
    return outcome


def _core_mask(model: Any, n: int) -> np.ndarray | None:
    if not hasattr(model, "core_sample_indices_"):
        return None
    mask = np.zeros(n, dtype=bool)
    mask[model.core_sample_indices_] = True
    return mask


def _write_pictures(store, run, model, k_choice, eps_choice, tracks) -> dict[str, Path]:
    from cluster_toolkit.plots.auto_params import plot_k_curve, plot_k_distance
    from cluster_toolkit.plots.dendrogram import plot_dendrogram
    from cluster_toolkit.reports import cluster_names, track_name

    folder = run_dir(store, run.run_id)
    folder.mkdir(parents=True, exist_ok=True)
    pictures: dict[str, Path] = {}
    if k_choice is not None:
        pictures["k curve"] = plot_k_curve(k_choice, folder / "k_curve.png")
    if eps_choice is not None:
        pictures["k-distance"] = plot_k_distance(
            eps_choice, folder / "k_distance.png", metric="cosine" if model.metric == "cosine" else "euclidean"
        )
    if isinstance(model, HierarchicalClusterer):
        names = cluster_names(tracks, model.labels_)
        if model.two_stage_:  # leaves are centroids: each takes the cluster most of its tracks are in
            micro = np.asarray(model.micro_labels_)
            leaf_groups = np.array([np.bincount(model.labels_[micro == m] + 1).argmax() - 1
                                    if np.any(micro == m) else -1 for m in range(model.linkage_matrix_.shape[0] + 1)])
            leaf_labels = None
        else:
            leaf_groups = model.labels_
            leaf_labels = [track_name(row) for _, row in tracks.iterrows()]
        pictures["dendrogram"] = plot_dendrogram(
            model.linkage_matrix_,
            folder / "dendrogram.png",
            n_clusters=model.n_clusters_,
            leaf_labels=leaf_labels,
            leaf_groups=leaf_groups,
            group_names=names,
            title=f"{model.linkage} linkage" + (" (two-stage, over centroids)" if model.two_stage_ else ""),
        )
    if isinstance(model, HDBSCANClusterer) and model.prediction_data:
        with open(folder / "hdbscan.pkl", "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    return pictures
