import numpy as np

from cluster_toolkit.clustering.auto_params import choose_eps, choose_k
from cluster_toolkit.plots.auto_params import plot_k_curve, plot_k_distance
from tests.pictures import assert_drawn, colour_mask

BLUE, GREY, GREEN, RED = "#3a6ea5", "#999999", "#2a9d8f", "#d1495b"  # the curves, the chosen k or eps


def test_plot_k_curve_draws_the_curves_and_the_chosen_k(make_blobs, tmp_path):
    X, _ = make_blobs(300, 5, 16, seed=7)
    choice = choose_k(X, k_values=range(2, 9), method="kmeans")
    image = assert_drawn(plot_k_curve(choice, tmp_path / "k.png"), size=(385, 660), colours=(BLUE, GREY, GREEN, RED))
    assert colour_mask(image, RED).sum(axis=0).max() > 0.3 * image.shape[0]  # the chosen k: a vertical line


def test_plot_k_distance_draws_the_curve_and_eps(make_blobs, tmp_path):
    X, _ = make_blobs(400, 4, 8, spread=0.02, seed=8)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    choice = choose_eps(X, min_samples=5)
    image = assert_drawn(plot_k_distance(choice, tmp_path / "eps.png"), size=(385, 660), colours=(BLUE, RED))
    assert colour_mask(image, RED).sum(axis=1).max() > 0.3 * image.shape[1]  # eps: a horizontal line across
