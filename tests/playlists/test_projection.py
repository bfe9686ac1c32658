import numpy as np
import pytest

from embeddings.errors import ConfigError
from playlists.errors import PlaylistError
from playlists.projection import ProjectionConfig, l2_normalise, project


def test_pca_keeps_the_main_directions():
    rng = np.random.default_rng(0)
    # variance along 3 axes only, on unit vectors around a mean direction
    base = np.zeros(12)
    base[0] = 5.0
    x = base + np.c_[3 * rng.normal(size=(200, 1)), 2 * rng.normal(size=(200, 1)), rng.normal(size=(200, 1)),
                     np.zeros((200, 9))]
    proj = project(x, ProjectionConfig(n_components=4))
    assert proj.points.shape == (200, 4) and proj.method == "pca" and proj.notices == ()
    var = proj.points.var(axis=0)
    assert np.all(np.diff(var) <= 1e-12) and var[3] < 1e-10  # the 4th direction carries nothing


def test_small_libraries_get_zero_columns_and_a_notice():
    proj = project(np.eye(3), ProjectionConfig(n_components=5))
    assert proj.points.shape == (3, 5)
    assert np.allclose(proj.points[:, 2:], 0)
    assert "only 2 of the 5" in proj.notices[0]
    single = project(np.ones((1, 4)), ProjectionConfig(n_components=2))
    assert np.allclose(single.points, 0)


def test_umap_projection_and_its_fallback():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 4
    x = np.repeat(centres, 20, axis=0) + rng.normal(size=(60, 16))
    proj = project(x, ProjectionConfig(method="umap", n_components=2, n_neighbors=10))
    assert proj.method == "umap" and proj.points.shape == (60, 2)
    # the three groups stay apart: each point's nearest neighbour is in its own group
    d = np.linalg.norm(proj.points[:, None] - proj.points[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert np.mean(np.argmin(d, axis=1) // 20 == np.arange(60) // 20) > 0.95
    tiny = project(x[:8], ProjectionConfig(method="umap", n_components=2, n_neighbors=10))
    assert tiny.method == "pca" and "used PCA" in tiny.notices[-1]


def test_config_and_input_validation():
    with pytest.raises(ConfigError, match="n_components=9"):
        ProjectionConfig(n_components=9)
    with pytest.raises(ConfigError, match="method='tsne'"):
        ProjectionConfig(method="tsne")
    with pytest.raises(PlaylistError, match="empty"):
        project(np.zeros((0, 4)))
    with pytest.raises(PlaylistError, match="non-finite"):
        project(np.array([[np.nan, 1.0], [1.0, 2.0]]))
    assert np.allclose(np.linalg.norm(l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]])), axis=1), [1, 0])
