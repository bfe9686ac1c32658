from itertools import combinations

import numpy as np
import pytest

from playlists.quality import METRICS, playlist_metrics, step_distances


def _cos_dist(a, b):
    return 1 - np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))


def test_metrics_against_a_plain_computation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5))
    seeds = rng.normal(size=(2, 5))
    artists = ["A", "B", "A", None, "C", "c", "B"]
    m = playlist_metrics(x, seed_embeddings=seeds, artists=artists)
    steps = [_cos_dist(x[i], x[i + 1]) for i in range(6)]
    assert m["mean_step"] == pytest.approx(np.mean(steps), abs=1e-6)
    assert m["max_step"] == pytest.approx(np.max(steps), abs=1e-6)
    assert m["seed_distance"] == pytest.approx(np.mean([min(_cos_dist(v, s) for s in seeds) for v in x]), abs=1e-6)
    assert m["spread"] == pytest.approx(np.mean([_cos_dist(x[i], x[j]) for i, j in combinations(range(7), 2)]),
                                        abs=1e-6)
    # A again, c == C after normalisation, B again: 3 repeats of 7; None never repeats
    assert m["artist_repetition"] == pytest.approx(3 / 7)
    assert m["adjacent_same_artist"] == 1.0  # C, c
    assert m["n_tracks"] == 7.0
    assert set(m) == set(METRICS)


def test_without_seeds_coherence_is_measured_to_the_playlists_own_centre():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    m = playlist_metrics(x)
    assert m["seed_distance"] == pytest.approx(1 - np.cos(np.pi / 4))


def test_short_playlists():
    assert playlist_metrics(np.zeros((0, 3)))["mean_step"] == 0.0
    one = playlist_metrics(np.ones((1, 3)))
    assert one["spread"] == 0.0 and one["max_step"] == 0.0 and one["n_tracks"] == 1.0
    assert step_distances(np.ones((1, 3))).shape == (0,)
