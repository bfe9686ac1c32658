"""Clusterers (scikit-learn estimator contract, noise = -1), parameter choice and approximate assignment."""

from cluster_toolkit.clustering.assign import (
    Assignment,
    approximate_assign,
    assign_hdbscan,
    assign_to_centroids,
    assign_within_eps,
)
from cluster_toolkit.clustering.auto_params import (
    EpsChoice,
    HDBSCANDefaults,
    KChoice,
    choose_eps,
    choose_k,
    default_k_range,
    hdbscan_defaults,
)
from cluster_toolkit.clustering.base import NOISE, ClusteringWarning, canonical_labels, l2_normalize
from cluster_toolkit.clustering.dbscan import DBSCANClusterer, dbscan_clustering
from cluster_toolkit.clustering.hdbscan_clusterer import HDBSCANClusterer, hdbscan_clustering
from cluster_toolkit.clustering.hierarchical import HierarchicalClusterer, hierarchical_clustering
from cluster_toolkit.clustering.kmeans import KMeansClusterer, kmeans_clustering

__all__ = [
    "NOISE",
    "Assignment",
    "ClusteringWarning",
    "DBSCANClusterer",
    "EpsChoice",
    "HDBSCANClusterer",
    "HDBSCANDefaults",
    "HierarchicalClusterer",
    "KChoice",
    "KMeansClusterer",
    "approximate_assign",
    "assign_hdbscan",
    "assign_to_centroids",
    "assign_within_eps",
    "canonical_labels",
    "choose_eps",
    "choose_k",
    "dbscan_clustering",
    "default_k_range",
    "hdbscan_clustering",
    "hdbscan_defaults",
    "hierarchical_clustering",
    "kmeans_clustering",
    "l2_normalize",
]
