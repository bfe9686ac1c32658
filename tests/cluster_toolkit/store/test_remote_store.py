"""Libraries on S3: a moto server on 127.0.0.1 (real HTTP, real S3 API, conditional writes included), real
audio embedded into ``s3://<bucket>/lib``, every command reading it, two writers, a writer killed mid-batch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.errors import StoreError
from cluster_toolkit.store import LibraryStore
from cluster_toolkit.store.object_lock import LeaseRecord, ObjectStoreLock
from cluster_toolkit.store.protocol import side_folder

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def _run(*args):
    t0 = time.monotonic()
    out = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})
    print(f"{time.monotonic() - t0:.1f} s: ctk {' '.join(map(str, args))}")
    return out


def _row(output: str, label: str) -> str:
    """The value of a row of a rich table in ``output``."""
    match = re.search(rf"│ {re.escape(label)}\s*│\s*(\S+)\s*│", output)
    assert match, output
    return match.group(1)


def _keys(fs, prefix: str) -> list[str]:
    fs.invalidate_cache()
    return sorted(p.split("/", 1)[1] for p in fs.find(prefix, withdirs=False))


def test_embed_into_s3_then_every_command_reads_it(bucket, music_dir, tmp_path):
    name, fs, _ = bucket
    url = f"s3://{name}/lib"
    res = _run("embed", music_dir, "--library", url, "--workers", 0, "--model", "features")
    assert res.exit_code == 0, res.output
    assert _row(res.output, "analysed") == "5" and _row(res.output, "library") == url
    keys = _keys(fs, f"{name}/lib")
    tables = [k.split("/")[1] for k in keys]  # tracks and pooled vectors compacted at the end; no lock object left
    assert sorted(set(tables)) == ["fragments", "store.json", "track_embeddings", "tracks"], keys
    assert tables.count("tracks") == tables.count("track_embeddings") == 1
    # the tables are plain Parquet objects that pandas reads through s3fs without ctk
    tracks = pd.read_parquet(f"{name}/lib/tracks", filesystem=fs)
    assert sorted(tracks["status"]) == ["ok"] * 5

    # the same folder embedded into a local store gives the same vectors
    local = tmp_path / "local"
    assert _run("embed", music_dir, "--library", local, "--workers", 0, "--model", "features").exit_code == 0
    remote_tracks, remote_x = LibraryStore.open(url).track_embeddings()
    local_tracks, local_x = LibraryStore.open(local).track_embeddings()
    assert list(remote_tracks["track_id"]) == list(local_tracks["track_id"])
    np.testing.assert_array_equal(remote_x, local_x)
    remote_frags = LibraryStore.open(url).fragment_embeddings()
    local_frags = LibraryStore.open(local).fragment_embeddings()
    pd.testing.assert_frame_equal(remote_frags[0], local_frags[0])
    np.testing.assert_array_equal(remote_frags[1], local_frags[1])

    status = _run("status", "--library", url, "--json")
    assert status.exit_code == 0, status.output
    doc = json.loads(status.output)
    assert doc["library"] == url and doc["tracks_ok"] == 5 and doc["problems"] == []
    assert doc["fragments"] == len(LibraryStore.open(local).fragment_embeddings()[0])

    again = _run("embed", music_dir, "--library", url, "--workers", 0, "--model", "features")  # incremental
    assert again.exit_code == 0, again.output
    assert _row(again.output, "skipped, unchanged") == "5" and _row(again.output, "analysed") == "0"
    assert _keys(fs, f"{name}/lib") == keys

    res = _run("cluster", "--library", url, "--method", "kmeans", "--k", 2)
    assert res.exit_code == 0, res.output
    run_id = json.loads(_run("clusters", "list", "--library", url, "--json").output)[0]["run_id"]
    labels = pd.read_parquet(f"{name}/lib/cluster_labels.parquet", filesystem=fs)
    assert len(labels) == 5 and set(labels["run_id"]) == {run_id} and labels["label"].nunique() == 2
    assert (side_folder(LibraryStore.open(url)) / "runs").is_dir()  # pictures stay in the local cache

    out = tmp_path / "pl.m3u8"
    res = _run("playlist", "--hull", "--cluster", "latest:0", "--length", 2, "--library", url, "--out", out)
    assert res.exit_code == 0, res.output
    assert out.read_text().count("#EXTINF") == 2
    res = _run("similar", "one", "--n", 2, "--library", url)
    assert res.exit_code == 0, res.output
    saved = pd.read_parquet(f"{name}/lib/playlists.parquet", filesystem=fs)
    assert list(saved["method"]) == ["onion", "similar"] and len(saved.loc[1, "track_ids"]) == 2
    check = _run("check", "--library", url)
    assert check.exit_code == 0, check.output
    assert "5 ok tracks" in check.output


def _batch(ids: list[str], dim: int = 4, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    tracks = pd.DataFrame({"track_id": ids, "path": [f"/m/{i}.wav" for i in ids], "status": "ok", "n_fragments": 2,
                           "title": ids})
    frags = pd.DataFrame({"track_id": np.repeat(ids, 2), "fragment_index": np.tile([0, 1], len(ids)).astype("int32"),
                          "start_s": np.float32(0), "split": "train"})
    return tracks, rng.standard_normal((len(ids), dim)).astype(np.float32), frags, \
        rng.standard_normal((2 * len(ids), dim)).astype(np.float32)


def _new_store(url: str) -> LibraryStore:
    store = LibraryStore.open(url, create=True)
    store.set_model({"name": "t"}, "t-000000000000", 4)
    return store


def test_second_writer_is_refused_with_the_holder_named(bucket):
    name, fs, _ = bucket
    url = f"s3://{name}/lib"
    first = _new_store(url)
    with first.writing("ctk embed /music"):
        with pytest.raises(StoreError) as err:
            with LibraryStore.open(url).writing("ctk cluster"):
                pass
        message = str(err.value)
        assert message.startswith(f"{url}: library is locked by `ctk embed /music` (pid ")
        assert "\n" not in message and "lease until" in message
        res = _run("cluster", "--library", url, "--method", "kmeans", "--k", 2)
        assert res.exit_code == 2 and f"error: {url}: library is locked by `ctk embed /music`" in res.output
        first.commit_batch(*_batch(["a", "b"]))  # the holder writes on
    with LibraryStore.open(url).writing("ctk cluster"):  # released: the next writer takes it
        pass
    assert f"{name}/lib/.lock" not in fs.find(f"{name}/lib")


def test_a_missing_bucket_is_one_line_and_no_bucket_is_made(bucket, music_dir):
    _, fs, _ = bucket
    res = _run("embed", music_dir, "--library", "s3://no-such-bucket/lib", "--workers", 0, "--model", "features")
    assert res.exit_code == 2
    assert res.output.strip() == "error: s3://no-such-bucket/lib: no bucket 'no-such-bucket' (ctk makes no buckets)"
    assert "no-such-bucket" not in [b["Name"] for b in fs.call_s3("list_buckets")["Buckets"]]


def test_racing_writers_exactly_one_wins(bucket):
    name, _, _ = bucket
    root = LibraryStore.open(f"s3://{name}/lib", create=True).root
    locks = [ObjectStoreLock(root, command=f"writer {i}") for i in range(6)]
    outcome: dict[int, str] = {}
    start = threading.Barrier(len(locks))

    def take(i: int) -> None:
        start.wait()
        try:
            locks[i].acquire()
            outcome[i] = "held"
        except StoreError:
            outcome[i] = "refused"

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(locks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome.values()) == ["held"] + ["refused"] * 5
    winner = next(i for i, v in outcome.items() if v == "held")
    locks[winner].release()


def test_lease_of_another_host_holds_until_it_ends(bucket):
    name, fs, _ = bucket
    url = f"s3://{name}/lib"
    store = _new_store(url)
    from datetime import UTC, datetime, timedelta

    from cluster_toolkit.store.lock import LockHolder

    holder = LockHolder(4242, "other-host", "ctk embed /far", "2026-12-02T09:00:00+00:00")
    live = LeaseRecord(holder, "x" * 32, datetime.now(UTC) + timedelta(minutes=5))
    fs.pipe_file(f"{name}/lib/.lock", live.to_bytes())
    with pytest.raises(StoreError, match=r"locked by `ctk embed /far` \(pid 4242 on other-host"):
        with store.writing():
            pass
    ended = LeaseRecord(holder, "x" * 32, datetime.now(UTC) - timedelta(seconds=1))
    fs.pipe_file(f"{name}/lib/.lock", ended.to_bytes())
    with store.writing("ctk cluster"):  # an ended lease is broken
        fs.invalidate_cache()
        record = LeaseRecord.from_bytes(fs.cat_file(f"{name}/lib/.lock"))
        assert record.holder.command == "ctk cluster" and record.expires_at > datetime.now(UTC)


def test_a_writer_that_lost_its_lease_writes_nothing_more(bucket, monkeypatch):
    name, fs, _ = bucket
    url = f"s3://{name}/lib"
    store = _new_store(url)
    monkeypatch.setenv("CTK_LOCK_LEASE_S", "1.5")  # renewed every 0.5 s
    with store.writing("ctk embed"):
        fs.pipe_file(f"{name}/lib/.lock", b'{"taken": "by hand"}')  # another writer broke it
        time.sleep(1.2)
        with pytest.raises(StoreError, match=r"lost the library's lock \(another writer replaced the lock object\)"):
            store.commit_batch(*_batch(["a"]))
    assert store.parts("tracks") == []


KILL_DURING_COMMIT = """
import os, signal, sys
sys.path.insert(0, {root!r})
import numpy as np, pandas as pd
from cluster_toolkit.store import LibraryStore
from cluster_toolkit.store.remote import RemoteLibraryStore

write = RemoteLibraryStore._atomic_write_parquet
def dying_write(self, dest, table):
    if dest.parent.name == "tracks":  # the batch's parts are written, its commit record is next
        os.kill(os.getpid(), signal.SIGKILL)
    write(self, dest, table)
RemoteLibraryStore._atomic_write_parquet = dying_write
store = LibraryStore.open({url!r})
with store.writing("ctk embed (dies)"):
    tracks = pd.DataFrame({{"track_id": ["a", "c"], "path": ["/m/a2.wav", "/m/c.wav"], "status": "ok",
                           "n_fragments": 1}})
    frags = pd.DataFrame({{"track_id": ["a", "c"], "fragment_index": np.int32(0), "start_s": np.float32(0),
                          "split": "train"}})
    store.commit_batch(tracks, np.ones((2, 4), np.float32), frags, np.ones((2, 4), np.float32))
"""


def test_writer_killed_between_parts_and_commit_loses_nothing_committed(bucket):
    name, fs, env = bucket
    url = f"s3://{name}/lib"
    store = _new_store(url)
    store.commit_batch(*_batch(["a", "b"]))
    before_tracks, before_x = store.track_embeddings()
    before_frags, before_fx = store.fragment_embeddings()

    code = KILL_DURING_COMMIT.format(root=str(ROOT), url=url)
    done = subprocess.run([sys.executable, "-c", code], env={**_base_env(), **env}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == -9, done.stderr
    keys = _keys(fs, f"{name}/lib")
    assert "lib/fragments/part-00000002.parquet" in keys and "lib/track_embeddings/part-00000002.parquet" in keys
    assert "lib/tracks/part-00000002.parquet" not in keys and "lib/.lock" in keys  # died holding the lock

    reader = LibraryStore.open(url)  # readers see the previous commit, vectors unchanged
    tracks, x = reader.track_embeddings()
    assert list(tracks["track_id"]) == list(before_tracks["track_id"]) == ["a", "b"]
    np.testing.assert_array_equal(x, before_x)
    frags, fx = reader.fragment_embeddings()
    pd.testing.assert_frame_equal(frags, before_frags)
    np.testing.assert_array_equal(fx, before_fx)

    with reader.writing("ctk embed"):  # its pid is gone: the lock is stale and taken over
        assert reader.recover() == 2  # the uncommitted parts
    assert _keys(fs, f"{name}/lib") == ["lib/fragments/part-00000001.parquet", "lib/store.json",
                                        "lib/track_embeddings/part-00000001.parquet",
                                        "lib/tracks/part-00000001.parquet"]
    np.testing.assert_array_equal(LibraryStore.open(url).track_embeddings()[1], before_x)


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FSSPEC_"))}


def test_help_and_local_libraries_never_import_s3fs(tmp_path):
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from cluster_toolkit.cli.main import app\n"
        f"r = CliRunner().invoke(app, ['status', '--library', {str(tmp_path / 'none')!r}])\n"
        "h = CliRunner().invoke(app, ['--help'])\n"
        "print(json.dumps([r.exit_code, h.exit_code, [m for m in ('s3fs', 'botocore', 'upath', 'aiobotocore') "
        "if m in sys.modules]]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [2, 0, []], done.stderr


def test_a_library_on_s3_keeps_its_model_and_fragments_on_a_plain_rerun(bucket, tmp_path):
    """As a local one: `ctk embed` without --model or fragment options into an S3 library made with other ones
    (here the plan of the default before 2026-12-03) adds new tracks the same way instead of stopping."""
    from tests.conftest import synth, write_audio

    name, _, _ = bucket
    url = f"s3://{name}/kept"
    music = tmp_path / "music"
    write_audio(music / "a.wav", synth(60.0, seed=1))
    made = _run("embed", music, "--library", url, "--workers", 0, "--model", "features",
                "--n-seconds", 10, "--step", 10, "--sampled-fragments", 5)
    assert made.exit_code == 0, made.output
    write_audio(music / "b.wav", synth(60.0, seed=2))
    again = _run("embed", music, "--library", url, "--workers", 0)
    assert again.exit_code == 0, again.output
    assert "keeps the model it was made with, features" in again.output
    assert "keeps the fragments it was made with (--n-seconds 10, --step 10, --sampled-fragments 5" in again.output
    store = LibraryStore.open(url)
    assert store.meta["model_spec"] == "features" and store.meta["fragment"]["n_seconds"] == 10.0
    frags, _ = store.fragment_embeddings()
    assert frags.groupby("track_id").size().tolist() == [5, 5]
    starts = frags["start_s"].to_numpy()
    assert (starts % 10 == 0).all() and starts.max() == 50.0  # a 10 s grid (a 5 s one ends at 55)
