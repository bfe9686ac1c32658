from itertools import permutations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from playlists.errors import PlaylistError
from playlists.tour import nearest_neighbour_tour, path_length, tour, two_opt


def _best_open_path(dist: np.ndarray, start: int) -> float:
    others = [i for i in range(len(dist)) if i != start]
    return min(path_length(np.array([start, *p]), dist) for p in permutations(others))


def test_nearest_neighbour_follows_a_line():
    x = np.array([0.0, 3.0, 1.0, 7.0, 2.0, 5.0])[:, None]
    order = nearest_neighbour_tour(cdist(x, x), start=0)
    assert x[order, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 5.0, 7.0]


def test_two_opt_removes_a_crossing():
    # corners of a unit square visited crosswise: 0 -> 2 -> 1 -> 3 crosses itself
    pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    dist = cdist(pts, pts)
    crossed = np.array([0, 2, 1, 3])
    fixed = two_opt(crossed, dist)
    assert fixed[0] == 0
    assert path_length(fixed, dist) == pytest.approx(3.0)  # three sides of the square
    assert path_length(crossed, dist) == pytest.approx(1 + 2 * np.sqrt(2))


@pytest.mark.parametrize("seed", range(5))
def test_tour_is_a_permutation_from_the_start_and_never_longer_than_greedy(seed):
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(8, 3))
    dist = cdist(pts, pts)
    start = int(rng.integers(0, 8))
    greedy = nearest_neighbour_tour(dist, start)
    improved = tour(dist, start)
    assert sorted(improved.tolist()) == list(range(8))
    assert improved[0] == start
    assert path_length(improved, dist) <= path_length(greedy, dist) + 1e-12
    # 2-opt is a heuristic: within 20 % of the optimum found by brute force on 8 points
    assert path_length(improved, dist) <= 1.2 * _best_open_path(dist, start) + 1e-12


def test_points_on_a_circle_are_walked_around_it():
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    pts = np.c_[np.cos(angles), np.sin(angles)]
    perm = np.random.default_rng(1).permutation(12)
    dist = cdist(pts[perm], pts[perm])
    order = tour(dist, start=int(np.flatnonzero(perm == 0)[0]))
    chord = 2 * np.sin(np.pi / 12)  # distance between neighbours on the circle
    assert np.allclose(dist[order[:-1], order[1:]], chord)
    assert path_length(order, dist) == pytest.approx(11 * 2 * np.sin(np.pi / 12))


def test_small_and_bad_inputs():
    assert tour(np.zeros((1, 1)), 0).tolist() == [0]
    assert tour(np.zeros((0, 0)), 0).tolist() == []
    with pytest.raises(PlaylistError, match="square"):
        tour(np.zeros((2, 3)), 0)
    with pytest.raises(PlaylistError, match="start=5"):
        tour(np.zeros((3, 3)), 5)
