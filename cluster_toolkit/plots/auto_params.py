"""Pictures of the automatic parameter choices: the silhouette-by-k curves and the DBSCAN k-distance knee."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cluster_toolkit.clustering.auto_params import EpsChoice, KChoice, k_distance_in
from cluster_toolkit.plots._mpl import save_figure, subplots


def plot_k_curve(choice: KChoice, path: str | Path) -> Path:
    """Save the silhouette-by-k curves (silhouette, reference, excess) with the chosen k marked as a PNG."""
    fig, ax = subplots(figsize=(6, 3.5), dpi=110)
    ax.plot(choice.k_values, choice.scores, marker="o", color="#3a6ea5", label="silhouette")
    if choice.null_scores:
        ax.plot(choice.k_values, choice.null_scores, marker=".", color="#999999", label="Gaussian reference")
        ax.plot(choice.k_values, choice.excess, marker="s", color="#2a9d8f",
                label="excess" if choice.used_prior else "excess (chooses k)")
    how = " (size prior sqrt(n/2): weak structure)" if choice.used_prior else ""
    ax.axvline(choice.k, color="#d1495b", linestyle="--", label=f"chosen k = {choice.k}{how}")
    ax.set_xlabel("k (number of clusters)")
    ax.set_ylabel(f"mean silhouette ({choice.sample_size} tracks)")
    ax.set_title(f"{choice.method}: choosing k")
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def plot_k_distance(choice: EpsChoice, path: str | Path, *, metric: str = "euclidean") -> Path:
    """Save the sorted k-distance curve with the chosen eps marked as a PNG; returns the path.

    ``metric="cosine"`` draws the curve and eps as cosine distances ``1 - cos = d^2 / 2`` (the curve is
    computed on unit vectors), the units ``--eps`` takes; otherwise as the euclidean distances they are.
    """
    curve, eps = k_distance_in(choice, metric)
    fig, ax = subplots(figsize=(6, 3.5), dpi=110)
    ax.plot(np.arange(curve.size), curve, color="#3a6ea5")
    ax.axhline(eps, color="#d1495b", linestyle="--", label=f"eps = {eps:.4g} ({metric} distance)")
    ax.scatter([choice.index], [curve[choice.index]], color="#d1495b", zorder=3)
    ax.set_xlabel("tracks, sorted")
    ax.set_ylabel(f"{metric} distance to neighbour {choice.min_samples}")
    ax.set_title(f"DBSCAN: eps at the {choice.quantile:.0%} quantile of the k-distances")
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
