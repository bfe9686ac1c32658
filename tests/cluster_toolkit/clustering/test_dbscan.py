import warnings

import numpy as np
import pytest

from cluster_toolkit.clustering.base import ClusteringWarning
from cluster_toolkit.clustering.dbscan import (
    DBSCANClusterer,
    cosine_to_euclidean,
    dbscan_clustering,
    euclidean_to_cosine,
)
from cluster_toolkit.errors import ClusteringError


def test_exact_labels_with_noise(toy_with_outlier):
    X, expected = toy_with_outlier
    model = DBSCANClusterer(0.01, min_samples=3, metric="cosine").fit(X)
    assert model.labels_.tolist() == expected.tolist()
    assert model.n_noise_ == 1 and model.n_clusters_ == 3
    assert model.eps_ == pytest.approx(0.01)
    assert model.eps_euclidean_ == pytest.approx(np.sqrt(0.02))
    np.testing.assert_allclose(np.linalg.norm(model.components_, axis=1), 1.0, rtol=1e-6)


def test_cosine_and_euclidean_eps_agree_on_unit_vectors(toy_with_outlier):
    X, _ = toy_with_outlier
    a = DBSCANClusterer(0.01, min_samples=3, metric="cosine").fit(X).labels_
    b = DBSCANClusterer(cosine_to_euclidean(0.01), min_samples=3, metric="euclidean").fit(X).labels_
    np.testing.assert_array_equal(a, b)
    assert euclidean_to_cosine(cosine_to_euclidean(0.3)) == pytest.approx(0.3)


def test_eps_auto_finds_the_groups(toy_with_outlier):
    X, expected = toy_with_outlier
    model = DBSCANClusterer("auto", min_samples=3).fit(X)
    assert model.labels_.tolist() == expected.tolist()
    assert model.eps_choice_ is not None and model.eps_choice_.min_samples == 3


def test_min_samples_held_and_input_not_modified(toy_with_outlier):
    X, _ = toy_with_outlier
    before = X.copy()
    labels = dbscan_clustering(X, 0.01, min_samples=4)
    np.testing.assert_array_equal(X, before)
    sizes = np.bincount(labels[labels >= 0])
    assert sizes.min() >= 4  # the 3-track group cannot hold a core point
    assert np.sum(labels == -1) == 4


def test_all_noise_warns_and_returns_minus_one(toy):
    X, _ = toy
    with pytest.warns(ClusteringWarning, match="no clusters found, all 12 tracks are noise"):
        model = DBSCANClusterer(1e-9, min_samples=3).fit(X)
    assert set(model.labels_.tolist()) == {-1}


def test_one_cluster_warns(toy):
    X, _ = toy
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DBSCANClusterer(1.9, min_samples=2).fit(X)
    assert any("only one cluster" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"eps": 3.0}, "eps=3.0 is not a cosine distance"),
        ({"eps": -1.0}, "eps=-1.0 is invalid"),
        ({"eps": "knee"}, "eps='knee'"),
        ({"eps": "auto", "min_samples": 20}, "needs more than min_samples=20"),
        ({"metric": "manhattan"}, "metric='manhattan'"),
    ],
)
def test_bad_parameters(toy, params, message):
    X, _ = toy
    with pytest.raises(ClusteringError, match=message):
        DBSCANClusterer(**params).fit(X)
