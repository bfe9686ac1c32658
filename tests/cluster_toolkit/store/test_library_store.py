from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

from cluster_toolkit.errors import StoreError
from cluster_toolkit.store.library_store import TRACK_COLUMNS, LibraryStore


def _tracks(ids, status="ok"):
    return pd.DataFrame(
        {
            "track_id": ids,
            "path": [f"/music/{i}.flac" for i in ids],
            "size": [100] * len(ids),
            "mtime": [1.5] * len(ids),
            "title": [f"title {i}" for i in ids],
            "artist": ["artist"] * len(ids),
            "status": [status] * len(ids),
            "n_fragments": [2] * len(ids),
            "duration_s": [20.0] * len(ids),
        }
    )


def _frags(ids):
    return pd.DataFrame(
        {
            "track_id": np.repeat(ids, 2),
            "fragment_index": np.tile([0, 1], len(ids)).astype(np.int32),
            "start_s": np.tile([0.0, 10.0], len(ids)).astype(np.float32),
            "split": ["train", "validation"] * len(ids),
        }
    )


@pytest.fixture
def store(tmp_path):
    s = LibraryStore.open(tmp_path / "lib", create=True)
    s.set_model({"name": "test", "dim": 4}, "test-000000000000", 4)
    return s


def _commit(store, ids, seed=0):
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((len(ids), 4)).astype(np.float32)
    frag = rng.standard_normal((2 * len(ids), 4)).astype(np.float32)
    store.commit_batch(_tracks(ids), emb, _frags(ids), frag)
    return emb, frag


def test_round_trip_of_tracks_and_embeddings(store):
    emb1, frag1 = _commit(store, ["b", "a"], seed=1)
    emb2, _ = _commit(store, ["c"], seed=2)
    again = LibraryStore.open(store.root)
    tracks, matrix = again.track_embeddings()
    assert list(tracks["track_id"]) == ["a", "b", "c"]  # ordered by path
    np.testing.assert_array_equal(matrix, np.stack([emb1[1], emb1[0], emb2[0]]))
    assert list(tracks.columns) == TRACK_COLUMNS
    frags, fmat = again.fragment_embeddings(["b"])
    assert list(frags["fragment_index"]) == [0, 1] and list(frags["split"]) == ["train", "validation"]
    np.testing.assert_array_equal(fmat, frag1[:2])
    assert again.meta["model_id"] == "test-000000000000" and again.dim == 4


def test_tables_open_in_plain_pandas_and_duckdb(store):
    _commit(store, ["a", "b"])
    _commit(store, ["c"])
    store.compact()
    df = pd.read_parquet(store.root / "tracks")
    assert sorted(df["track_id"]) == ["a", "b", "c"]
    ((n, dim),) = duckdb.sql(
        f"select count(*), max(len(embedding)) from read_parquet('{store.root}/fragments/*.parquet')"
    ).fetchall()
    assert (n, dim) == (6, 4)
    emb = pd.read_parquet(store.root / "track_embeddings")
    assert len(emb) == 3 and len(emb["embedding"][0]) == 4


def test_orphan_parts_of_an_interrupted_batch_are_removed(store):
    _commit(store, ["a"])
    # simulate a crash after the fragments and embeddings parts but before the tracks part
    seq = store._next_seq()
    name = f"part-{seq:08d}.parquet"
    shutil.copy(store.root / "fragments" / "part-00000001.parquet", store.root / "fragments" / name)
    shutil.copy(store.root / "track_embeddings" / "part-00000001.parquet", store.root / "track_embeddings" / name)
    (store.root / ".tmp").mkdir(exist_ok=True)
    (store.root / ".tmp" / "half-written.parquet").write_bytes(b"PAR1")
    assert store.recover() == 3
    assert not (store.root / "fragments" / name).exists()
    assert not any((store.root / ".tmp").iterdir())
    frags, _ = store.fragment_embeddings()
    assert len(frags) == 2  # the committed fragments stay, once


def test_readers_ignore_the_parts_of_a_batch_not_yet_committed(store):
    emb, frag = _commit(store, ["a", "b"], seed=1)
    # a re-analysis of "a" in flight: its fragments and pooled vector are written, its tracks part is not yet
    rng = np.random.default_rng(9)
    store.commit_batch(_tracks(["a"]), rng.standard_normal((1, 4)).astype(np.float32), _frags(["a"]),
                       rng.standard_normal((2, 4)).astype(np.float32))
    (store.root / "tracks" / "part-00000002.parquet").unlink()
    tracks, matrix = LibraryStore.open(store.root).track_embeddings()
    assert list(tracks["track_id"]) == ["a", "b"]
    np.testing.assert_array_equal(matrix, emb)
    np.testing.assert_array_equal(LibraryStore.open(store.root).fragment_embeddings()[1], frag)


def test_compact_merges_parts_and_keeps_newest_rows(store):
    for i in range(5):
        _commit(store, [f"t{i}"], seed=i)
    tracks = store.all_tracks()
    tracks.loc[tracks["track_id"] == "t0", "status"] = "gone"
    store.replace_tracks(tracks)
    store.compact()
    assert len(list((store.root / "tracks").glob("part-*.parquet"))) == 1
    assert len(list((store.root / "track_embeddings").glob("part-*.parquet"))) == 1
    assert len(list((store.root / "fragments").glob("part-*.parquet"))) == 5
    assert sorted(store.tracks()["track_id"]) == ["t1", "t2", "t3", "t4"]
    assert sorted(store.tracks(include_gone=True)["track_id"]) == ["t0", "t1", "t2", "t3", "t4"]
    ids, matrix = store.track_embeddings()
    assert matrix.shape == (4, 4)
    # compaction kept every fragment part committed
    assert store.recover() == 0
    assert len(store.fragment_embeddings()[0]) == 8


def test_derived_tables_are_written_atomically_and_read_back(store):
    df = pd.DataFrame({"run_id": ["r1"], "k": [3]})
    path = store.write_table("cluster_runs", df)
    assert path.name == "cluster_runs.parquet"
    pd.testing.assert_frame_equal(store.read_table("cluster_runs"), df)
    assert store.has_table("cluster_runs") and not store.has_table("playlists")
    store.write_table("cluster_labels", df)
    assert store.table_names() == ["cluster_labels", "cluster_runs"]  # part tables are folders, not listed
    with pytest.raises(StoreError, match="no table 'playlists'"):
        store.read_table("playlists")
    with pytest.raises(StoreError, match="reserved"):
        store.write_table("tracks", df)


def test_import_tabular_replaces_content(store):
    _commit(store, ["a"])
    tracks = pd.DataFrame({"track_id": ["x", "y"], "path": ["", ""], "title": ["X", "Y"], "artist": ["p", "q"]})
    store.import_tabular(tracks, np.eye(2, 3, dtype=np.float32), {"name": "tabular", "columns": ["a", "b", "c"]})
    t, m = LibraryStore.open(store.root).track_embeddings()
    assert list(t["track_id"]) == ["x", "y"] and m.shape == (2, 3)
    assert store.meta["source"] == "tabular"


def test_open_errors_are_clear(tmp_path):
    with pytest.raises(StoreError, match="no library here"):
        LibraryStore.open(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(StoreError, match="not a ctk library"):
        LibraryStore.open(tmp_path / "plain")
    bad = LibraryStore.open(tmp_path / "v9", create=True)
    (bad.root / "store.json").write_text(json.dumps({"format": 9}))
    with pytest.raises(StoreError, match="format 9 is not supported"):
        LibraryStore.open(bad.root)
    (bad.root / "store.json").write_text("{not json")
    with pytest.raises(StoreError, match="unreadable store metadata"):
        LibraryStore.open(bad.root)


def test_unwritable_library_is_a_store_error(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    (parent / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot create library"):
        LibraryStore.open(parent / "file" / "lib", create=True)


def test_empty_store_reads_as_empty(tmp_path):
    store = LibraryStore.open(tmp_path / "empty", create=True)
    tracks, matrix = store.track_embeddings()
    assert len(tracks) == 0 and matrix.shape == (0, 0)
    frags, fmat = store.fragment_embeddings()
    assert len(frags) == 0 and fmat.shape == (0, 0)


def test_writing_is_reentrant_and_releases_once_at_the_outer_block(tmp_path):
    from cluster_toolkit.store.lock import StoreLock

    store = LibraryStore.open(tmp_path / "lib", create=True)
    other = StoreLock(store.root, command="another writer")
    with store.writing("outer"):
        with store.writing("inner"):
            pass
        with pytest.raises(StoreError, match="locked by `outer`"):  # still held after the inner block
            other.acquire()
    other.acquire()  # released by the outer block
    other.release()
