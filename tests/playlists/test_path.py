import numpy as np
import pytest

from embeddings.errors import ConfigError
from playlists.errors import PlaylistError
from playlists.path import slerp, song_path
from playlists.rules import PlaylistRules


def test_slerp_moves_at_constant_angle():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    t = np.linspace(0, 1, 7)
    pts = slerp(a, b, t)
    assert np.allclose(np.linalg.norm(pts, axis=1), 1)
    assert np.allclose(pts[0], [1, 0, 0]) and np.allclose(pts[-1], [0, 1, 0])
    angles = np.arctan2(pts[:, 1], pts[:, 0])
    assert np.allclose(np.diff(angles), np.pi / 2 / 6)
    assert np.allclose(slerp(a, a * 3, 0.5), [1, 0, 0])
    with pytest.raises(PlaylistError, match="opposite"):
        slerp(a, -a, 0.5)


def arc_library(library_of, n: int = 40, seed: int = 0):
    """Tracks scattered around a quarter circle from A = angle 0 to B = angle pi/2, plus noise dims."""
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, np.pi / 2, n))
    angles[0], angles[-1] = 0.0, np.pi / 2
    emb = np.c_[np.cos(angles), np.sin(angles), 0.05 * rng.normal(size=(n, 2))]
    return library_of(emb), angles


def test_path_endpoints_exact_length_and_monotone_progress(library_of):
    lib, angles = arc_library(library_of)
    a, b = lib.track_ids[0], lib.track_ids[-1]
    pl = song_path(lib, a, b, length=12, rules=PlaylistRules(near_duplicate_distance=0.0))
    assert len(pl) == 12 and len(set(pl.track_ids)) == 12
    assert pl.track_ids[0] == a and pl.track_ids[-1] == b
    progress = angles[lib.indices(pl.track_ids)]
    assert np.all(np.diff(progress) >= 0)
    # each track sits near its slerp target (at most one library gap away)
    targets = np.linspace(0, np.pi / 2, 12)
    assert np.max(np.abs(progress - targets)) < 0.2
    assert pl.metrics["n_tracks"] == 12 and pl.params["start"] == a and pl.params["end"] == b


def test_path_is_never_a_shortcut_through_unused_tracks(clustered_library):
    lib, labels = clustered_library
    a, b = lib.track_ids[0], lib.track_ids[-1]
    pl = song_path(lib, a, b, length=15, rules=PlaylistRules(artist_window=2))
    assert len(pl) == 15 and len(set(pl.track_ids)) == 15 and set(pl.track_ids) <= set(lib.track_ids)
    assert pl.track_ids[0] == a and pl.track_ids[-1] == b
    # similarity to B grows from the start to the end on average
    emb = lib.embeddings[lib.indices(pl.track_ids)]
    to_b = emb @ lib.embeddings[-1]
    assert to_b[:5].mean() < to_b[-5:].mean()


def test_path_shortfall_and_errors(library_of):
    lib, _ = arc_library(library_of, n=5)
    pl = song_path(lib, lib.track_ids[0], lib.track_ids[-1], length=8, rules=PlaylistRules(near_duplicate_distance=0))
    assert len(pl) == 5 and pl.track_ids[-1] == lib.track_ids[-1]
    assert any(n.startswith("found 5 of 8 tracks") for n in pl.notices)
    two = song_path(lib, lib.track_ids[0], lib.track_ids[1], length=2)
    assert two.track_ids == lib.track_ids[:2]
    with pytest.raises(ConfigError, match="length=1"):
        song_path(lib, lib.track_ids[0], lib.track_ids[1], length=1)
    with pytest.raises(PlaylistError, match="same track"):
        song_path(lib, lib.track_ids[0], lib.track_ids[0], length=4)
