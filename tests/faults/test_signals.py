"""Ctrl-C, SIGTERM and kill -9 of `ctk embed` with the worker pool (the default): what is done is
kept, one line is printed, the exit code says which signal, and no process is left behind."""

from __future__ import annotations

import os
import signal

import pytest

from cluster_toolkit.ingest import EmbedConfig, embed_library
from cluster_toolkit.store import LibraryStore
from tests.faults.conftest import committed_parts, short_tracks, wait_until

N_TRACKS = 16


@pytest.mark.parametrize(
    ("sig", "expected_rc", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated"), (signal.SIGKILL, -9, None)],
    ids=["SIGINT", "SIGTERM", "SIGKILL"],
)
def test_signal_with_the_worker_pool_keeps_what_is_done_and_leaves_no_process(
    tmp_path, ctk_processes, sig, expected_rc, word
):
    music = short_tracks(tmp_path / "music", N_TRACKS)
    lib = tmp_path / "lib"
    run = ctk_processes("embed", str(music), "--library", str(lib), "--workers", "2", "--batch-size", "1")
    wait_until(lambda: committed_parts(lib) >= 2, timeout=240, what="two committed batches", proc=run)
    assert len(run.family()) >= 4  # the run, its forkserver, resource tracker and workers
    if sig == signal.SIGINT:
        # Ctrl-C in a terminal reaches the whole foreground process group
        for pid in run.family():
            try:
                os.kill(pid, signal.SIGINT)
            except ProcessLookupError:
                pass
    else:
        run.proc.send_signal(sig)
    rc, _, err = run.finish(timeout=120)
    assert rc == expected_rc, err
    if word is not None:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith(word) and "Traceback" not in err, err
        assert "run the same command to resume" in lines[0]
    # every process of the run is gone: workers, forkserver, resource tracker
    wait_until(lambda: run.family() == [], timeout=30, what=f"no process left after {sig.name}", step=0.2)

    store = LibraryStore.open(lib)
    done = len(store.tracks())
    assert 2 <= done < N_TRACKS
    summary = embed_library(music, lib, EmbedConfig(workers=0))
    assert summary.analysed == N_TRACKS - done and summary.skipped == done
    store = LibraryStore.open(lib)
    tracks, matrix = store.track_embeddings()
    frags, _ = store.fragment_embeddings()
    assert len(tracks) == N_TRACKS and matrix.shape[0] == N_TRACKS
    assert len(frags) == N_TRACKS and not frags.duplicated(["track_id", "fragment_index"]).any()
