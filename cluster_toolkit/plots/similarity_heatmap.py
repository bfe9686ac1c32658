"""Track-by-track cosine similarity heatmap for a handful of chosen tracks (PNG, matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cluster_toolkit.clustering.base import check_embeddings, l2_normalize
from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.plots._mpl import save_figure, subplots

MAX_TRACKS = 60


def cosine_similarity_matrix(X: np.ndarray) -> np.ndarray:
    """``(m, d) -> (m, m)`` cosine similarities (diagonal 1)."""
    unit = l2_normalize(np.array(check_embeddings(X, min_rows=1, owner="heatmap"), dtype=np.float64))
    return np.clip(unit @ unit.T, -1.0, 1.0)


def colour_limits(sim: np.ndarray) -> tuple[float, float]:
    """``(vmin, vmax)`` spanning the off-diagonal similarities, so that a 0.6-1.0 range uses the whole colour
    map (the diagonal, always 1, saturates at ``vmax``). A constant matrix gets a span of 0.1 below its value."""
    off = sim[~np.eye(len(sim), dtype=bool)]
    lo, hi = float(off.min()), float(off.max())
    if hi - lo < 1e-6:
        lo = hi - 0.1
    return lo, hi


def plot_similarity_heatmap(X: np.ndarray, names: list[str], path: str | Path, *, title: str = "") -> Path:
    """Heatmap of the cosine similarities of ``X`` ``(m, d)``, rows/columns labelled by ``names``."""
    if len(names) != np.asarray(X).shape[0]:
        raise ClusteringError(f"heatmap: {len(names)} names for {np.asarray(X).shape[0]} tracks")
    if not 2 <= len(names) <= MAX_TRACKS:
        raise ClusteringError(f"heatmap: choose 2 to {MAX_TRACKS} tracks, got {len(names)}")
    sim = cosine_similarity_matrix(X)
    m = len(names)
    side = float(np.clip(0.45 * m + 3.0, 5.0, 24.0))
    fig, ax = subplots(figsize=(side + 1.5, side))
    vmin, vmax = colour_limits(sim)
    image = ax.imshow(sim, cmap="magma", vmin=vmin, vmax=vmax)
    short = [n if len(n) <= 40 else n[:37] + "..." for n in names]
    ax.set_xticks(range(m), short, rotation=90, fontsize=7)
    ax.set_yticks(range(m), short, fontsize=7)
    if m <= 15:
        for i in range(m):
            for j in range(m):
                ax.text(j, i, f"{sim[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="black" if sim[i, j] > (vmin + vmax) / 2 else "white")  # fmt: skip
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="cosine similarity")
    ax.set_title(title or f"Similarity of {m} tracks")
    fig.tight_layout()
    return save_figure(fig, path)
