import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from cluster_toolkit.clustering.base import ClusteringWarning
from cluster_toolkit.clustering.hdbscan_clusterer import HDBSCANClusterer, hdbscan_clustering
from cluster_toolkit.errors import ClusteringError


def test_exact_labels_with_noise(density_toy):
    X, expected = density_toy
    model = HDBSCANClusterer(3, min_samples=2).fit(X)
    assert model.labels_.tolist() == expected.tolist()
    assert model.pca_ is None  # 2-D input is not reduced
    assert model.probabilities_[-1] == 0.0 and np.all(model.probabilities_[:-1] > 0)
    assert model.outlier_scores_.shape == (13,)
    assert model.outlier_scores_[-1] == model.outlier_scores_.max()


def test_min_cluster_size_is_held(density_toy):
    X, _ = density_toy
    # with min_cluster_size=4 the 3-track group at 40 degrees cannot stand alone
    labels = HDBSCANClusterer(4, min_samples=3, cluster_selection_method="eom", max_noise=1.0).fit(X).labels_
    assert np.bincount(labels[labels >= 0]).min() >= 4
    assert labels.tolist() == [0, 1, -1, 0, 1, -1, 0, 1, 1, 0, 1, 0, -1]


def test_blobs_with_pca(make_blobs):
    X, y = make_blobs(500, 4, 32, seed=3)
    model = HDBSCANClusterer(30).fit(X)
    assert model.pca_ is not None and model.pca_.n_components_ == 10
    kept = model.labels_ >= 0
    assert np.bincount(model.labels_[kept]).min() >= 30
    assert adjusted_rand_score(y[kept], model.labels_[kept]) == 1.0
    assert kept.mean() > 0.9


def test_defaults_are_searched_noise_is_bounded_and_seeded(make_blobs):
    X, y = make_blobs(400, 4, 8, seed=4)
    before = X.copy()
    a = HDBSCANClusterer().fit(X)
    tried = {(c.min_cluster_size, c.min_samples, c.cluster_selection_method) for c in a.search_.candidates}
    assert len(tried) == 18  # sizes round(0.2, 0.4, 0.8 * sqrt(400)) = 4, 8, 16; min_samples 1, 2, 4; eom, leaf
    assert (a.min_cluster_size_, a.min_samples_, a.cluster_selection_method_) in tried
    best = max(a.search_.candidates, key=lambda c: c.validity)
    assert (a.min_cluster_size_, a.min_samples_) == (best.min_cluster_size, best.min_samples)
    assert a.n_noise_ <= 0.2 * 400
    assert adjusted_rand_score(y, a.labels_) > 0.9
    np.testing.assert_array_equal(a.labels_, hdbscan_clustering(X))
    np.testing.assert_array_equal(X, before)


def test_noise_is_capped_and_no_noise_assigns_every_track(density_toy):
    X, _ = density_toy
    kept = HDBSCANClusterer(4, min_samples=3, cluster_selection_method="eom", max_noise=1.0).fit(X)
    assert kept.n_noise_ == 3 and not kept.noise_assigned_.any()
    capped = HDBSCANClusterer(4, min_samples=3, cluster_selection_method="eom", max_noise=0.1).fit(X)
    assert capped.n_noise_ == 1 and capped.noise_assigned_.sum() == 2  # floor(0.1 * 13) = 1 stays noise
    assert capped.outlier_scores_[capped.labels_ == -1][0] == capped.outlier_scores_.max()  # the farthest stays
    all_in = HDBSCANClusterer(4, min_samples=3, cluster_selection_method="eom", max_noise=0.0).fit(X)
    assert all_in.n_noise_ == 0 and all_in.n_clusters_ == 2
    assert np.all(all_in.probabilities_[all_in.noise_assigned_] == 0.0)


def test_single_blob_is_all_noise_with_a_warning_unless_allowed(make_blobs):
    X, _ = make_blobs(200, 1, 4, seed=5)
    with pytest.warns(ClusteringWarning, match="no clusters found, all 200 tracks are noise.*--allow-single-cluster"):
        model = HDBSCANClusterer(20, min_samples=10, cluster_selection_method="eom").fit(X)
    assert set(model.labels_.tolist()) == {-1} and model.n_clusters_ == 0
    with pytest.warns(ClusteringWarning, match="only one cluster found"):
        single = HDBSCANClusterer(20, min_samples=10, cluster_selection_method="eom", allow_single_cluster=True,
                                  max_noise=1.0).fit(X)
    assert single.n_clusters_ == 1 and np.sum(single.labels_ == 0) >= 20


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_cluster_size": 1}, "min_cluster_size=1 is invalid"),
        ({"min_cluster_size": 50}, "min_cluster_size=50 is more than the 12 tracks"),
        ({"min_cluster_size": 3, "min_samples": 12}, "min_samples=12 must be below the 12 tracks"),
        ({"cluster_selection_method": "best"}, "cluster_selection_method='best'"),
        ({"n_components": 0}, "n_components=0"),
    ],
)
def test_bad_parameters(toy, params, message):
    X, _ = toy
    with pytest.raises(ClusteringError, match=message):
        HDBSCANClusterer(**params).fit(X)
