import numpy as np
import pytest

from playlists.errors import PlaylistError
from playlists.onion import onion_layers, onion_walk
from playlists.rules import PlaylistRules

# toy geometries put distinct points within the default near-duplicate distance: test it on its own
TOY = PlaylistRules(near_duplicate_distance=0.0)


def lift(points2d: np.ndarray, height: float = 10.0) -> np.ndarray:
    """Embed planar toy points as 3-D vectors whose cosine geometry follows the plane."""
    return np.c_[points2d, np.full(len(points2d), height)]


def nested_squares():
    square = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=float)
    return np.vstack([3 * square, 2 * square, 1 * square, [[0.0, 0.0]]])


def test_onion_layers_of_nested_squares():
    pts = nested_squares()
    layers, notices = onion_layers(pts)
    assert [layer.tolist() for layer in layers] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12]]
    assert notices == []


def test_edge_midpoints_are_not_hull_vertices():
    corners = np.array([[2, 2], [-2, 2], [-2, -2], [2, -2]], dtype=float)
    mids = np.array([[2, 0], [0, 2], [-2, 0], [0, -2]], dtype=float)
    layers, _ = onion_layers(np.vstack([corners, mids, [[0, 0]]]))
    assert [layer.tolist() for layer in layers] == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]


def test_onion_walk_goes_from_the_edge_to_the_core_and_back(library_of):
    pts = nested_squares()
    lib = library_of(lift(pts))
    ids = lib.track_ids
    inward = onion_walk(lib, ids, length=13, points=pts, rules=TOY)
    layer_of = {t: i // 4 for i, t in enumerate(ids)}
    assert [layer_of[t] for t in inward.track_ids] == [0] * 4 + [1] * 4 + [2] * 4 + [3]
    outward = onion_walk(lib, ids, length=13, points=pts, outward=True, rules=TOY)
    assert [layer_of[t] for t in outward.track_ids] == [3] + [2] * 4 + [1] * 4 + [0] * 4
    assert inward.params["layer_sizes"] == [4, 4, 4, 1]
    # each layer is walked around the square, not across it: side steps only
    xy = {t: pts[i] for i, t in enumerate(ids)}
    first_layer = [xy[t] for t in inward.track_ids[:4]]
    steps = [np.linalg.norm(a - b) for a, b in zip(first_layer[:-1], first_layer[1:])]
    assert steps == pytest.approx([6.0, 6.0, 6.0])


def test_onion_walk_shorter_than_the_cluster_takes_every_layer_in_proportion(library_of):
    pts = nested_squares()
    lib = library_of(lift(pts))
    pl = onion_walk(lib, lib.track_ids, length=6, points=pts, rules=TOY)
    layer_of = {t: i // 4 for i, t in enumerate(lib.track_ids)}
    assert [layer_of[t] for t in pl.track_ids] == [0, 0, 1, 1, 2, 2]
    # the two picks of a layer are opposite corners (evenly spaced along the layer's tour)
    xy = {t: pts[i] for i, t in enumerate(lib.track_ids)}
    assert np.linalg.norm(xy[pl.track_ids[0]] - xy[pl.track_ids[1]]) == pytest.approx(6 * np.sqrt(2))


def test_collinear_cluster_is_peeled_from_both_ends(library_of):
    pts = np.c_[np.arange(7.0), np.arange(7.0) * 0.5, np.zeros(7)]
    lib = library_of(lift(pts[:, :2]))
    layers, notices = onion_layers(pts)
    assert [sorted(layer.tolist()) for layer in layers] == [[0, 6], [1, 5], [2, 4], [3]]
    assert "span only 1 of d=3" in notices[0]
    pl = onion_walk(lib, lib.track_ids, length=7, points=pts, rules=TOY)
    assert len(pl) == 7 and set(pl.track_ids[:2]) == {lib.track_ids[0], lib.track_ids[6]}
    assert any("span only 1" in n for n in pl.notices)


def test_tiny_cluster_is_one_layer_with_a_notice(library_of):
    lib = library_of(np.random.default_rng(0).normal(size=(20, 8)))
    pl = onion_walk(lib, lib.track_ids[:3], length=5, label="cluster 7 of run r")
    assert sorted(pl.track_ids) == sorted(lib.track_ids[:3])
    assert any("fewer than d + 2" in n for n in pl.notices)
    assert any(n.startswith("found 3 of 5 tracks: cluster 7 of run r has 3 tracks") for n in pl.notices)


def test_onion_invariants_on_a_real_cluster(clustered_library):
    lib, labels = clustered_library
    members = [lib.track_ids[i] for i in np.flatnonzero(labels == 2)]
    pl = onion_walk(lib, members, length=25)
    assert len(pl) == 25 and len(set(pl.track_ids)) == 25 and set(pl.track_ids) <= set(members)
    assert pl.params["n_layers"] >= 2
    # edge to core: the first tracks are farther from the cluster centre than the last ones
    emb = lib.embeddings[lib.indices(pl.track_ids)]
    centre = lib.embeddings[lib.indices(members)].mean(axis=0)
    far = 1 - emb @ centre / np.linalg.norm(centre)
    assert far[:5].mean() > far[-5:].mean()
    with pytest.raises(PlaylistError, match="has no tracks"):
        onion_walk(lib, [], length=3)
