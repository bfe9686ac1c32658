"""Clustering quality numbers, all computed by scikit-learn.

Internal (no ground truth), over the clustered tracks only (noise, label -1, left out):
- ``silhouette``: mean silhouette with cosine distance, in [-1, 1], higher is better. O(n^2), so computed on
  a fixed random sample of at most ``sample_size`` tracks.
- ``davies_bouldin``: >= 0, lower is better (euclidean on the unit vectors).
- ``calinski_harabasz``: >= 0, higher is better.
Each is ``None`` when it is undefined (fewer than 2 clusters, or as many clusters as tracks).

External (against reference labels: genre, folder, a CSV column...), over the tracks that have a reference
label. Noise counts as one more predicted group, so a method cannot score well by calling hard tracks noise;
``coverage`` reports the clustered share separately.
- ``nmi`` / ``ami`` (normalized / adjusted mutual information), ``ari`` (adjusted Rand index), ``v_measure``
  with ``homogeneity`` and ``completeness``, and ``purity`` = sum over predicted clusters of the size of
  their most common reference label, divided by n (from :func:`sklearn.metrics.cluster.contingency_matrix`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.metrics.cluster import contingency_matrix

from cluster_toolkit.clustering.base import NOISE, l2_normalize
from cluster_toolkit.errors import ClusteringError


def internal_metrics(
    X: np.ndarray,
    labels: np.ndarray,
    *,
    normalize: bool = True,
    sample_size: int = 10_000,
    random_state: int = 0,
) -> dict[str, Any]:
    """Silhouette (cosine), Davies-Bouldin and Calinski-Harabasz of ``labels`` ``(n,)`` on ``X`` ``(n, d)``."""
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    if X.ndim != 2 or labels.shape != (X.shape[0],):
        raise ClusteringError(f"metrics: {labels.shape} labels for a matrix of shape {X.shape}")
    keep = labels != NOISE
    data = X[keep]
    if normalize and data.size:
        data = l2_normalize(data)
    kept = labels[keep]
    n, k = int(keep.sum()), len(np.unique(kept))
    out: dict[str, Any] = {
        "silhouette": None,
        "davies_bouldin": None,
        "calinski_harabasz": None,
        "n_scored": n,
        "noise_fraction": float(1.0 - keep.mean()) if labels.size else 0.0,
    }
    if 2 <= k <= n - 1:
        sample = min(sample_size, n)
        out["silhouette"] = float(
            skm.silhouette_score(data, kept, metric="cosine", sample_size=sample, random_state=random_state)
        )
        out["davies_bouldin"] = float(skm.davies_bouldin_score(data, kept))
        out["calinski_harabasz"] = float(skm.calinski_harabasz_score(data, kept))
    return out


def purity(labels_true: Any, labels_pred: Any) -> float:
    """Share of tracks whose predicted cluster's most common reference label is their own."""
    table = contingency_matrix(labels_true, labels_pred)
    total = table.sum()
    if total == 0:
        raise ClusteringError("purity: no labelled tracks")
    return float(table.max(axis=0).sum() / total)


def external_metrics(labels_true: Any, labels_pred: Any) -> dict[str, Any]:
    """NMI, AMI, ARI, V-measure (+ homogeneity, completeness) and purity of predicted against reference
    labels. Rows whose reference label is missing (None/NaN/"") are left out; noise (-1) is one more group."""
    truth = pd.Series(labels_true, dtype="object").reset_index(drop=True)
    pred = np.asarray(labels_pred)
    if len(truth) != pred.shape[0]:
        raise ClusteringError(f"metrics: {len(truth)} reference labels for {pred.shape[0]} predicted labels")
    has = truth.notna().to_numpy() & (truth.astype(str).str.strip() != "").to_numpy()
    n = int(has.sum())
    if n == 0:
        raise ClusteringError("metrics: none of the tracks has a reference label")
    t = truth[has].astype(str).to_numpy()
    p = pred[has]
    homogeneity, completeness, v_measure = skm.homogeneity_completeness_v_measure(t, p)
    return {
        "nmi": float(skm.normalized_mutual_info_score(t, p)),
        "ami": float(skm.adjusted_mutual_info_score(t, p)),
        "ari": float(skm.adjusted_rand_score(t, p)),
        "v_measure": float(v_measure),
        "homogeneity": float(homogeneity),
        "completeness": float(completeness),
        "purity": purity(t, p),
        "n_labelled": n,
        "n_reference_classes": int(len(np.unique(t))),
        "coverage": float(np.mean(p != NOISE)),
    }
