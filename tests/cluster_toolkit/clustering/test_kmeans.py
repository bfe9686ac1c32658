import numpy as np
import pytest

from cluster_toolkit.clustering.kmeans import KMeansClusterer, kmeans_clustering, nearest_center
from cluster_toolkit.errors import ClusteringError


@pytest.mark.parametrize("backend", ["sklearn", "faiss"])
def test_exact_labels_on_toy_directions(toy, backend):
    X, expected = toy
    model = KMeansClusterer(3, backend=backend, random_state=0).fit(X)
    assert model.labels_.tolist() == expected.tolist()
    assert model.backend_ == backend
    assert model.n_features_in_ == 2 and model.n_clusters_ == 3 and model.n_noise_ == 0
    # centroid i belongs to cluster i: the mean of its unit vectors, which points to 0, 120 and 240 degrees
    angles = np.rad2deg(np.arctan2(model.cluster_centers_[:, 1], model.cluster_centers_[:, 0]))
    np.testing.assert_allclose(angles, [0.0, 120.0, -120.0], atol=2.0)


def test_normalisation_is_what_makes_the_radius_irrelevant():
    # two directions (0 and 90 degrees), each with a short and a long vector
    X = np.array([[1.0, 0.0], [10.0, 0.1], [0.0, 1.0], [0.1, 10.0]])
    assert KMeansClusterer(2, random_state=0).fit(X).labels_.tolist() == [0, 0, 1, 1]
    raw = KMeansClusterer(2, normalize=False, random_state=0).fit(X).labels_
    assert raw.tolist() not in ([0, 0, 1, 1], [1, 1, 0, 0])


def test_deterministic_with_seed_and_input_not_modified(blobs):
    X, _ = blobs
    before = X.copy()
    a = KMeansClusterer(4, random_state=3).fit(X).labels_
    b = kmeans_clustering(X, 4, random_state=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(X, before)


def test_predict_uses_nearest_centroid(toy):
    X, _ = toy
    model = KMeansClusterer(3).fit(X)
    new = np.array([[10.0, 0.5], [-1.0, 1.5], [-0.3, -0.9]])
    assert model.predict(new).tolist() == [0, 1, 2]


def test_nearest_center_distances():
    idx, d2 = nearest_center(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [3.0, 3.0]]), chunk=1)
    assert idx.tolist() == [0, 1]
    np.testing.assert_allclose(d2, [1.0, 1.0])


def test_k_larger_than_n_is_a_clear_error(toy):
    X, _ = toy
    with pytest.raises(ClusteringError, match="n_clusters=13 is more than the 12 tracks"):
        KMeansClusterer(13).fit(X)


@pytest.mark.parametrize(
    ("params", "message"),
    [({"n_clusters": 0}, "n_clusters=0"), ({"backend": "gpu"}, "backend='gpu'"), ({"n_init": 0}, "n_init=0")],
)
def test_bad_parameters(toy, params, message):
    X, _ = toy
    with pytest.raises(ClusteringError, match=message):
        KMeansClusterer(**params).fit(X)


def test_auto_backend_switches_to_faiss_with_kmeans_plus_plus(make_blobs):
    from sklearn.metrics import adjusted_rand_score

    X, y = make_blobs(400, 4, 16, seed=6)
    small = KMeansClusterer(4, random_state=1).fit(X)
    large = KMeansClusterer(4, random_state=1, faiss_min_rows=100).fit(X)
    assert (small.backend_, large.backend_) == ("sklearn", "faiss")
    assert adjusted_rand_score(y, large.labels_) == 1.0
    np.testing.assert_array_equal(small.labels_, large.labels_)  # canonical numbering: same clusters, same ids
    np.testing.assert_array_equal(large.labels_, KMeansClusterer(4, random_state=1, faiss_min_rows=100).fit(X).labels_)
