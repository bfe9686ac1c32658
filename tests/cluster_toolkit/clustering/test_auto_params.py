import numpy as np
import pytest

from cluster_toolkit.clustering import KMeansClusterer
from cluster_toolkit.clustering.auto_params import (
    STRUCTURE_SILHOUETTE,
    EpsChoice,
    _gaussian_reference,
    choose_eps,
    choose_k,
    default_k_range,
    hdbscan_defaults,
    size_prior_k,
)
from cluster_toolkit.errors import ClusteringError


@pytest.mark.parametrize("method", ["kmeans", "hierarchical"])
def test_choose_k_finds_the_number_of_separated_blobs(make_blobs, method):
    X, _ = make_blobs(300, 5, 16, seed=7)
    choice = choose_k(X, k_values=range(2, 9), method=method)
    assert choice.k == 5
    assert choice.k_values == (2, 3, 4, 5, 6, 7, 8)
    assert choice.excess[3] == max(choice.excess)
    assert not choice.at_edge and choice.edge_warning() is None


def test_choose_k_range_is_clipped_and_errors_when_empty(toy):
    X, _ = toy
    assert choose_k(X, k_values=[3, 50]).k_values == (3,)
    with pytest.raises(ClusteringError, match="no k in \\[40, 50\\] fits 12 tracks"):
        choose_k(X, k_values=[40, 50])
    with pytest.raises(ClusteringError, match="method='dbscan'"):
        choose_k(X, method="dbscan")


def test_default_k_range_grows_with_the_library():
    assert default_k_range(5) == range(2, 4 + 1)  # k <= n - 1
    assert default_k_range(100) == range(2, 10 + 1)
    assert default_k_range(1_800) == range(2, 30 + 1)
    assert default_k_range(1_000_000) == range(2, 40 + 1)


def test_choose_eps_separates_within_from_between_distances(make_blobs):
    X, y = make_blobs(400, 4, 8, spread=0.02, seed=8)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    choice = choose_eps(X, min_samples=5)
    within = max(np.linalg.norm(X[y == c] - X[y == c].mean(0), axis=1).max() for c in range(4)) * 2
    centers = np.stack([X[y == c].mean(0) for c in range(4)])
    between = min(np.linalg.norm(a - b) for i, a in enumerate(centers) for b in centers[i + 1 :])
    assert 0 < choice.eps < between / 2
    assert choice.eps < within
    assert choice.k_distances.shape == (400,) and np.all(np.diff(choice.k_distances) >= 0)


def test_choose_eps_on_identical_points_is_an_error():
    with pytest.raises(ClusteringError, match="all k-distances are 0"):
        choose_eps(np.ones((10, 3)), min_samples=3)
    with pytest.raises(ClusteringError, match="needs more than min_samples=5"):
        choose_eps(np.eye(4), min_samples=5)
    assert isinstance(choose_eps(np.eye(6), min_samples=2), EpsChoice)


def test_hdbscan_defaults_by_size():
    got = {n: (d.min_cluster_size, d.min_samples) for n in (20, 200, 10_000, 100_000) for d in [hdbscan_defaults(n)]}
    assert got == {20: (5, 4), 200: (7, 7), 10_000: (50, 13), 100_000: (158, 17)}
    with pytest.raises(ClusteringError):
        hdbscan_defaults(1)


def _nested_groups(seed: int = 1) -> np.ndarray:
    """Two far-apart families of three groups each (40 tracks per group): plain silhouette sees 2."""
    rng = np.random.default_rng(seed)
    families = rng.normal(size=(2, 16)) * 3
    centres = np.concatenate([f + rng.normal(size=(3, 16)) * 0.8 for f in families])
    return np.concatenate([c + rng.normal(size=(40, 16)) * 0.25 for c in centres])


def test_k_auto_does_not_collapse_to_two_on_nested_groups():
    choice = choose_k(_nested_groups(), k_values=range(2, 11), normalize=False)
    assert int(np.argmax(choice.scores)) == 0  # plain silhouette would say k = 2
    assert choice.k == 6 and not choice.at_edge
    assert choice.excess[4] == max(choice.excess[1:-1])
    assert len(choice.null_scores) == len(choice.scores) == 9


def test_k_auto_at_the_top_of_its_range_warns(make_blobs):
    X, _ = make_blobs(300, 5, 16, seed=7)  # five blobs, range 2..4
    top = choose_k(X, k_values=range(2, 5))
    assert top.k == 4 and top.at_edge
    assert "k = 4, the top of the range 2..4" in top.edge_warning() and "--k-max 8" in top.edge_warning()


def test_large_libraries_search_k_on_a_sample_and_still_find_it(make_blobs):
    X, _ = make_blobs(3000, 5, 16, seed=7)
    choice = choose_k(X, k_values=range(2, 9), fit_sample_size=800)
    assert (choice.k, choice.fit_rows, choice.sample_size) == (5, 800, 800)
    assert choose_k(X[:500], k_values=range(2, 9), fit_sample_size=800).fit_rows == 500


def test_gaussian_reference_drawn_in_chunks_equals_one_draw():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2500, 6)).astype(np.float32)
    ours = _gaussian_reference(data, 2500, np.random.default_rng(1), normalize=False)
    # reference computation: one (m, m) normal draw times the centred rows
    one = np.random.default_rng(1)
    centred = data - data.mean(axis=0)
    expected = data.mean(axis=0) + one.standard_normal((2500, 2500)) @ centred / np.sqrt(2499)
    np.testing.assert_allclose(ours, expected.astype(np.float32), rtol=1e-4, atol=1e-5)


def _unequal_blobs(seed: int = 3) -> np.ndarray:
    """Five separated groups of 120, 60, 30, 15 and 10 tracks around random unit directions (16-d)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, 16))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return np.concatenate([c + rng.normal(scale=0.08, size=(m, 16)) for c, m in zip(centres, (120, 60, 30, 15, 10))])


def test_k_auto_finds_five_groups_of_unequal_sizes_in_the_default_range():
    X = _unequal_blobs()
    choice = choose_k(X)  # default range 2..11 for 235 tracks
    assert choice.k_values == tuple(range(2, 12))
    assert choice.k == choice.peak_k == 5 and not choice.used_prior
    assert choice.scores[3] > STRUCTURE_SILHOUETTE
    labels = KMeansClusterer(choice.k).fit(X).labels_
    assert np.bincount(labels).tolist() == [120, 60, 30, 15, 10]


def test_weak_structure_takes_the_library_size_prior():
    X = np.random.default_rng(5).normal(size=(200, 12))  # one Gaussian cloud: no preferred k
    choice = choose_k(X, k_values=range(2, 16))
    assert max(choice.scores) < STRUCTURE_SILHOUETTE
    assert choice.used_prior and choice.prior_k == size_prior_k(200) == 10 and choice.k == 10
    assert "library-size prior round(sqrt(n / 2)) = 10" in choice.criterion
    assert not choice.at_edge and choice.edge_warning() is None  # 10 lies inside 2..15: nothing to warn
    assert choose_k(X).k == 10 and choose_k(X).edge_warning() is None  # the default range 2..10 ends at the prior
    clipped = choose_k(X, k_values=range(2, 7))
    assert clipped.k == 6 and clipped.at_edge
    assert "sqrt(n / 2) = 10, clipped to the range 2..6: k = 6" in clipped.edge_warning()


def test_size_prior_by_library_size():
    assert [size_prior_k(n) for n in (3, 40, 222, 20_000, 1_000_000)] == [2, 4, 11, 100, 707]
