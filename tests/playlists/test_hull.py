import numpy as np
import pytest

from embeddings.errors import ConfigError
from playlists.errors import PlaylistError
from playlists.hull import (
    count_within_hull,
    distance_to_convex_set,
    hull_walk,
    library_scale,
    seed_hull_distances,
    seed_span_distances,
)
from playlists.rules import PlaylistRules

# toy geometries put distinct points within the default near-duplicate distance: test it on its own
TOY = PlaylistRules(near_duplicate_distance=0.0)


def lift(points2d: np.ndarray, height: float = 10.0) -> np.ndarray:
    """Embed planar toy points as 3-D vectors whose cosine geometry follows the plane."""
    return np.c_[points2d, np.full(len(points2d), height)]


def square_with_inside_and_outside():
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float)
    inside = np.array([[0, 0], [0.5, 0.5], [-0.5, 0.2], [0.3, -0.7], [-0.8, -0.8]])
    outside = np.array([[3, 0], [0, 3], [-3, -3], [2.5, 2.5], [0, -4]], dtype=float)
    return np.vstack([corners, inside, outside])


# ---------------------------------------------------------------- hull geometry


def test_facet_distance_of_the_square_hull():
    pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [0, 0], [3, 0], [0, -1.5]], dtype=float)
    dist, notices = seed_hull_distances(pts, [0, 1, 2, 3])
    assert notices == []
    assert dist.tolist() == pytest.approx([0, 0, 0, 0, 0, 2.0, 0.5])


def test_one_seed_is_a_ball_two_seeds_a_capsule():
    pts = np.array([[0, 0], [1, 0], [0, 1], [2, 0], [3, 4]], dtype=float)
    dist, notices = seed_hull_distances(pts, [0])
    assert dist.tolist() == pytest.approx([0, 1, 1, 2, 5])
    assert "1 seed cannot span a hull in d=2" in notices[0] and "ball" in notices[0]
    dist, notices = seed_hull_distances(pts, [0, 3])  # segment from (0,0) to (2,0)
    assert dist.tolist() == pytest.approx([0, 0, 1, 0, np.hypot(1, 4)], abs=1e-6)
    assert "capsule" in notices[0]


def test_collinear_seeds_fall_back_with_a_notice():
    pts = np.array([[0, 0], [1, 1], [2, 2], [1, 0], [5, 5]], dtype=float)
    dist, notices = seed_hull_distances(pts, [0, 1, 2])  # three seeds >= d + 1 but on a line
    assert "flat" in notices[0] and "1 of d=2" in notices[0]
    assert dist.tolist() == pytest.approx([0, 0, 0, np.sqrt(0.5), np.hypot(3, 3)], abs=1e-6)


def test_distance_to_a_triangle_in_3d_matches_dense_sampling():
    rng = np.random.default_rng(3)
    tri = rng.normal(size=(3, 3))
    w = rng.dirichlet(np.ones(3), size=20000)
    dense = w @ tri
    queries = rng.normal(size=(15, 3)) * 2
    exact = distance_to_convex_set(queries, tri)
    sampled = np.min(np.linalg.norm(queries[:, None, :] - dense[None], axis=2), axis=1)
    assert np.all(exact <= sampled + 1e-9)
    assert np.allclose(exact, sampled, atol=0.03)


def segment_and_probes():
    """Two seeds a, b in 16-d and probes: on the segment at 0.7, on its line at 1.5, 2.0 beside its middle."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=16), rng.normal(size=16)
    normal = rng.normal(size=16)
    normal -= normal @ (b - a) / ((b - a) @ (b - a)) * (b - a)
    normal /= np.linalg.norm(normal)
    pts = np.vstack([a, b, 0.3 * a + 0.7 * b, a + 1.5 * (b - a), 0.5 * (a + b) + 2.0 * normal])
    return pts, np.linalg.norm(b - a)


def test_two_seeds_make_a_segment_hull_in_their_own_span():
    pts, length = segment_and_probes()
    dist, coords, info, notices = seed_span_distances(pts, [0, 1])
    assert info == {"space": "seeds", "dims": 1, "of": 16, "vertices": 2}
    assert dist.tolist() == pytest.approx([0, 0, 0, 0.5 * length, 2.0], abs=1e-6)
    assert coords.shape == (5, 1) and "a segment" in notices[-1] and "1 of 16 dimensions" in notices[-1]


def test_three_seeds_make_a_triangle_hull_and_only_its_inside_has_distance_zero():
    rng = np.random.default_rng(1)
    tri = rng.normal(size=(3, 32))
    inside = rng.dirichlet(np.ones(3), size=25) @ tri
    beyond = tri[0] + 0.5 * (tri[0] - tri[1:].mean(axis=0))  # in the plane, past a corner
    off = tri.mean(axis=0) + 0.7 * np.linalg.svd(tri - tri.mean(axis=0))[2][-1]  # above the centre
    pts = np.vstack([tri, inside, beyond, off])
    dist, coords, info, _ = seed_span_distances(pts, [0, 1, 2])
    assert info["dims"] == 2 and info["vertices"] == 3
    assert np.all(dist[:28] < 1e-6)
    assert dist[28] == pytest.approx(distance_to_convex_set(beyond[None], tri)[0], abs=1e-6) and dist[28] > 0.1
    assert dist[29] == pytest.approx(0.7, abs=1e-6)


def test_the_core_is_the_hull_shrunk_about_the_seeds_centroid():
    pts, length = segment_and_probes()
    half, _, _, _ = seed_span_distances(pts, [0, 1], shrink=0.5)  # the middle half of the segment
    assert half.tolist() == pytest.approx([0.25 * length, 0.25 * length, 0, 0.75 * length, 2.0], abs=1e-6)
    centre, _, _, _ = seed_span_distances(pts, [0, 1], shrink=0.0)  # the midpoint alone
    assert centre.tolist() == pytest.approx(np.linalg.norm(pts - pts[:2].mean(axis=0), axis=1).tolist(), abs=1e-6)
    with pytest.raises(ConfigError, match="shrink=1.5"):
        seed_span_distances(pts, [0, 1], shrink=1.5)


def test_count_within_hull_matches_the_exact_distances():
    rng = np.random.default_rng(1)
    tri = rng.normal(size=(3, 32))
    inside = rng.dirichlet(np.ones(3), size=10) @ tri
    others = tri.mean(axis=0) + rng.normal(size=(20, 32)) * np.linspace(0.01, 1.0, 20)[:, None]
    pts = np.vstack([tri, inside, others])
    dist, coords, _, _ = seed_span_distances(pts, [0, 1, 2])
    for radius in (1e-6, 0.1, 0.5, 2.0):
        assert count_within_hull(pts, [0, 1, 2], coords, radius) == np.count_nonzero(dist <= radius)


def test_a_two_seed_hull_walk_walks_the_segment_not_a_ball(library_of):
    a, b = np.zeros(12), np.zeros(12)
    a[0], b[1] = 1.0, 1.0
    along = [(1 - t) * a + t * b for t in (0.8, 0.2, 0.6, 0.4, 0.5)]  # on the segment, shuffled
    mid = 0.5 * (a + b)
    off = [mid + 0.5 * np.eye(12)[i] for i in range(2, 8)]  # beside its middle, 0.5 off the line
    lib = library_of(np.vstack([a, b, *along, *off]) + np.r_[np.zeros(11), 4.0])
    pl = hull_walk(lib, lib.track_ids[:2], length=7, rules=TOY)
    ids = lib.track_ids
    # the five tracks on the segment, walked from the first seed to the second in order along it
    assert pl.track_ids == [ids[0], ids[3], ids[5], ids[6], ids[4], ids[2], ids[1]]  # t = 0, .2, .4, .5, .6, .8, 1
    assert pl.params["hull_space"] == {"space": "seeds", "dims": 1, "of": 12, "vertices": 2}
    assert pl.params["selection"] == "core" and pl.params["core"] == 0.3
    assert any("the 2 seeds form a segment" in n for n in pl.notices)
    assert not any("ball" in n or "capsule" in n for n in pl.notices)


def test_a_three_seed_hull_walk_selects_the_triangle_not_a_ball(library_of):
    rng = np.random.default_rng(2)
    tri = np.eye(24)[:3] * 5 + 1.0  # three directions on the unit sphere after normalisation
    inside = rng.dirichlet(np.ones(3), size=12) @ tri
    near_centre_off_plane = tri.mean(axis=0) + rng.normal(size=(12, 24)) * 0.8
    lib = library_of(np.vstack([tri, inside, near_centre_off_plane]))
    pl = hull_walk(lib, lib.track_ids[:3], length=15, margin=0.02, rules=TOY)
    assert set(pl.track_ids) == set(lib.track_ids[:15])  # the seeds and the 12 tracks inside their triangle
    assert pl.params["hull_space"] == {"space": "seeds", "dims": 2, "of": 24, "vertices": 3}
    assert any("the 3 seeds form a triangle" in n for n in pl.notices)
    assert not any("ball" in n or "capsule" in n for n in pl.notices)


# ---------------------------------------------------------------- seed hull walk


def test_seed_hull_selects_exactly_the_points_inside(library_of):
    pts = square_with_inside_and_outside()
    lib = library_of(lift(pts))
    ids = lib.track_ids
    pl = hull_walk(lib, ids[:4], length=9, points=pts, margin=0.0, rules=TOY)
    assert sorted(pl.track_ids) == sorted(ids[:9])  # 4 corners + 5 inside, no outside point
    assert pl.track_ids[0] == ids[0]
    assert pl.notices == ["hull space: a 2-dimensional given projection of the whole library"]
    assert pl.params["inside_hull"] == 9 and pl.params["hull_space"]["space"] == "projection"
    assert pl.metrics["n_tracks"] == 9


def test_margin_admits_points_just_outside(library_of):
    pts = np.vstack([square_with_inside_and_outside(), [[1.2, 0.0]]])
    lib = library_of(lift(pts))
    scale = library_scale(pts)
    tight = hull_walk(lib, lib.track_ids[:4], length=20, points=pts, margin=0.1 / scale, rules=TOY)
    wide = hull_walk(lib, lib.track_ids[:4], length=20, points=pts, margin=0.25 / scale, rules=TOY)
    assert tight.params["inside_hull"] == 9 and wide.params["inside_hull"] == 10
    assert lib.track_ids[-1] in wide.track_ids


def test_too_few_inside_fills_with_the_nearest_outside(library_of):
    pts = square_with_inside_and_outside()
    lib = library_of(lift(pts))
    pl = hull_walk(lib, lib.track_ids[:4], length=11, points=pts, margin=0.0, rules=TOY)
    assert len(pl) == 11
    # facet offsets outside: (2.5,2.5) 1.5; (3,0), (0,3), (-3,-3) 2 (ties kept in library order); (0,-4) 3
    added = set(pl.track_ids) - set(lib.track_ids[:9])
    assert added == {lib.track_ids[12], lib.track_ids[9]}
    assert any("only 9 tracks inside the seed hull" in n for n in pl.notices)


def stretched_triangle(height: float = 50.0):
    """Two seeds close together and a third far out (the hull is stretched toward it); six tracks beside
    the seeds' centre, 0.6 off their plane; six tracks inside the hull but near the far seed; four far away."""

    def pt(x, y, off=(0.0, 0.0)):
        return [height, x, y, *off, 0.0]

    seeds = [pt(-1, 0), pt(1, 0), pt(0, 8)]
    near_centre = [pt(x, 2.0, off) for x in (-0.5, 0.0, 0.5) for off in ((0.6, 0.0), (0.0, 0.6))]
    far_tip = [pt(x, y) for x in (-0.3, 0.3) for y in (6.0, 6.5, 7.0)]
    far = [pt(6, -6), pt(-6, -6), pt(0, -9), pt(9, 3)]
    return np.array(seeds + near_centre + far_tip + far)


def test_core_selection_keeps_the_tracks_near_the_seeds_centre_over_far_ones_inside_a_stretched_hull(
    library_of,
):
    height = 50.0
    lib = library_of(stretched_triangle(height))
    ids = lib.track_ids
    near_centre, far_tip = set(ids[3:9]), set(ids[9:15])
    # in the input's units: the hull itself holds the far tip (its tracks bend off the plane by < 0.2 once
    # normalised); its core (shrunk to 0.3 about the centroid (0, 8/3)) is nearer the tracks at the centre
    hull = seed_span_distances(lib.embeddings, [0, 1, 2])[0] * height
    core = seed_span_distances(lib.embeddings, [0, 1, 2], shrink=0.3)[0] * height
    assert hull[3:9] == pytest.approx([0.61] * 6, abs=0.01) and hull[9:15].max() < 0.2
    assert core[3:9].max() < 0.65 and core[9:15].min() > 1.75
    margin = 0.35 / height / library_scale(lib.embeddings)  # admits the tip, not the tracks 0.6 off the plane
    picked = hull_walk(lib, ids[:3], length=9, margin=margin, rules=TOY)
    assert set(picked.track_ids) == set(ids[:3]) | near_centre  # precision 6/6 against the centre's group
    assert picked.params["inside_hull"] == 9  # the seeds and the far tip lie within the margin of the hull
    assert any("nearest the hull's core (the seed hull shrunk to 0.3" in n for n in picked.notices)
    former = hull_walk(lib, ids[:3], length=9, margin=margin, rules=TOY, selection="cover")
    assert set(former.track_ids) == set(ids[:3]) | far_tip  # 0/6: everything inside the stretched hull
    assert picked.track_ids[0] == former.track_ids[0] == ids[0]
    whole = hull_walk(lib, ids[:3], length=9, margin=margin, rules=TOY, core=1.0)  # nearest the hull itself
    assert set(whole.track_ids) == set(ids[:3]) | far_tip


def test_a_zero_core_ranks_like_nearest_to_centroid(clustered_library):
    lib, _ = clustered_library
    seeds = [0, 1, 45]
    centre = lib.embeddings[seeds].mean(axis=0)
    nearest = [i for i in np.argsort(-(lib.embeddings @ centre), kind="stable") if i not in seeds][:12]
    pl = hull_walk(lib, lib.ids(seeds), length=15, core=0.0, rules=PlaylistRules(near_duplicate_distance=0.0))
    assert set(pl.track_ids) == set(lib.ids(seeds + nearest))


def test_more_candidates_than_length_keeps_the_seeds_and_spans_the_hull(clustered_library):
    lib, labels = clustered_library
    seeds = lib.track_ids[:3] + lib.track_ids[40:43]  # two clusters
    pl = hull_walk(lib, seeds, length=15, margin=0.6)
    assert len(pl) == 15 and len(set(pl.track_ids)) == 15
    assert set(seeds) <= set(pl.track_ids)
    assert pl.track_ids[0] == seeds[0]
    assert pl.params["inside_hull"] > 15
    assert pl.params["hull_space"] == {"space": "seeds", "dims": 5, "of": lib.embeddings.shape[1], "vertices": 6}


@pytest.mark.parametrize("n_seeds", [1, 2, 3, 5])
def test_invariants_on_a_clustered_library(clustered_library, n_seeds):
    lib, labels = clustered_library
    rng = np.random.default_rng(n_seeds)
    seeds = [lib.track_ids[i] for i in rng.choice(len(lib), n_seeds, replace=False)]
    pl = hull_walk(lib, seeds, length=20, rules=PlaylistRules(artist_window=2), space="projection")
    assert len(pl) == 20  # exact length: the library has 240 tracks
    assert len(set(pl.track_ids)) == 20
    assert set(pl.track_ids) <= set(lib.track_ids)
    assert pl.track_ids[0] == seeds[0] and set(seeds) <= set(pl.track_ids)
    if n_seeds < 4:  # d = 3 needs 4 seeds
        assert any("cannot span a hull in d=3" in n for n in pl.notices)
    assert set(pl.metrics) >= {"mean_step", "max_step", "seed_distance", "spread", "artist_repetition"}


def test_near_duplicates_are_dropped_unless_allowed(library_of):
    pts = square_with_inside_and_outside()
    emb = lift(pts)
    emb[5] = emb[4] * 1.0001  # an embedding twin of the centre point
    titles = [f"Song {i}" for i in range(len(pts))]
    artists = [f"Artist {i}" for i in range(len(pts))]
    titles[6], artists[6] = "Song 7 (Remastered 2011)", "Artist 7"  # same recording as track 7
    lib = library_of(emb, titles=titles, artists=artists)
    twins = PlaylistRules(near_duplicate_distance=1e-6)
    pl = hull_walk(lib, lib.track_ids[:4], length=9, points=pts, margin=0.0, rules=twins)
    assert len(pl) == 9 and pl.params["inside_hull"] == 9
    assert not {lib.track_ids[4], lib.track_ids[5]} <= set(pl.track_ids)
    assert not {lib.track_ids[6], lib.track_ids[7]} <= set(pl.track_ids)
    assert any("only 7 tracks inside the seed hull" in n for n in pl.notices)
    allowed = hull_walk(lib, lib.track_ids[:4], length=9, points=pts, margin=0.0,
                        rules=PlaylistRules(allow_near_duplicates=True))
    assert sorted(allowed.track_ids) == sorted(lib.track_ids[:9])


def test_artist_window_holds(clustered_library, library_of):
    lib, _ = clustered_library
    artists = [f"Artist {i % 4}" for i in range(len(lib))]
    lib = library_of(lib.embeddings, artists=artists)
    pl = hull_walk(lib, lib.track_ids[:5], length=20, rules=PlaylistRules(artist_window=3))
    names = [artists[lib.track_ids.index(t)] for t in pl.track_ids]
    assert len(pl) == 20
    for i, name in enumerate(names):
        assert name not in names[max(0, i - 3) : i]


def test_short_library_says_how_many_were_found(library_of):
    lib = library_of(np.random.default_rng(0).normal(size=(6, 8)))
    pl = hull_walk(lib, lib.track_ids[:2], length=10)
    assert len(pl) == 6 and not pl.complete
    assert any(n.startswith("found 6 of 10 tracks") for n in pl.notices)


def test_bad_arguments(library_of):
    lib = library_of(np.eye(5))
    with pytest.raises(ConfigError, match="length=0"):
        hull_walk(lib, lib.track_ids[:1], length=0)
    with pytest.raises(PlaylistError, match="at least one seed"):
        hull_walk(lib, [], length=3)
    with pytest.raises(PlaylistError, match="not in the library"):
        hull_walk(lib, ["nope"], length=3)
    with pytest.raises(ConfigError, match="core=1.5"):
        hull_walk(lib, lib.track_ids[:2], length=3, core=1.5)
    with pytest.raises(ConfigError, match="selection='middle'"):
        hull_walk(lib, lib.track_ids[:2], length=3, selection="middle")
    with pytest.raises(ConfigError, match="needs the hull in the seeds' span"):
        hull_walk(lib, lib.track_ids[:2], length=3, points=lib.embeddings[:, :3], selection="core")
