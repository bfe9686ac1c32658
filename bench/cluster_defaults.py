"""Clustering defaults on held-out real music: agreement with the source labels, noise and k chosen.

    python bench/cluster_defaults.py --library heldout-small.ctk --labels folder
    python bench/cluster_defaults.py --library heldout-tabular.ctk --labels genre

Rows (each run through :func:`cluster_toolkit.cluster_library.cluster_embeddings`, the code ``ctk cluster``
runs, normalisation as ``ctk cluster`` chooses it for the store):

* ``hdbscan (old defaults)``: min_cluster_size / min_samples from the old size formula, eom, noise kept;
* ``hdbscan (default)``: the searched parameters, at most 20% noise; ``hdbscan --no-noise``;
* ``kmeans / hierarchical --k auto``: the silhouette-excess rule, and the old plain-silhouette argmax;
* ``dbscan --eps auto``;
* references that peek at the labels: ``kmeans, true k`` and ``kmeans, best k`` (the k in 2..20 with the best
  AMI, and the one with the best NMI).

``--seeds N`` adds a second table, k-means over seeds 0..N-1 (mean +- std): the ``--k auto`` rule, the
silhouette-excess peak alone (the rule before the library-size prior), the true k, and the k in 2..20 with
the best mean AMI and each seed's best k (both peek at the labels).

NMI/AMI/ARI count noise as one more group (as ``ctk cluster --labels`` does). AMI is the headline: NMI grows
with the number of clusters even on random labels, AMI is corrected for chance.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score, normalized_mutual_info_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluster_toolkit.cluster_library import ClusterOptions, cluster_embeddings  # noqa: E402
from cluster_toolkit.clustering import HDBSCANClusterer, KMeansClusterer, hdbscan_defaults  # noqa: E402
from cluster_toolkit.reference_labels import reference_labels  # noqa: E402
from cluster_toolkit.store import LibraryStore  # noqa: E402


def scores(y: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {
        "k": int(labels.max() + 1) if labels.size else 0,
        "noise": float(np.mean(labels < 0)),
        "nmi": normalized_mutual_info_score(y, labels),
        "ami": adjusted_mutual_info_score(y, labels),
        "ari": adjusted_rand_score(y, labels),
    }


def run(X: np.ndarray, y: np.ndarray, *, normalize: bool, seed: int = 0) -> list[dict]:
    rows = []

    def add(name: str, fit) -> None:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            labels, extra = fit()
        rows.append({"method": name, **scores(y, labels), "seconds": time.perf_counter() - start, **extra})

    def options(**kw):
        model, choice, used = cluster_embeddings(X, ClusterOptions(seed=seed, **kw), normalize=normalize)
        extra = {}
        if choice is not None:
            extra["old_k"] = choice.k_values[int(np.argmax(choice.scores))]
            extra["peak_k"] = choice.peak_k
        return model.labels_, extra

    old = hdbscan_defaults(len(X))
    add("hdbscan (old defaults)", lambda: (HDBSCANClusterer(
        old.min_cluster_size, min_samples=old.min_samples, cluster_selection_method="eom", max_noise=1.0,
        normalize=normalize, random_state=seed).fit(X).labels_, {}))
    add("hdbscan (default)", lambda: options(method="hdbscan"))
    add("hdbscan --no-noise", lambda: options(method="hdbscan", max_noise=0.0))
    add("dbscan --eps auto", lambda: options(method="dbscan"))
    add("kmeans --k auto", lambda: options(method="kmeans", k="auto"))
    add("hierarchical --k auto", lambda: options(method="hierarchical", k="auto"))
    true_k = len(set(y.tolist()))
    add(f"kmeans, true k = {true_k}", lambda: (KMeansClusterer(true_k, random_state=seed, normalize=normalize)
                                              .fit(X).labels_, {}))
    curve = {k: KMeansClusterer(k, random_state=seed, normalize=normalize).fit(X).labels_ for k in range(2, 21)}
    best_ami = max(curve, key=lambda k: adjusted_mutual_info_score(y, curve[k]))
    best_nmi = max(curve, key=lambda k: normalized_mutual_info_score(y, curve[k]))
    add(f"kmeans, best-AMI k = {best_ami} (peeks)", lambda: (curve[best_ami], {}))
    add(f"kmeans, best-NMI k = {best_nmi} (peeks)", lambda: (curve[best_nmi], {}))
    return rows


def report(rows: list[dict], title: str) -> str:
    lines = [f"**{title}**", "", "| method | k | noise | AMI | NMI | ARI | s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        name = r["method"] + (f" (excess peak: k = {r['peak_k']}, plain silhouette: k = {r['old_k']})"
                              if "old_k" in r else "")
        lines.append(f"| {name} | {r['k']} | {r['noise']:.0%} | {r['ami']:.3f} | {r['nmi']:.3f} | {r['ari']:.3f} "
                     f"| {r['seconds']:.1f} |")
    return "\n".join(lines)


def seed_table(X: np.ndarray, y: np.ndarray, *, normalize: bool, seeds: int) -> str:
    """K-means over ``seeds`` seeds: the k auto rule, the excess peak alone, the true k, the best k (peeks)."""
    ks = list(range(2, 21))
    true_k = len(set(y.tolist()))
    auto, peak, chosen, peaks, curves = [], [], [], [], []
    for seed in range(seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, choice, _ = cluster_embeddings(X, ClusterOptions(seed=seed, method="kmeans", k="auto"),
                                                  normalize=normalize)
        curve = {k: adjusted_mutual_info_score(y, KMeansClusterer(k, random_state=seed, normalize=normalize)
                                               .fit(X).labels_) for k in ks}
        auto.append(adjusted_mutual_info_score(y, model.labels_))
        chosen.append(choice.k)
        peaks.append(choice.peak_k)
        peak.append(curve[choice.peak_k] if choice.peak_k in curve else float("nan"))
        curves.append([curve[k] for k in ks])
    A = np.asarray(curves)
    best = ks[int(np.argmax(A.mean(axis=0)))]

    def row(name, ks_used, values):
        return f"| {name} | {ks_used} | {np.mean(values):.3f} +- {np.std(values):.3f} |"

    lines = [f"k-means over seeds 0..{seeds - 1} (AMI mean +- std):", "", "| rule | k per seed | AMI |",
             "|---|---|---|",
             row("`--k auto` (default)", " ".join(map(str, chosen)), auto),
             row("silhouette-excess peak alone (former rule)", " ".join(map(str, peaks)), peak),
             row(f"true k = {true_k}", true_k, A[:, ks.index(true_k)] if true_k in ks else [np.nan]),
             row("best mean-AMI k in 2..20 (peeks)", best, A[:, ks.index(best)]),
             row("each seed's best k (peeks)", " ".join(str(ks[i]) for i in A.argmax(axis=1)), A.max(axis=1))]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", required=True)
    parser.add_argument("--labels", default="folder", help="reference labels (folder, genre, csv:PATH, column)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=0, help="add the k-means table over this many seeds")
    args = parser.parse_args()
    store = LibraryStore.open(args.library)
    tracks, X = store.track_embeddings()
    y = reference_labels(tracks, args.labels)
    keep = y.notna().to_numpy()
    X, y = np.asarray(X)[keep], y[keep].astype(str).to_numpy()
    normalize = store.meta.get("source") != "tabular"
    rows = run(X, y, normalize=normalize, seed=args.seed)
    print(f"<!-- {date.today()} {platform.machine()} python {platform.python_version()} -->")
    print(report(rows, f"{args.library}: {len(X)} tracks, {len(set(y))} {args.labels} labels, "
                       f"model {store.model_id}, normalize={normalize}"))
    if args.seeds:
        print()
        print(seed_table(X, y, normalize=normalize, seeds=args.seeds))


if __name__ == "__main__":
    main()
