import matplotlib.image as mpimg
import numpy as np
import pytest

from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.plots.similarity_heatmap import (
    colour_limits,
    cosine_similarity_matrix,
    plot_similarity_heatmap,
)


def test_cosine_similarity_by_hand():
    sim = cosine_similarity_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]]))
    np.testing.assert_allclose(sim, [[1, 0.5**0.5, 0], [0.5**0.5, 1, -(0.5**0.5)], [0, -(0.5**0.5), 1]])


def test_heatmap_png_and_errors(tmp_path):
    X = np.random.default_rng(0).normal(size=(5, 4))
    path = plot_similarity_heatmap(X, [f"Artist - Song {i}" for i in range(5)], tmp_path / "h.png")
    assert mpimg.imread(path).shape[0] > 300
    with pytest.raises(ClusteringError, match="4 names for 5 tracks"):
        plot_similarity_heatmap(X, ["a"] * 4, tmp_path / "x.png")
    with pytest.raises(ClusteringError, match="choose 2 to 60 tracks, got 1"):
        plot_similarity_heatmap(X[:1], ["a"], tmp_path / "x.png")


def test_colour_scale_spans_the_off_diagonal_range():
    sim = np.array([[1.0, 0.62, 0.7], [0.62, 1.0, 0.95], [0.7, 0.95, 1.0]])
    assert colour_limits(sim) == (0.62, 0.95)  # not 0..1: a 0.6-1.0 library uses the whole colour map
    assert colour_limits(np.ones((3, 3))) == (0.9, 1.0)
