import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from cluster_toolkit.clustering.hierarchical import HierarchicalClusterer, cluster_means, hierarchical_clustering
from cluster_toolkit.errors import ClusteringError


@pytest.mark.parametrize(
    ("linkage", "metric"),
    [("ward", "euclidean"), ("average", "cosine"), ("complete", "cosine"), ("single", "euclidean")],
)
def test_exact_labels_for_each_linkage(toy, linkage, metric):
    X, expected = toy
    model = HierarchicalClusterer(3, linkage=linkage, metric=metric).fit(X)
    assert model.labels_.tolist() == expected.tolist()
    assert model.linkage_matrix_.shape == (11, 4)
    assert not model.two_stage_


def test_cut_by_distance(toy):
    X, expected = toy
    # within a group points are <= 8 degrees apart (cosine distance < 0.01); groups are 120 degrees apart (1.5)
    model = HierarchicalClusterer(None, distance_threshold=0.1, linkage="average", metric="cosine").fit(X)
    assert model.labels_.tolist() == expected.tolist()
    one = HierarchicalClusterer(None, distance_threshold=1.9, linkage="average", metric="cosine").fit(X)
    assert set(one.labels_.tolist()) == {0}


def test_two_stage_matches_exact_on_blobs_and_avoids_the_full_tree(make_blobs):
    X, y = make_blobs(600, 5, 16, seed=2)
    exact = HierarchicalClusterer(5).fit(X)
    staged = HierarchicalClusterer(5, max_exact=100, n_centroids=60).fit(X)
    assert staged.two_stage_ and staged.linkage_matrix_.shape == (59, 4)
    assert staged.micro_labels_.shape == (600,)
    assert adjusted_rand_score(y, exact.labels_) == 1.0
    assert adjusted_rand_score(y, staged.labels_) == 1.0
    # the centroids are weighted by their tracks; the same holds for average linkage
    assert staged.micro_counts_.sum() == 600 and staged.micro_counts_.min() >= 1
    np.testing.assert_array_equal(staged.micro_counts_, np.bincount(staged.micro_labels_))
    average = HierarchicalClusterer(5, linkage="average", metric="cosine", max_exact=100, n_centroids=60).fit(X)
    exact_average = HierarchicalClusterer(5, linkage="average", metric="cosine").fit(X)
    assert adjusted_rand_score(exact_average.labels_, average.labels_) == 1.0


def test_centers_are_cluster_means_and_twin_matches(toy):
    X, expected = toy
    model = HierarchicalClusterer(3).fit(X)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_allclose(model.cluster_centers_[2], unit[expected == 2].mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(hierarchical_clustering(X, 3), model.labels_)
    means = cluster_means(np.array([[1.0], [3.0], [10.0]]), np.array([0, 0, -1]))
    np.testing.assert_allclose(means, [[2.0]])


def test_input_not_modified(toy):
    X, _ = toy
    before = X.copy()
    HierarchicalClusterer(3).fit(X)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_clusters": 3, "distance_threshold": 0.5}, "exactly one of n_clusters and distance_threshold"),
        ({"n_clusters": None}, "exactly one of"),
        ({"linkage": "ward", "metric": "cosine"}, "ward' needs metric='euclidean'"),
        ({"linkage": "median"}, "linkage='median'"),
        ({"n_clusters": 20}, "n_clusters=20 is more than the 12 tracks"),
        ({"n_clusters": 5, "max_exact": 4, "n_centroids": 4}, "exceeds n_centroids=4"),
    ],
)
def test_bad_parameters(toy, params, message):
    X, _ = toy
    with pytest.raises(ClusteringError, match=message):
        HierarchicalClusterer(**params).fit(X)
