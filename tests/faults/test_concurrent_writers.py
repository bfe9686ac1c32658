"""Two writers on one library: the second is refused with the holder's name (or waits with --wait);
readers that read while a writer commits and merges parts never fail and never see half a batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading

import pytest

from cluster_toolkit.errors import StoreError
from cluster_toolkit.ingest import EmbedConfig, embed_library
from cluster_toolkit.store import LibraryStore
from tests.faults.conftest import short_tracks, wait_until


def _holder_pid(lib):
    from cluster_toolkit.store.lock import read_holder

    holder = read_holder(lib / ".lock")
    return holder.pid if holder else None


def test_second_embed_is_refused_while_the_first_writes_then_waits_for_it(tmp_path, ctk_processes):
    music = short_tracks(tmp_path / "music", 10)
    lib = tmp_path / "lib"
    first = ctk_processes("embed", str(music), "--library", str(lib), "--workers", "0", "--batch-size", "1")
    wait_until(lambda: _holder_pid(lib) == first.pid, timeout=180, what="the first run holds the lock", proc=first)

    # a second writer fails at once, naming the holder, and writes nothing
    with pytest.raises(StoreError) as refused:
        embed_library(music, lib, EmbedConfig(workers=0))
    message = str(refused.value)
    assert "library is locked by" in message and f"pid {first.pid} on {socket.gethostname()}" in message
    assert "ctk embed" in message and "\n" not in message

    # readers meanwhile: every read is consistent while batches commit (and parts merge at the end)
    errors, reads = [], []

    def read_while_writing() -> None:
        while first.proc.poll() is None:
            try:
                store = LibraryStore.open(lib)
                tracks, matrix = store.track_embeddings()
                frags, _ = store.fragment_embeddings()
                assert len(tracks) == len(matrix)
                assert set(frags["track_id"]) <= set(store.tracks()["track_id"])
                assert not frags.duplicated(["track_id", "fragment_index"]).any()
                reads.append(len(tracks))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(exc))

    # a library being created is not a library yet: read once its store.json is there
    wait_until(lambda: (lib / "store.json").exists(), timeout=180, what="the first run creates the store", proc=first)
    reader = threading.Thread(target=read_while_writing)
    reader.start()
    # with --wait the second writer waits for the first, then finds nothing left to do
    summary = embed_library(music, lib, EmbedConfig(workers=0, lock_wait_s=300))
    reader.join()
    rc, _, err = first.finish()
    assert rc == 0, err
    assert summary.analysed == 0 and summary.skipped == 10
    assert errors == [] and reads and reads == sorted(reads)  # never fewer tracks than a read before
    store = LibraryStore.open(lib)
    tracks, matrix = store.track_embeddings()
    frags, _ = store.fragment_embeddings()
    assert len(tracks) == 10 and matrix.shape[0] == 10 and len(frags) == 10
    assert _holder_pid(lib) is None  # released: no holder recorded


def test_two_embed_processes_at_once_one_runs_one_is_refused(tmp_path, ctk_processes):
    music = short_tracks(tmp_path / "music", 4)
    lib = tmp_path / "lib"
    LibraryStore.open(lib, create=True)
    runs = [ctk_processes("embed", str(music), "--library", str(lib), "--workers", "0") for _ in range(2)]
    results = [r.finish() for r in runs]
    codes = sorted(rc for rc, _, _ in results)
    assert codes == [0, 2], results
    refused_err = next(err for rc, _, err in results if rc == 2)
    lines = [line for line in refused_err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "library is locked by" in lines[0]
    frags, _ = LibraryStore.open(lib).fragment_embeddings()
    assert len(LibraryStore.open(lib).tracks()) == 4 and len(frags) == 4


def test_lock_records_its_holder_and_a_dead_holders_lock_is_taken_over(tmp_path):
    from cluster_toolkit.store.lock import StoreLock, read_holder

    with StoreLock(tmp_path, command="ctk embed /music") as lock:
        holder = read_holder(lock.path)
        assert (holder.pid, holder.host, holder.command) == (os.getpid(), socket.gethostname(), "ctk embed /music")
        with pytest.raises(StoreError, match="library is locked by `ctk embed /music`"):
            StoreLock(tmp_path, command="ctk cluster").acquire()
    assert read_holder(tmp_path / ".lock") is None
    # a leftover process still holds the lock file of a writer that died (kill -9): the record names a dead pid
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    record = {"pid": dead_pid, "host": socket.gethostname(), "command": "ctk embed", "started_at": "2026-12-02"}
    (tmp_path / ".lock").write_text(json.dumps(record))
    leftover = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
         "print('held', flush=True); time.sleep(60)", str(tmp_path / ".lock")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert leftover.stdout.readline().strip() == "held"
        with StoreLock(tmp_path, command="ctk embed again") as lock:  # stale: taken over, not refused
            assert read_holder(lock.path).command == "ctk embed again"
    finally:
        leftover.kill()
        leftover.wait()


def test_a_live_holder_on_another_host_is_never_taken_over(tmp_path):
    from cluster_toolkit.store.lock import StoreLock

    # the pid of this very process, but recorded on another host: nothing says it is dead
    record = {"pid": 1, "host": "elsewhere", "command": "ctk embed", "started_at": "2026-12-02"}
    with StoreLock(tmp_path, command="ctk embed") as lock:
        lock.path.write_text(json.dumps(record))
        with pytest.raises(StoreError, match="locked by `ctk embed` \\(pid 1 on elsewhere"):
            StoreLock(tmp_path, command="ctk cluster", wait_s=0.3).acquire()


def test_every_store_write_takes_the_lock(tmp_path):
    import pandas as pd

    from cluster_toolkit.store.lock import StoreLock

    store = LibraryStore.open(tmp_path / "lib", create=True)
    with StoreLock(store.root, command="other writer"):
        for write in (
            lambda: store.write_table("notes", pd.DataFrame({"a": [1]})),
            lambda: store.update_meta(x=1),
            lambda: store.recover(),
            lambda: store.compact(),
        ):
            with pytest.raises(StoreError, match="locked by `other writer`"):
                write()
    assert store.write_table("notes", pd.DataFrame({"a": [1]})).is_file()  # free again
