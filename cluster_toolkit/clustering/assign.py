"""Placing newly embedded tracks into an existing clustering: an approximate operation, named as such.

A clustering is a fit of one set of tracks; adding tracks would change it (centroids move, densities change,
clusters may merge). Re-clustering is the exact answer; these functions are the cheap approximate one, which
keeps the run as it is and gives each new track the label it would most plausibly have:

- k-means / hierarchical: the nearest cluster centroid (mean unit vector of the members); ``strength`` is the
  cosine similarity to that centroid's direction. Every new track gets a cluster.
- DBSCAN: the label of the nearest *core* track if it lies within ``eps``, else noise (-1) - the rule DBSCAN
  itself uses for border points; ``strength`` is ``1 - distance / eps`` (0 for noise).
- HDBSCAN: :func:`hdbscan.approximate_predict` (the new point is placed in the condensed tree without
  changing it); needs the model fitted with ``prediction_data=True``. ``strength`` is hdbscan's.

A clustering with no clusters (all noise) assigns every new track to -1 and warns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors

from cluster_toolkit.clustering.base import NOISE, ClusteringWarning, check_embeddings, l2_normalize
from cluster_toolkit.clustering.kmeans import nearest_center
from cluster_toolkit.errors import ClusteringError


@dataclass(frozen=True)
class Assignment:
    """Labels ``(m,)`` (-1 = noise) and strengths ``(m,)`` in [0, 1] of ``m`` new tracks."""

    labels: np.ndarray
    strengths: np.ndarray


def _new_vectors(X_new: Any, dim: int, normalize: bool) -> np.ndarray:
    data = check_embeddings(X_new, min_rows=1, owner="assign")
    if data.shape[1] != dim:
        raise ClusteringError(
            f"assign: new vectors have {data.shape[1]} dimensions, the clustering has {dim}; "
            "embed the new tracks with the model the run was made with"
        )
    data = np.array(data, dtype=np.float64, copy=True)
    return l2_normalize(data) if normalize else data


def _all_noise(m: int) -> Assignment:
    warnings.warn(
        "assign: the clustering has no clusters, every new track is noise (-1); re-cluster instead",
        ClusteringWarning,
        stacklevel=3,
    )
    return Assignment(np.full(m, NOISE, dtype=np.int64), np.zeros(m))


def assign_to_centroids(X_new: Any, centers: np.ndarray, *, normalize: bool = True) -> Assignment:
    """Nearest of the cluster ``centers`` ``(k, d)`` (row i = cluster i) for each new track ``(m, d)``."""
    centers = np.asarray(centers, dtype=np.float64)
    data = _new_vectors(X_new, centers.shape[1] if centers.ndim == 2 else -1, normalize)
    if centers.shape[0] == 0:
        return _all_noise(data.shape[0])
    idx, _ = nearest_center(data, centers)
    unit = centers / np.maximum(np.linalg.norm(centers, axis=1, keepdims=True), 1e-12)
    data_unit = data / np.maximum(np.linalg.norm(data, axis=1, keepdims=True), 1e-12)
    cos = np.einsum("ij,ij->i", data_unit, unit[idx])
    return Assignment(idx.astype(np.int64), np.clip(cos, 0.0, 1.0))


def assign_within_eps(
    X_new: Any,
    core_points: np.ndarray,
    core_labels: np.ndarray,
    eps_euclidean: float,
    *,
    normalize: bool = True,
) -> Assignment:
    """DBSCAN's border rule: the label of the nearest core point ``(c, d)`` within ``eps_euclidean`` (in the
    working space: unit vectors when ``normalize``), else -1."""
    core_points = np.asarray(core_points, dtype=np.float64)
    core_labels = np.asarray(core_labels, dtype=np.int64)
    if eps_euclidean <= 0:
        raise ClusteringError(f"assign: eps={eps_euclidean} must be positive")
    data = _new_vectors(X_new, core_points.shape[1] if core_points.ndim == 2 else -1, normalize)
    if core_points.shape[0] == 0:
        return _all_noise(data.shape[0])
    if core_labels.shape != (core_points.shape[0],):
        raise ClusteringError(
            f"assign: {core_labels.shape} core labels for {core_points.shape[0]} core points"
        )
    dist, idx = NearestNeighbors(n_neighbors=1).fit(core_points).kneighbors(data)
    dist, idx = dist[:, 0], idx[:, 0]
    inside = dist <= eps_euclidean
    labels = np.where(inside, core_labels[idx], NOISE).astype(np.int64)
    strengths = np.where(inside, 1.0 - dist / eps_euclidean, 0.0)
    return Assignment(labels, strengths)


def assign_hdbscan(clusterer: Any, X_new: Any) -> Assignment:
    """:func:`hdbscan.approximate_predict` for a fitted :class:`HDBSCANClusterer`, in ctk's labels."""
    import hdbscan

    if not hasattr(clusterer, "model_"):
        raise ClusteringError("assign: the HDBSCAN clusterer is not fitted")
    if getattr(clusterer.model_, "prediction_data_", None) is None:
        raise ClusteringError(
            "assign: this HDBSCAN run was fitted without prediction data; re-run it with "
            "prediction_data=True "
            "(ctk cluster --method hdbscan keeps it by default)"
        )
    space = clusterer.transform_new(X_new)
    if clusterer.n_clusters_ == 0:
        return _all_noise(space.shape[0])
    raw, strengths = hdbscan.approximate_predict(clusterer.model_, space)
    lookup = clusterer.label_map_
    labels = np.array([lookup.get(int(r), NOISE) for r in raw], dtype=np.int64)
    return Assignment(labels, np.asarray(strengths, dtype=np.float64))


def approximate_assign(clusterer: Any, X_new: Any) -> Assignment:
    """Place new tracks into a fitted ctk clusterer of any method (dispatch to the functions above)."""
    from cluster_toolkit.clustering.dbscan import DBSCANClusterer
    from cluster_toolkit.clustering.hdbscan_clusterer import HDBSCANClusterer

    if not hasattr(clusterer, "labels_"):
        raise ClusteringError(f"assign: {type(clusterer).__name__} is not fitted; call fit first")
    if isinstance(clusterer, HDBSCANClusterer):
        return assign_hdbscan(clusterer, X_new)
    if isinstance(clusterer, DBSCANClusterer):
        core_labels = clusterer.labels_[clusterer.core_sample_indices_]
        return assign_within_eps(
            X_new,
            clusterer.components_,
            core_labels,
            clusterer.eps_euclidean_,
            normalize=clusterer.metric == "cosine" or clusterer.normalize,
        )
    if hasattr(clusterer, "cluster_centers_"):
        return assign_to_centroids(X_new, clusterer.cluster_centers_, normalize=clusterer.normalize)
    raise ClusteringError(f"assign: no assignment rule for {type(clusterer).__name__}")
