"""Dendrogram PNG of a hierarchical run (scipy's ``dendrogram`` on the run's linkage matrix).

Large trees are truncated to their last ``p`` merges (``truncate_mode="lastp"``); leaf labels then show
cluster sizes in parentheses. For two-stage runs the tree is over the k-means centroids. A dashed line marks
the height at which the tree was cut into the run's clusters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import dendrogram

from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.plots._mpl import plt, save_figure


def cut_height(Z: np.ndarray, n_clusters: int) -> float | None:
    """Height between the merges that leave ``n_clusters`` and ``n_clusters - 1`` clusters."""
    n_leaves = Z.shape[0] + 1
    if not 1 < n_clusters <= n_leaves:
        return None
    upper = Z[n_leaves - n_clusters, 2]
    lower = Z[n_leaves - n_clusters - 1, 2] if n_leaves - n_clusters - 1 >= 0 else 0.0
    return float((upper + lower) / 2)


def plot_dendrogram(
    Z: np.ndarray,
    path: str | Path,
    *,
    n_clusters: int | None = None,
    leaf_labels: list[str] | None = None,
    p: int = 40,
    title: str = "Hierarchical clustering",
) -> Path:
    """Write the dendrogram of linkage matrix ``Z`` ``(n - 1, 4)`` as a PNG; returns the path."""
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != 4 or Z.shape[0] < 1:
        raise ClusteringError(f"dendrogram: expected a scipy linkage matrix (n - 1, 4), got shape {Z.shape}")
    n_leaves = Z.shape[0] + 1
    truncate = n_leaves > p
    fig, ax = plt.subplots(figsize=(max(6.0, min(p, n_leaves) * 0.25 + 2), 4.5))
    dendrogram(
        Z,
        ax=ax,
        truncate_mode="lastp" if truncate else None,
        p=p,
        labels=None if truncate or leaf_labels is None else leaf_labels,
        leaf_rotation=90,
        leaf_font_size=7,
        color_threshold=cut_height(Z, n_clusters) if n_clusters else None,
        show_contracted=truncate,
    )
    height = cut_height(Z, n_clusters) if n_clusters else None
    if height is not None:
        ax.axhline(height, color="#555555", linestyle="--", linewidth=1, label=f"cut: {n_clusters} clusters")
        ax.legend(loc="upper right")
    ax.set_ylabel("merge distance")
    ax.set_title(title + (f" (last {p} merges of {n_leaves} leaves)" if truncate else ""))
    fig.tight_layout()
    return save_figure(fig, path)
