import numpy as np
import pytest

from embeddings.errors import ConfigError
from playlists.errors import PlaylistError
from playlists.neighbours import IndexConfig, NeighbourIndex, build_index, measure_recall


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_index_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 16)).astype(np.float32)
    q = rng.normal(size=(5, 16)).astype(np.float32)
    index = build_index(x)
    assert index.kind == "exact" and index.ntotal == 500
    scores, ids = index.search(q, 10)
    truth = np.argsort(-(q @ x.T), axis=1)[:, :10]
    assert np.array_equal(ids, truth)
    assert np.allclose(scores, np.take_along_axis(q @ x.T, truth, axis=1), atol=1e-4)
    assert index.search(q[0], 1000)[1].shape == (1, 500)  # k capped at ntotal


def test_auto_switches_to_approximate_above_the_threshold_and_recall_is_measured():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, 32))
    x = _unit(centres[rng.integers(0, 20, 4000)] + 0.5 * rng.normal(size=(4000, 32)))
    q = _unit(rng.normal(size=(50, 32)))
    small = NeighbourIndex(x[:1000], IndexConfig(exact_max=1000))
    assert small.kind == "exact"
    assert measure_recall(small, x[:1000], q, k=10) == 1.0
    ivf = NeighbourIndex(x, IndexConfig(exact_max=1000, nprobe=2))
    assert ivf.kind == "ivf" and ivf.index.nlist == 63  # sqrt(4000) lists
    recall_ivf = measure_recall(ivf, x, q, k=10)
    assert 0.3 <= recall_ivf < 1.0  # 2 of 63 lists: approximate, and measured as such
    # more probes never lose recall; probing every list is exact
    assert measure_recall(NeighbourIndex(x, IndexConfig(kind="ivf", nprobe=8)), x, q, k=10) >= recall_ivf
    assert measure_recall(NeighbourIndex(x, IndexConfig(kind="ivf", nprobe=63)), x, q, k=10) == 1.0
    hnsw = NeighbourIndex(x, IndexConfig(exact_max=1000, approximate="hnsw"))
    assert hnsw.kind == "hnsw"
    assert measure_recall(hnsw, x, q, k=10) >= 0.95


def test_errors():
    with pytest.raises(ConfigError, match="kind='lsh'"):
        IndexConfig(kind="lsh")
    with pytest.raises(PlaylistError, match="non-empty"):
        NeighbourIndex(np.zeros((0, 4)))
    with pytest.raises(PlaylistError, match="dimension 3"):
        NeighbourIndex(np.eye(4)).search(np.ones((1, 3)), 1)
