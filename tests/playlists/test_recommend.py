import numpy as np
import pandas as pd
import pytest

from embeddings.errors import ConfigError
from playlists.errors import PlaylistError
from playlists.neighbours import IndexConfig
from playlists.recommend import recommend, sample_fragments, similar
from playlists.rules import PlaylistRules


def fragment_store(lib, n_per: int = 5, seed: int = 0, noise: float = 0.3):
    """Fragments scattered around each track's vector: ``(fragments table, (m, dim) matrix)``."""
    rng = np.random.default_rng(seed)
    rows, vecs = [], []
    for i, tid in enumerate(lib.track_ids):
        k = 1 + (i % n_per)  # tracks of different lengths
        for f in range(k):
            rows.append({"track_id": tid, "fragment_index": f, "start_s": 10.0 * f, "split": "train"})
            vecs.append(lib.embeddings[i] + noise * rng.normal(size=lib.embeddings.shape[1]))
    return pd.DataFrame(rows), np.asarray(vecs, dtype=np.float32)


def brute_force(frags, vecs, liked, sample, n):
    """Reference: loop over fragments, sum distances to the sample, best fragment per song."""
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    best = {}
    for row in range(len(frags)):
        tid = frags["track_id"].iat[row]
        if tid in liked:
            continue
        total = sum(1.0 - float(unit[row] @ unit[s]) for s in sample)
        if tid not in best or total < best[tid][0]:
            best[tid] = (total, row)
    ranked = sorted(best.items(), key=lambda kv: kv[1][0])[:n]
    return [(tid, total / len(sample), row) for tid, (total, row) in ranked]


def test_recommendations_match_the_brute_force_reference(clustered_library):
    lib, labels = clustered_library
    frags, vecs = fragment_store(lib)
    liked = [lib.track_ids[i] for i in (3, 7, 50)]
    rules = PlaylistRules(near_duplicate_distance=0.0)
    rec = recommend(lib, frags, vecs, liked, n=8, sample_size=10, rules=rules, seed=4)
    sample = sample_fragments(frags["track_id"], liked, sample_size=10, seed=4)
    ref = brute_force(frags, vecs, set(liked), sample, 8)
    assert rec.playlist.track_ids == [tid for tid, _, _ in ref]
    assert rec.picks["distance"].to_numpy() == pytest.approx([d for _, d, _ in ref], abs=1e-5)
    assert rec.picks["fragment_start_s"].tolist() == [frags["start_s"].iat[row] for _, _, row in ref]
    assert not set(liked) & set(rec.playlist.track_ids)
    assert rec.playlist.method == "recommend" and len(rec.playlist) == 8
    assert len(sample) == 8  # the three liked songs have 4 + 3 + 1 fragments
    assert rec.playlist.params["sample_size"] == 8 and rec.playlist.params["index"] == "exact"


def test_explanations_name_the_closest_liked_song_and_tags(clustered_library):
    lib, labels = clustered_library
    frags, vecs = fragment_store(lib)
    liked = [lib.track_ids[0], lib.track_ids[200]]  # clusters 0 and 5
    rec = recommend(lib, frags, vecs, liked, n=6, sample_size=64)
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    liked_rows = np.flatnonzero(frags["track_id"].isin(liked).to_numpy())
    for pick in rec.picks.itertuples():
        row = np.flatnonzero((frags["track_id"] == pick.track_id).to_numpy()
                             & (frags["fragment_index"] == pick.fragment_index).to_numpy())[0]
        sims = unit[liked_rows] @ unit[row]
        assert pick.closest_liked_id == frags["track_id"].iat[liked_rows[np.argmax(sims)]]
        assert pick.closest_liked_distance == pytest.approx(1 - sims.max(), abs=1e-5)
        assert pick.closest_liked_start_s == frags["start_s"].iat[liked_rows[np.argmax(sims)]]
        i = lib.track_ids.index(pick.track_id)
        assert (pick.artist, pick.title, pick.genre) == tuple(lib.tracks.loc[i, ["artist", "title", "genre"]])
        assert pick.closest_liked.startswith("Artist ")
        # the picks come from the liked songs' clusters
        assert labels[i] in (0, 5)
    assert rec.liked["track_id"].tolist() == liked
    assert rec.liked["n_fragments"].tolist() == [1, 1]
    assert set(rec.liked.columns) >= {"artist", "title", "album", "genre", "n_sampled"}


def test_near_duplicates_of_liked_songs_are_excluded(library_of):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(30, 8))
    titles = [f"Song {i}" for i in range(30)]
    artists = [f"Artist {i}" for i in range(30)]
    titles[1], artists[1] = "Song 0 (Remastered)", "Artist 0"  # the liked song, another file
    emb[1] = emb[0] + 0.01
    lib = library_of(emb, titles=titles, artists=artists)
    frags, vecs = fragment_store(lib, n_per=1, noise=0.001)
    rec = recommend(lib, frags, vecs, [lib.track_ids[0]], n=5)
    assert lib.track_ids[1] not in rec.playlist.track_ids
    assert any("near-duplicate" in n for n in rec.playlist.notices)
    kept = recommend(lib, frags, vecs, [lib.track_ids[0]], n=5, rules=PlaylistRules(allow_near_duplicates=True))
    assert kept.playlist.track_ids[0] == lib.track_ids[1]


def test_similar_is_the_one_seed_case_and_approximate_index_agrees(clustered_library):
    lib, labels = clustered_library
    frags, vecs = fragment_store(lib)
    a = similar(lib, frags, vecs, lib.track_ids[10], n=10)
    b = recommend(lib, frags, vecs, [lib.track_ids[10]], n=10)
    assert a.playlist.method == "similar" and a.playlist.track_ids == b.playlist.track_ids
    approx = similar(lib, frags, vecs, lib.track_ids[10], n=10, index_config=IndexConfig(exact_max=100))
    assert approx.playlist.params["index"] == "ivf"
    assert len(set(approx.playlist.track_ids) & set(a.playlist.track_ids)) >= 9


def test_artist_window_and_shortfall(library_of):
    rng = np.random.default_rng(2)
    emb = rng.normal(size=(12, 6))
    lib = library_of(emb, artists=["Same"] * 10 + ["Other", "Third"])
    frags, vecs = fragment_store(lib, n_per=1)
    rec = recommend(lib, frags, vecs, [lib.track_ids[0]], n=8, rules=PlaylistRules(artist_window=1))
    names = rec.picks["artist"].tolist()
    assert all(x != y for x, y in zip(names[:-1], names[1:], strict=True))
    assert len(rec.playlist) < 8 and any(n.startswith(f"found {len(rec.playlist)} of 8") for n in rec.playlist.notices)


def test_sample_is_balanced_and_errors(clustered_library):
    ids = ["a"] * 10 + ["b"] * 2 + ["c"] * 5
    rows = sample_fragments(ids, ["a", "b"], sample_size=6, seed=0)
    picked = [ids[r] for r in rows]
    assert picked.count("b") == 2 and picked.count("a") == 4
    lib, _ = clustered_library
    frags, vecs = fragment_store(lib)
    with pytest.raises(ConfigError, match="n=0"):
        recommend(lib, frags, vecs, lib.track_ids[:1], n=0)
    with pytest.raises(PlaylistError, match="no liked songs"):
        recommend(lib, frags, vecs, [], n=3)
    with pytest.raises(PlaylistError, match="have no fragments"):
        recommend(lib, frags[frags.track_id != lib.track_ids[0]].reset_index(drop=True),
                  vecs[(frags.track_id != lib.track_ids[0]).to_numpy()], lib.track_ids[:1], n=3)
