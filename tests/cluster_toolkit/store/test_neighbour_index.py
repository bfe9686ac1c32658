import numpy as np
import pandas as pd
import pytest

from cluster_toolkit.store import LibraryStore
from cluster_toolkit.store import neighbour_index as ni
from cluster_toolkit.store.neighbour_index import INDEX_FILE, fragment_ids, open_fragment_index
from cluster_toolkit.store.saved_playlists import load_fragments, load_library
from playlists.neighbours import IndexConfig, exact_top_k
from playlists.recommend import similar

DIM = 16
SMALL = IndexConfig(exact_max=1000)  # IVF from 1000 fragments, so a test library is "large"


def _batch(store, start, count, rng, centres, n_frag=5):
    tracks = pd.DataFrame({
        "track_id": [f"t{i:05d}" for i in range(start, start + count)],
        "path": [f"/music/{i:05d}.flac" for i in range(start, start + count)],
        "size": 1000, "mtime": 1.0, "title": [f"song {i}" for i in range(start, start + count)],
        "artist": [f"band {i}" for i in range(start, start + count)], "album": "a", "genre": "g",
        "duration_s": 60.0, "status": "ok", "n_fragments": n_frag,
    })
    own = centres[rng.integers(0, len(centres), count)] + 0.4 * rng.normal(size=(count, DIM))
    frag_vecs = np.repeat(own, n_frag, axis=0) + 0.3 * rng.normal(size=(count * n_frag, DIM))
    frags = pd.DataFrame({
        "track_id": np.repeat(tracks["track_id"].to_numpy(), n_frag),
        "fragment_index": np.tile(np.arange(n_frag), count),
        "start_s": np.tile(np.arange(n_frag) * 10.0, count), "split": "all",
    })
    store.commit_batch(tracks, track_embeddings=own.astype(np.float32), fragments=frags,
                       fragment_embeddings=frag_vecs.astype(np.float32))


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    store = LibraryStore.open(tmp_path / "lib.ctk", create=True)
    store.set_model({"name": "toy", "dim": DIM}, "toy-000000000001", DIM)
    store.rng, store.centres = rng, rng.normal(size=(12, DIM))
    _batch(store, 0, 600, rng, store.centres)
    return store


def _current(store):
    return load_fragments(store, load_library(store))


def _every_fragment_finds_itself(index, vectors):
    x = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    _, rows = index.search(x, 1)
    return float(np.mean(rows[:, 0] == np.arange(len(x))))


def test_small_libraries_are_searched_exactly_in_memory_with_the_same_results(store):
    lib = load_library(store)
    frags, vecs = _current(store)
    index, report = open_fragment_index(store, frags, vecs)  # 3000 fragments < 200,000
    assert (report.status, report.kind, report.saved) == ("exact", "exact", False)
    assert not (store.root / INDEX_FILE).exists()
    for seed in lib.track_ids[:5]:
        today = similar(lib, frags, vecs, seed, n=10)
        now = similar(lib, frags, vecs, seed, n=10, index=index)
        assert now.playlist.track_ids == today.playlist.track_ids
        pd.testing.assert_frame_equal(now.picks, today.picks)


def test_large_index_is_built_once_stored_and_loaded(store):
    frags, vecs = _current(store)
    index, report = open_fragment_index(store, frags, vecs, config=SMALL)
    assert (report.status, report.kind, report.n, report.saved) == ("built", "ivf", 3000, True)
    assert report.reason == "no stored index" and (store.root / INDEX_FILE).is_file()
    assert report.recall_at_10 >= 0.95 and report.nprobe >= 1
    again, second = open_fragment_index(store, frags, vecs, config=SMALL)
    assert (second.status, second.saved, second.nprobe) == ("loaded", False, report.nprobe)
    queries = vecs[::50]
    np.testing.assert_array_equal(again.search(queries, 10)[1], index.search(queries, 10)[1])
    # rows of the caller's table: recall against exact search over the same rows
    x = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    truth = exact_top_k(x, x[::50], 10)
    found = again.search(x[::50], 10)[1]
    assert np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)]) >= 0.9
    assert _every_fragment_finds_itself(again, vecs) == 1.0


def test_new_and_removed_tracks_update_the_index_without_a_rebuild(store):
    frags, vecs = _current(store)
    open_fragment_index(store, frags, vecs, config=SMALL)
    _batch(store, 600, 50, store.rng, store.centres)
    frags, vecs = _current(store)
    index, report = open_fragment_index(store, frags, vecs, config=SMALL)
    assert (report.status, report.added, report.removed, report.n) == ("updated", 250, 0, 3250)
    assert report.saved and report.recall_at_10 >= 0.95
    assert _every_fragment_finds_itself(index, vecs) == 1.0
    # tracks gone from the library: their fragments leave the index
    keep = ~frags["track_id"].isin([f"t{i:05d}" for i in range(0, 100)]).to_numpy()
    kept_frags, kept_vecs = frags[keep].reset_index(drop=True), vecs[keep]
    index, report = open_fragment_index(store, kept_frags, kept_vecs, config=SMALL)
    assert (report.status, report.added, report.removed, report.n) == ("updated", 0, 500, 2750)
    rows = index.search(kept_vecs[:40], 50)[1]
    assert rows.max() < 2750 and rows.min() >= 0
    assert _every_fragment_finds_itself(index, kept_vecs) == 1.0
    assert open_fragment_index(store, kept_frags, kept_vecs, config=SMALL)[1].status == "loaded"


def test_stale_or_broken_index_is_rebuilt(store):
    frags, vecs = _current(store)
    open_fragment_index(store, frags, vecs, config=SMALL)
    half = frags["track_id"].isin([f"t{i:05d}" for i in range(0, 310)]).to_numpy()
    _, report = open_fragment_index(store, frags[~half].reset_index(drop=True), vecs[~half], config=SMALL)
    assert report.status == "built" and "1550 removed: more than half" in report.reason
    store.set_model({"name": "other", "dim": DIM}, "other-00000000002", DIM)
    _, report = open_fragment_index(store, frags, vecs, config=SMALL)
    assert report.status == "built" and "model_id 'toy-000000000001' -> 'other-00000000002'" in report.reason
    _, report = open_fragment_index(store, frags, vecs, config=IndexConfig(exact_max=1000, nprobe=4))
    assert report.status == "built" and "nprobe None -> 4" in report.reason and report.nprobe == 4
    (store.root / INDEX_FILE).write_bytes(b"not an npz")
    index, report = open_fragment_index(store, frags, vecs, config=SMALL)
    assert report.status == "built" and report.reason.startswith("unreadable stored index")
    assert _every_fragment_finds_itself(index, vecs) == 1.0
    # HNSW cannot remove vectors: a removal rebuilds it
    hnsw = IndexConfig(exact_max=1000, approximate="hnsw")
    assert open_fragment_index(store, frags, vecs, config=hnsw)[1].status == "built"
    assert open_fragment_index(store, frags[:2900], vecs[:2900], config=hnsw)[1].reason.startswith(
        "100 fragments removed from an HNSW index"
    )
    # dry run: searched, nothing written
    (store.root / INDEX_FILE).unlink()
    _, report = open_fragment_index(store, frags, vecs, config=SMALL, save=False)
    assert report.status == "built" and not report.saved and not (store.root / INDEX_FILE).exists()
    # shrinking below the threshold removes the stale file
    open_fragment_index(store, frags, vecs, config=SMALL)
    _, report = open_fragment_index(store, frags[:900], vecs[:900], config=SMALL)
    assert report.status == "exact" and "removed the stored index" in report.reason
    assert not (store.root / INDEX_FILE).exists()


def test_fragment_ids_are_stable_and_distinct():
    frags = pd.DataFrame({"track_id": ["a", "a", "b", "b"], "fragment_index": [0, 1, 0, 1]})
    ids = fragment_ids(frags)
    assert ids.dtype == np.int64 and ids.min() >= 0 and np.unique(ids).size == 4
    np.testing.assert_array_equal(fragment_ids(frags.iloc[::-1].reset_index(drop=True)), ids[::-1])
    many = pd.DataFrame({"track_id": np.repeat([f"t{i}" for i in range(20_000)], 5),
                         "fragment_index": np.tile(np.arange(5), 20_000)})
    assert np.unique(fragment_ids(many)).size == 100_000


def test_similar_cli_uses_the_stored_index(store, monkeypatch):
    from typer.testing import CliRunner

    from cluster_toolkit.cli.main import app

    monkeypatch.setattr(ni, "STORE_INDEX", SMALL)
    runner = CliRunner()
    first = runner.invoke(app, ["similar", "t00003", "--n", "5", "--library", str(store.root), "--dry-run"])
    assert first.exit_code == 0, first.output
    assert "neighbour index built: ivf, 3000 fragments" in first.output and not (store.root / INDEX_FILE).exists()
    second = runner.invoke(app, ["similar", "t00003", "--n", "5", "--library", str(store.root)])
    assert second.exit_code == 0 and (store.root / INDEX_FILE).is_file()
    third = runner.invoke(app, ["similar", "t00003", "--n", "5", "--library", str(store.root)])
    assert third.exit_code == 0 and "neighbour index" not in third.output
