import matplotlib.image as mpimg
import numpy as np
import pytest
from scipy.cluster.hierarchy import linkage

from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.plots.dendrogram import cut_height, plot_dendrogram


def test_cut_height_lies_between_the_right_merges():
    Z = linkage(np.array([[0.0], [1.0], [10.0], [11.0], [30.0]]), method="single")
    # merge heights: 1, 1, 9, 19 -> 2 clusters between 9 and 19, 3 clusters between 1 and 9
    assert cut_height(Z, 2) == pytest.approx(14.0)
    assert cut_height(Z, 3) == pytest.approx(5.0)
    assert cut_height(Z, 1) is None and cut_height(Z, 9) is None


def test_plot_small_and_truncated(tmp_path):
    rng = np.random.default_rng(0)
    small = linkage(rng.normal(size=(8, 3)), method="ward")
    path = plot_dendrogram(small, tmp_path / "d.png", n_clusters=3, leaf_labels=[f"t{i}" for i in range(8)])
    assert mpimg.imread(path).shape[1] > 500
    big = linkage(rng.normal(size=(300, 3)), method="average")
    assert plot_dendrogram(big, tmp_path / "big.png", n_clusters=5, p=30).stat().st_size > 10_000
    with pytest.raises(ClusteringError, match="linkage matrix"):
        plot_dendrogram(np.zeros((3, 3)), tmp_path / "bad.png")


def test_truncated_leaves_are_named_by_their_majority_cluster():
    from cluster_toolkit.plots.dendrogram import _node_labeller

    X = np.r_[np.zeros((30, 2)), np.full((30, 2), 10.0)] + np.random.default_rng(1).normal(size=(60, 2)) * 0.1
    Z = linkage(X, method="ward")
    groups = np.repeat([0, 1], 30)
    label = _node_labeller(Z, [f"Artist - Song {i}" for i in range(60)], groups, {0: "Flare 90%", 1: "Wesnoth 80%"})
    assert label(3) == "Artist - Song 3"
    left, right = int(Z[-1, 0]), int(Z[-1, 1])  # the two halves under the root
    assert {label(left), label(right)} == {"(30) Flare 90%", "(30) Wesnoth 80%"}
