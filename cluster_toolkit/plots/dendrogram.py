"""Dendrogram PNG of a hierarchical run (scipy's ``dendrogram`` on the run's linkage matrix).

Leaves are labelled with track names ("artist - title") when given. Large trees are truncated to their
last ``p`` merges (``truncate_mode="lastp"``); a contracted leaf then shows its size and the name of the
cluster most of its tracks belong to, e.g. ``(23) Flare 80%``. For two-stage runs the tree is over the k-means
centroids. A dashed line marks the height at which the tree was cut into the run's clusters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import dendrogram, to_tree

from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.plots._mpl import save_figure, subplots


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
    leaf_groups: np.ndarray | None = None,
    group_names: dict[int, str] | None = None,
    p: int = 40,
    title: str = "Hierarchical clustering",
) -> Path:
    """Write the dendrogram of linkage matrix ``Z`` ``(n - 1, 4)`` as a PNG; returns the path.

    ``leaf_labels`` names each leaf; ``leaf_groups`` ``(n,)`` (each leaf's cluster) with ``group_names``
    names contracted leaves of a truncated tree by their majority cluster.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != 4 or Z.shape[0] < 1:
        raise ClusteringError(f"dendrogram: expected a scipy linkage matrix (n - 1, 4), got shape {Z.shape}")
    n_leaves = Z.shape[0] + 1
    truncate = n_leaves > p
    fig, ax = subplots(figsize=(max(6.0, min(p, n_leaves) * 0.25 + 2), 4.5))
    label_func = _node_labeller(Z, leaf_labels, leaf_groups, group_names) if truncate else None
    dendrogram(
        Z,
        ax=ax,
        truncate_mode="lastp" if truncate else None,
        p=p,
        labels=None if truncate or leaf_labels is None else list(leaf_labels),
        leaf_label_func=label_func,
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


def _node_labeller(Z, leaf_labels, leaf_groups, group_names):
    """``leaf_label_func`` for a truncated tree: a leaf's own label, or a contracted node's size and the name
    of its majority cluster."""
    if leaf_labels is None and leaf_groups is None:
        return None
    n_leaves = Z.shape[0] + 1
    nodes: dict[int, object] = {}
    root = to_tree(Z, rd=True)[1]
    for node in root:
        nodes[node.id] = node
    groups = None if leaf_groups is None else np.asarray(leaf_groups)

    def label(node_id: int) -> str:
        if node_id < n_leaves:
            return str(leaf_labels[node_id]) if leaf_labels is not None else str(node_id)
        members = nodes[node_id].pre_order()
        text = f"({len(members)})"
        if groups is not None:
            values, counts = np.unique(groups[members], return_counts=True)
            top = int(values[np.argmax(counts)])
            text += f" {(group_names or {}).get(top, f'cluster {top}')}"
        return text

    return label
