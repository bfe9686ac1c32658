"""The data-analysis views of a feature table (tabular mode), as PNGs.

- ``distributions.png``: one histogram per feature (raw values, 40 bins);
- ``correlation.png``: Pearson correlation matrix of the features, annotated;
- ``features_by_cluster.png`` (given cluster labels): mean z-score of each feature in each cluster (rows:
  clusters with their sizes; red above the library's mean, blue below), which says what a cluster *is*
  ("high energy, low acousticness").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.plots._mpl import save_figure, subplots


def _numeric(features: pd.DataFrame) -> pd.DataFrame:
    numeric = features.drop(columns=[c for c in ("track_id",) if c in features]).apply(
        pd.to_numeric, errors="coerce"
    )
    numeric = numeric.loc[:, numeric.notna().any()]
    if numeric.shape[1] == 0:
        raise ClusteringError("feature views: the table has no numeric feature columns")
    return numeric


def plot_distributions(features: pd.DataFrame, path: str | Path) -> Path:
    numeric = _numeric(features)
    n = numeric.shape[1]
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    fig, axes = subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, numeric.columns, strict=False):
        values = numeric[name].dropna()
        ax.hist(values, bins=40, color="#3a6ea5")
        ax.set_title(f"{name} (median {values.median():.3g})", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"Feature distributions ({len(numeric)} tracks)")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_correlation(features: pd.DataFrame, path: str | Path) -> Path:
    numeric = _numeric(features)
    corr = numeric.corr().to_numpy()
    names = list(numeric.columns)
    m = len(names)
    fig, ax = subplots(figsize=(0.6 * m + 3, 0.6 * m + 2))
    image = ax.imshow(corr, cmap="coolwarm", vmin=-1, vmax=1)
    ax.set_xticks(range(m), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(m), names, fontsize=8)
    for i in range(m):
        for j in range(m):
            if np.isfinite(corr[i, j]):
                ax.text(j, i, f"{corr[i, j]:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="Pearson r")
    ax.set_title("Feature correlations")
    fig.tight_layout()
    return save_figure(fig, path)


def features_by_cluster(features: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Mean z-score of each feature per cluster (rows: clusters, noise -1 included if present)."""
    numeric = _numeric(features)
    labels = np.asarray(labels)
    if labels.shape != (len(numeric),):
        raise ClusteringError(f"feature views: {labels.shape[0]} labels for {len(numeric)} tracks")
    std = numeric.std(ddof=0).replace(0, np.nan)
    z = (numeric - numeric.mean()) / std
    return z.groupby(labels).mean().sort_index(key=lambda i: np.where(i < 0, np.iinfo(np.int64).max, i))


def plot_features_by_cluster(features: pd.DataFrame, labels: np.ndarray, path: str | Path) -> Path:
    table = features_by_cluster(features, labels)
    sizes = pd.Series(np.asarray(labels)).value_counts()
    m, k = table.shape[1], table.shape[0]
    fig, ax = subplots(figsize=(0.7 * m + 3, 0.4 * k + 2))
    limit = float(np.nanmax(np.abs(table.to_numpy()))) or 1.0
    image = ax.imshow(table.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(m), table.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), [f"{'noise' if c < 0 else f'cluster {c}'} ({sizes[c]})" for c in table.index],
                  fontsize=8)  # fmt: skip
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="mean z-score")
    ax.set_title("Features by cluster")
    fig.tight_layout()
    return save_figure(fig, path)
