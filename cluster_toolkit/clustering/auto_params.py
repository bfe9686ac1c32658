"""Choosing clustering parameters from the data, so small and large libraries both get useful clusters.

- ``k`` (k-means, hierarchical): the k in a range with the highest mean silhouette (cosine), computed on one
  fixed random sample of at most ``sample_size`` tracks (silhouette is O(n^2)); the curve can be saved as PNG.
- ``eps`` (DBSCAN): the knee of the sorted k-distance curve (each track's distance to its ``min_samples``-th
  nearest neighbour, itself included), found as the point farthest below the chord joining the curve's ends
  on axes scaled to [0, 1] (the "kneedle" rule). Queried for a sample, against all tracks.
- HDBSCAN: ``min_cluster_size = clip(round(sqrt(n) / 2), 5, 500)`` and ``min_samples = clip(round(log2 n),
  2, min_cluster_size)``: 200 tracks -> (7, 7), 10k -> (50, 13), 100k -> (158, 17). A smaller ``min_samples``
  than ``min_cluster_size`` keeps fewer tracks as noise, the most common complaint about HDBSCAN defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors

from cluster_toolkit.clustering.base import prepare
from cluster_toolkit.errors import ClusteringError


@dataclass(frozen=True)
class KChoice:
    """The chosen ``k`` and the silhouette curve it was read from."""

    k: int
    k_values: tuple[int, ...]
    scores: tuple[float, ...]
    method: str
    sample_size: int


@dataclass(frozen=True)
class EpsChoice:
    """The chosen ``eps`` (euclidean, in the clusterer's working space) and the sorted k-distance curve."""

    eps: float
    k_distances: np.ndarray
    knee_index: int
    min_samples: int


@dataclass(frozen=True)
class HDBSCANDefaults:
    min_cluster_size: int
    min_samples: int


def default_k_range(n: int) -> range:
    """2 .. clip(sqrt(n / 2), 10, 40), never more than ``n - 1``."""
    high = int(np.clip(round(np.sqrt(n / 2)), 10, 40))
    return range(2, max(2, min(high, n - 1)) + 1)


def choose_k(
    X: Any,
    *,
    k_values: Sequence[int] | None = None,
    method: str = "kmeans",
    linkage: str = "ward",
    sample_size: int = 5_000,
    random_state: int = 0,
    normalize: bool = True,
    **clusterer_params: Any,
) -> KChoice:
    """Cluster ``X`` ``(n, d)`` for every ``k`` in ``k_values`` and keep the best mean silhouette.

    ``method`` is "kmeans" (a fit per k) or "hierarchical" (one tree, cut at every k). Ties go to the
    smaller k. Raises :class:`ClusteringError` when no k in the range is possible.
    """
    from cluster_toolkit.clustering.hierarchical import HierarchicalClusterer
    from cluster_toolkit.clustering.kmeans import KMeansClusterer

    data = prepare(X, normalize=normalize, min_rows=3, owner="k auto", dtype=np.float32)
    n = data.shape[0]
    ks = list(default_k_range(n) if k_values is None else k_values)
    ks = sorted({int(k) for k in ks if 2 <= int(k) <= n - 1})
    if not ks:
        raise ClusteringError(
            f"k auto: no k in {list(k_values or [])} fits {n} tracks (silhouette needs 2 <= k <= n - 1)"
        )
    sample = min(sample_size, n)
    scores = []
    if method == "hierarchical":
        tree = HierarchicalClusterer(ks[-1], linkage=linkage, random_state=random_state, normalize=False,
                                     **clusterer_params).fit(data)
        for k in ks:
            cut = fcluster(tree.linkage_matrix_, t=k, criterion="maxclust")
            labels = cut[tree.micro_labels_] if tree.two_stage_ else cut
            scores.append(_silhouette(data, labels, sample, random_state))
    elif method == "kmeans":
        for k in ks:
            labels = KMeansClusterer(k, random_state=random_state, normalize=False, **clusterer_params).fit(
                data
            ).labels_
            scores.append(_silhouette(data, labels, sample, random_state))
    else:
        raise ClusteringError(f"k auto: method={method!r} is not one of 'kmeans', 'hierarchical'")
    best = int(np.argmax(scores))
    return KChoice(ks[best], tuple(ks), tuple(float(s) for s in scores), method, sample)


def _silhouette(X: np.ndarray, labels: np.ndarray, sample: int, seed: int) -> float:
    if len(np.unique(labels)) < 2:
        return -1.0
    return float(silhouette_score(X, labels, metric="cosine", sample_size=sample, random_state=seed))


def choose_eps(
    X: np.ndarray, *, min_samples: int, sample_size: int = 10_000, random_state: int = 0
) -> EpsChoice:
    """The knee of the k-distance curve of ``X`` ``(n, d)`` (euclidean, X used as given)."""
    X = np.asarray(X)
    n = X.shape[0]
    if n <= min_samples:
        raise ClusteringError(f"eps auto: needs more than min_samples={min_samples} tracks, got {n}")
    rng = np.random.default_rng(random_state)
    query = X if n <= sample_size else X[np.sort(rng.choice(n, sample_size, replace=False))]
    dist, _ = NearestNeighbors(n_neighbors=min_samples).fit(X).kneighbors(query)
    curve = np.sort(dist[:, min_samples - 1])
    knee = knee_index(curve)
    eps = float(curve[knee])
    if eps <= 0.0:
        positive = curve[curve > 0]
        if positive.size == 0:
            raise ClusteringError(
                f"eps auto: every track has {min_samples - 1} identical neighbours (all k-distances are 0); "
                "the embeddings are degenerate"
            )
        eps = float(positive[0])
    return EpsChoice(eps, curve, knee, min_samples)


def knee_index(curve: np.ndarray) -> int:
    """Index of the knee of an increasing curve: the point farthest below the chord between its ends, with
    both axes scaled to [0, 1]. A straight or flat curve gives its last point."""
    y = np.asarray(curve, dtype=np.float64)
    if y.size < 3 or y[-1] == y[0]:
        return int(y.size - 1)
    x = np.linspace(0.0, 1.0, y.size)
    y_scaled = (y - y[0]) / (y[-1] - y[0])
    gap = x - y_scaled
    best = int(np.argmax(gap))
    return best if gap[best] > 1e-12 else int(y.size - 1)


def hdbscan_defaults(n: int) -> HDBSCANDefaults:
    """``min_cluster_size`` and ``min_samples`` for a library of ``n`` tracks (formula in the module doc)."""
    if n < 2:
        raise ClusteringError(f"hdbscan: needs at least 2 tracks, got {n}")
    size = int(np.clip(round(np.sqrt(n) / 2), 5, 500))
    samples = int(np.clip(round(np.log2(n)), 2, size))
    return HDBSCANDefaults(size, samples)


def plot_k_curve(choice: KChoice, path: str | Path) -> Path:
    """Save the silhouette-by-k curve with the chosen k marked as a PNG; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    ax.plot(choice.k_values, choice.scores, marker="o", color="#3a6ea5")
    ax.axvline(choice.k, color="#d1495b", linestyle="--", label=f"chosen k = {choice.k}")
    ax.set_xlabel("k (number of clusters)")
    ax.set_ylabel(f"mean silhouette (cosine, {choice.sample_size} tracks)")
    ax.set_title(f"{choice.method}: choosing k")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_k_distance(choice: EpsChoice, path: str | Path, *, eps_label: str | None = None) -> Path:
    """Save the sorted k-distance curve with its knee (the chosen eps) as a PNG; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    ax.plot(np.arange(choice.k_distances.size), choice.k_distances, color="#3a6ea5")
    ax.axhline(choice.eps, color="#d1495b", linestyle="--", label=eps_label or f"eps = {choice.eps:.4g}")
    ax.scatter([choice.knee_index], [choice.k_distances[choice.knee_index]], color="#d1495b", zorder=3)
    ax.set_xlabel("tracks, sorted")
    ax.set_ylabel(f"distance to neighbour {choice.min_samples}")
    ax.set_title("DBSCAN: k-distance knee")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
