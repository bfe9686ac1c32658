import numpy as np

from cluster_toolkit.clustering.auto_params import choose_eps, choose_k
from cluster_toolkit.plots.auto_params import plot_k_curve, plot_k_distance

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_k_curve_writes_a_png(make_blobs, tmp_path):
    X, _ = make_blobs(300, 5, 16, seed=7)
    choice = choose_k(X, k_values=range(2, 9), method="kmeans")
    path = plot_k_curve(choice, tmp_path / "k.png")
    assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5_000


def test_plot_k_distance_writes_a_png(make_blobs, tmp_path):
    X, _ = make_blobs(400, 4, 8, spread=0.02, seed=8)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    choice = choose_eps(X, min_samples=5)
    path = plot_k_distance(choice, tmp_path / "eps.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
