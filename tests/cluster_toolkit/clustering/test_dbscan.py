import warnings

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from cluster_toolkit.clustering.auto_params import EPS_MIN_SAMPLES, EPS_QUANTILES
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


def test_eps_auto_on_well_separated_blobs_finds_them_with_little_noise(make_blobs):
    X, y = make_blobs(400, 4, 16, spread=0.05, seed=1)
    model = DBSCANClusterer("auto").fit(X)  # min_samples searched too
    assert model.n_clusters_ == 4
    assert model.n_noise_ / len(X) <= 0.2
    clustered = model.labels_ >= 0
    assert adjusted_rand_score(y[clustered], model.labels_[clustered]) == 1.0
    choice = model.eps_choice_
    assert len(choice.candidates) == len(EPS_MIN_SAMPLES) * len(EPS_QUANTILES)
    best = max(c.outside_largest for c in choice.candidates)
    assert best == np.sum(model.labels_ >= 1)  # the score: tracks in a cluster other than the largest
    assert model.min_samples_ == choice.min_samples in EPS_MIN_SAMPLES


def test_eps_auto_keeps_unequal_groups_apart():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(5, 16))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    sizes = (120, 60, 30, 15, 10)
    X = np.concatenate([c + rng.normal(scale=0.08, size=(m, 16)) for c, m in zip(centres, sizes)])
    y = np.repeat(np.arange(5), sizes)
    model = DBSCANClusterer("auto").fit(X)
    assert model.n_clusters_ == 5 and model.n_noise_ / len(X) <= 0.2
    clustered = model.labels_ >= 0
    assert adjusted_rand_score(y[clustered], model.labels_[clustered]) == 1.0


def test_fixed_eps_without_min_samples_uses_five(toy_with_outlier):
    X, _ = toy_with_outlier
    with pytest.warns(ClusteringWarning, match="only one cluster"):
        model = DBSCANClusterer(0.01).fit(X)
    assert model.min_samples_ == 5 and model.eps_choice_ is None
    assert model.n_clusters_ == 1  # only the 5-track group has a core track
