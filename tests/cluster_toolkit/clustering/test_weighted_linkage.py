import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, is_valid_linkage, linkage
from sklearn.metrics import adjusted_rand_score

from cluster_toolkit.clustering.weighted_linkage import weighted_linkage
from cluster_toolkit.errors import ClusteringError


def _points(m, d, seed):
    return np.random.default_rng(seed).normal(size=(m, d))


@pytest.mark.parametrize("method", ["ward", "average"])
def test_unit_counts_give_scipys_tree(method):
    x = _points(60, 5, seed=0)
    z = weighted_linkage(x, np.ones(60), method=method)
    ref = linkage(x, method=method)
    assert is_valid_linkage(z)
    np.testing.assert_allclose(z[:, 2], ref[:, 2], rtol=1e-10)
    np.testing.assert_array_equal(z[:, 3], ref[:, 3])
    for k in (2, 3, 7, 20):
        a = fcluster(z, t=k, criterion="maxclust")
        b = fcluster(ref, t=k, criterion="maxclust")
        assert adjusted_rand_score(a, b) == 1.0


@pytest.mark.parametrize("method", ["ward", "average"])
def test_counts_equal_repeating_the_points(method):
    """A point standing for c points links exactly like c copies of it (above the copies' zero merges)."""
    x = _points(25, 4, seed=1)
    counts = np.random.default_rng(2).integers(1, 6, size=25)
    repeated = np.repeat(x, counts, axis=0)
    ref = linkage(repeated, method=method)
    z = weighted_linkage(x, counts, method=method)
    n_zero = counts.sum() - 25
    np.testing.assert_allclose(ref[:n_zero, 2], 0.0, atol=1e-12)
    np.testing.assert_allclose(z[:, 2], ref[n_zero:, 2], rtol=1e-9)
    assert z[-1, 3] == 25  # centroids under the merge, as fcluster expects
    owner = np.repeat(np.arange(25), counts)
    for k in (2, 4, 9):
        ours = fcluster(z, t=k, criterion="maxclust")[owner]
        theirs = fcluster(ref, t=k, criterion="maxclust")
        assert adjusted_rand_score(ours, theirs) == 1.0


def test_weights_change_ward_where_unweighted_centroids_mislead():
    # one heavy micro-cluster at 0, light ones at 1 and 1.2: weighted Ward merges the light pair first and
    # keeps the heavy one apart; the weights appear in the heights (2ab/(a+b) scaling)
    x = np.array([[0.0], [1.0], [1.2]])
    z = weighted_linkage(x, np.array([1000, 1, 1]), method="ward")
    assert z[0, :2].tolist() == [1, 2] and z[0, 2] == pytest.approx(0.2)
    # merging {1, 2} (centroid 1.1, size 2) with 1000 points at 0: d^2 = 2 * 2000 / 1002 * 1.1^2
    assert z[1, 2] == pytest.approx(np.sqrt(2 * 2 * 1000 / 1002 * 1.1**2))
    assert z[1, 3] == 3


def test_complete_and_single_do_not_depend_on_counts():
    x = _points(30, 3, seed=3)
    for method in ("complete", "single"):
        np.testing.assert_array_equal(weighted_linkage(x, np.arange(1, 31), method=method), linkage(x, method))


def test_errors():
    with pytest.raises(ClusteringError, match="positive counts"):
        weighted_linkage(np.eye(3), np.array([1, 0, 1]))
    with pytest.raises(ClusteringError, match="ward needs metric='euclidean'"):
        weighted_linkage(np.eye(3), np.ones(3), metric="cosine")
