import numpy as np
import pytest

from cluster_toolkit.clustering.assign import (
    approximate_assign,
    assign_hdbscan,
    assign_to_centroids,
    assign_within_eps,
)
from cluster_toolkit.clustering.base import ClusteringWarning
from cluster_toolkit.clustering.dbscan import DBSCANClusterer
from cluster_toolkit.clustering.hdbscan_clusterer import HDBSCANClusterer
from cluster_toolkit.clustering.hierarchical import HierarchicalClusterer
from cluster_toolkit.clustering.kmeans import KMeansClusterer
from cluster_toolkit.errors import ClusteringError


def circle_points(angles_deg, radii):
    a = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    return np.stack([np.cos(a), np.sin(a)], axis=1) * np.asarray(radii)[:, None]


def _new_tracks():
    # near 0, 120 and 240 degrees, and one at 60 degrees (between groups)
    return circle_points([3, 121, 239, 60], [2.0, 0.5, 1.0, 1.0])


@pytest.mark.parametrize("cls", [KMeansClusterer, HierarchicalClusterer])
def test_nearest_centroid_for_kmeans_and_hierarchical(toy, cls):
    X, _ = toy
    model = cls(3).fit(X)
    result = approximate_assign(model, _new_tracks())
    assert result.labels[:3].tolist() == [0, 1, 2]
    assert result.labels[3] in (0, 1)  # every track gets a cluster, even one between groups
    assert np.all(result.strengths[:3] > 0.99) and result.strengths[3] < 0.9


def test_centroid_strength_is_cosine_to_centroid():
    result = assign_to_centroids(np.array([[1.0, 1.0]]), np.array([[2.0, 0.0], [0.0, -1.0]]))
    assert result.labels.tolist() == [0]
    assert result.strengths[0] == pytest.approx(np.cos(np.pi / 4))


def test_dbscan_uses_nearest_core_point_within_eps(toy_with_outlier):
    X, _ = toy_with_outlier
    model = DBSCANClusterer(0.01, min_samples=3).fit(X)
    result = approximate_assign(model, _new_tracks())
    assert result.labels.tolist() == [0, 1, 2, -1]
    assert result.strengths[3] == 0.0 and np.all(result.strengths[:3] > 0)


def test_within_eps_by_hand():
    core = np.array([[0.0, 0.0], [10.0, 0.0]])
    got = assign_within_eps(np.array([[0.5, 0.0], [9.0, 0.0], [5.0, 0.0]]), core, np.array([3, 4]), 1.0,
                            normalize=False)
    assert got.labels.tolist() == [3, 4, -1]
    np.testing.assert_allclose(got.strengths, [0.5, 0.0, 0.0])


def test_hdbscan_approximate_predict_in_ctk_labels(density_toy):
    X, _ = density_toy
    model = HDBSCANClusterer(3, min_samples=2).fit(X)
    new = circle_points([0.5, 20.5, 40.5, 180.5], [1.0] * 4)
    result = assign_hdbscan(model, new)
    assert result.labels.tolist() == [0, 1, 2, -1]
    assert result.strengths[3] == 0.0


def test_hdbscan_without_prediction_data_says_how_to_fix(density_toy):
    X, _ = density_toy
    model = HDBSCANClusterer(3, min_samples=2, prediction_data=False).fit(X)
    with pytest.raises(ClusteringError, match="without prediction data.*prediction_data=True"):
        approximate_assign(model, X[:2])


def test_dimension_mismatch_and_unfitted_are_errors(toy):
    X, _ = toy
    model = KMeansClusterer(3).fit(X)
    with pytest.raises(ClusteringError, match="new vectors have 3 dimensions, the clustering has 2"):
        approximate_assign(model, np.ones((2, 3)))
    with pytest.raises(ClusteringError, match="not fitted"):
        approximate_assign(KMeansClusterer(3), X)


def test_no_clusters_means_all_noise_and_a_warning(toy):
    X, _ = toy
    with pytest.warns(ClusteringWarning):
        model = DBSCANClusterer(1e-9, min_samples=3).fit(X)
    with pytest.warns(ClusteringWarning, match="every new track is noise"):
        result = approximate_assign(model, _new_tracks())
    assert result.labels.tolist() == [-1, -1, -1, -1]
