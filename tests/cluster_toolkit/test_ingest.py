from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import embeddings.inference
from cluster_toolkit.errors import StoreError, UsageError
from cluster_toolkit.ingest import EmbedConfig, content_hash, embed_library, iter_audio_files
from cluster_toolkit.store import LibraryStore
from tests.conftest import synth, write_audio

INLINE = EmbedConfig(workers=0)


def _no_audio_work(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("audio was decoded on a run that should do no audio work")

    monkeypatch.setattr(embeddings.inference, "load_audio", refuse)


def test_embed_builds_the_store(music_dir, tmp_path):
    summary = embed_library(music_dir, tmp_path / "lib", INLINE)
    assert (summary.found, summary.analysed, len(summary.failed)) == (5, 5, 0)
    store = LibraryStore.open(tmp_path / "lib")
    tracks, matrix = store.track_embeddings()
    assert len(tracks) == 5 and matrix.shape == (5, store.dim) and np.isfinite(matrix).all()
    assert set(tracks["track_id"]) == {content_hash(Path(p)) for p in tracks["path"]}
    frags, fmat = store.fragment_embeddings()
    # 12..16 s tracks and 5 s fragments every 5 s (a new library's default): two or three fragments each
    counts = dict(zip(tracks["title"], tracks["n_fragments"]))
    assert counts == {"one": 2, "two": 2, "three": 2, "four": 3, "five": 3} and len(frags) == 12
    assert store.meta["fragment"]["n_seconds"] == 5.0 and store.meta["coverage"]["n_fragments"] == 10
    # the pooled vector's mean part is the mean of the fragment vectors
    for tid, vec in zip(tracks["track_id"], matrix):
        mean = fmat[frags["track_id"] == tid].mean(axis=0)
        np.testing.assert_allclose(vec[: 256 + 87], mean[: 256 + 87], rtol=1e-6, atol=1e-6)
    assert abs(tracks.set_index("title").loc["two", "duration_s"] - 14.0) < 0.01
    # the default: the bundled encoder's vector beside the handcrafted features, and the spread of the learned
    # vectors over the track's fragments (docs/ctk-small.md): a fragment has no spread (its block is zero), every
    # track of two or more fragments has one
    assert store.meta["model"]["name"] == "hybrid" and store.dim == 256 + 87 + 256
    assert store.meta["model"]["config"]["pooling"] == "mean+std" and not fmat[:, 256 + 87 :].any()
    assert matrix[:, 256 + 87 :].any(axis=1).all()
    assert store.meta["model"]["encoder"]["name"] == "ctk-small"


def test_second_run_on_unchanged_folder_does_no_audio_work(music_dir, tmp_path, monkeypatch):
    embed_library(music_dir, tmp_path / "lib", INLINE)
    before = sorted(p.name for p in (tmp_path / "lib").rglob("part-*.parquet"))
    _no_audio_work(monkeypatch)
    summary = embed_library(music_dir, tmp_path / "lib", INLINE)
    assert (summary.analysed, summary.skipped, summary.moved, summary.gone) == (0, 5, 0, 0)
    assert sorted(p.name for p in (tmp_path / "lib").rglob("part-*.parquet")) == before


def test_moved_file_keeps_its_analysis(music_dir, tmp_path, monkeypatch):
    embed_library(music_dir, tmp_path / "lib", INLINE)
    _, before = LibraryStore.open(tmp_path / "lib").track_embeddings()
    (music_dir / "D").mkdir()
    shutil.move(music_dir / "A" / "one.wav", music_dir / "D" / "renamed.wav")
    _no_audio_work(monkeypatch)
    summary = embed_library(music_dir, tmp_path / "lib", INLINE)
    assert (summary.analysed, summary.moved, summary.gone) == (0, 1, 0)
    tracks, after = LibraryStore.open(tmp_path / "lib").track_embeddings()
    assert str(music_dir / "D" / "renamed.wav") in set(tracks["path"])
    assert str(music_dir / "A" / "one.wav") not in set(tracks["path"])
    np.testing.assert_array_equal(np.sort(before, axis=0), np.sort(after, axis=0))


def test_deleted_file_is_marked_gone_and_comes_back(music_dir, tmp_path, monkeypatch):
    embed_library(music_dir, tmp_path / "lib", INLINE)
    kept = music_dir.parent / "kept.flac"
    shutil.move(music_dir / "B" / "three.flac", kept)
    summary = embed_library(music_dir, tmp_path / "lib", INLINE)
    assert summary.gone == 1
    store = LibraryStore.open(tmp_path / "lib")
    assert len(store.tracks()) == 4
    gone = store.tracks(include_gone=True).query("status == 'gone'")
    assert list(gone["path"]) == [str(music_dir / "B" / "three.flac")]
    shutil.move(kept, music_dir / "B" / "three.flac")
    _no_audio_work(monkeypatch)
    summary = embed_library(music_dir, tmp_path / "lib", INLINE)
    assert summary.analysed == 0 and len(LibraryStore.open(tmp_path / "lib").tracks()) == 5


def test_changed_content_is_analysed_again(music_dir, tmp_path):
    embed_library(music_dir, tmp_path / "lib", INLINE)
    write_audio(music_dir / "A" / "one.wav", synth(20, freq=990, seed=11))
    summary = embed_library(music_dir, tmp_path / "lib", INLINE)
    assert (summary.analysed, summary.gone) == (1, 1)
    store = LibraryStore.open(tmp_path / "lib")
    row = store.tracks().set_index("path").loc[str(music_dir / "A" / "one.wav")]
    assert row["n_fragments"] == 4 and abs(row["duration_s"] - 20.0) < 0.01


def test_duplicate_copies_are_one_track(music_dir, tmp_path):
    shutil.copy(music_dir / "A" / "one.wav", music_dir / "C" / "copy.wav")
    summary = embed_library(music_dir, tmp_path / "lib", INLINE)
    assert (summary.found, summary.analysed, summary.duplicates) == (6, 5, 1)


def test_bad_files_are_recorded_with_reasons_and_the_run_goes_on(music_dir, bad_files, tmp_path):
    for path in bad_files.values():
        shutil.copy(path, music_dir / path.name)
    summary = embed_library(music_dir, tmp_path / "lib", INLINE)
    assert summary.analysed == 5
    reasons = {Path(p).name: r for p, r in summary.failed}
    assert reasons == {
        "empty.wav": "empty file (0 bytes)",
        "corrupt.flac": reasons["corrupt.flac"],
        "truncated.wav": reasons["truncated.wav"],
        "song.m4a": "unsupported format .m4a (libsndfile cannot decode it; convert to FLAC)",
        "silent.wav": "silent (peak -inf dBFS)",
        "short.wav": "too short (1.0 s < 3.0 s)",
    }
    assert reasons["corrupt.flac"].startswith("corrupt or not audio")
    assert reasons["truncated.wav"].startswith("truncated (WAV data chunk has")
    store = LibraryStore.open(tmp_path / "lib")
    failed = store.tracks(include_failed=True).query("status == 'failed'")
    assert dict(zip(failed["path"].map(lambda p: Path(p).name), failed["error"])) == reasons
    # unchanged failures are not retried, unless asked
    again = embed_library(music_dir, tmp_path / "lib", INLINE)
    assert (again.analysed, len(again.failed), again.skipped_failed) == (0, 0, 6)
    retried = embed_library(music_dir, tmp_path / "lib", EmbedConfig(workers=0, retry_failed=True))
    assert len(retried.failed) == 6


def test_missing_folder_and_other_model(music_dir, tmp_path):
    with pytest.raises(UsageError, match="no such folder"):
        embed_library(tmp_path / "nope", tmp_path / "lib", INLINE)
    embed_library(music_dir, tmp_path / "lib", INLINE)
    store = LibraryStore.open(tmp_path / "lib")
    store.set_model({"name": "other"}, "other-123456789abc", 3)
    with pytest.raises(StoreError, match="was embedded with model other-123456789abc.*--reembed"):
        embed_library(music_dir, tmp_path / "lib", INLINE)
    summary = embed_library(music_dir, tmp_path / "lib", EmbedConfig(workers=0, reembed=True))
    assert summary.analysed == 5
    assert LibraryStore.open(tmp_path / "lib").model_id.startswith("hybrid-")


def test_worker_pool_gives_the_same_vectors_as_inline(music_dir, tmp_path):
    embed_library(music_dir, tmp_path / "a", INLINE)
    summary = embed_library(music_dir, tmp_path / "b", EmbedConfig(workers=2, batch_size=2))
    assert summary.analysed == 5
    ta, ma = LibraryStore.open(tmp_path / "a").track_embeddings()
    tb, mb = LibraryStore.open(tmp_path / "b").track_embeddings()
    assert list(ta["track_id"]) == list(tb["track_id"])
    np.testing.assert_allclose(ma, mb, rtol=1e-5, atol=1e-5)


def test_hidden_folders_and_the_library_itself_are_skipped(music_dir):
    write_audio(music_dir / ".hidden" / "x.wav", synth(5))
    write_audio(music_dir / ".ctk" / "y.wav", synth(5))
    write_audio(music_dir / "lib" / "z.wav", synth(5))
    found = [p.name for p in iter_audio_files(music_dir, exclude=music_dir / "lib")]
    assert found == ["one.wav", "two.wav", "four.ogg", "three.flac", "five.mp3"]


def _big_folder(root: Path, n: int) -> Path:
    for i in range(n):
        write_audio(root / f"t{i:02d}.wav", synth(40, freq=200 + 20 * i, seed=i))
    return root


def _ctk(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "cluster_toolkit.cli.main", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not ignored as in a background job
    )


def _wait_for_parts(lib: Path, n: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list((lib / "tracks").glob("part-*.parquet"))) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("no progress")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_loses_at_most_the_batch_in_flight_and_resumes(tmp_path, sig):
    music = _big_folder(tmp_path / "music", 16)
    lib = tmp_path / "lib"
    proc = _ctk("embed", str(music), "--library", str(lib), "--workers", "0", "--batch-size", "1")
    _wait_for_parts(lib, 3, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and b"interrupted" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    store = LibraryStore.open(lib)
    store.recover()
    done = len(store.tracks())
    assert 3 <= done < 16
    summary = embed_library(music, lib, INLINE)
    assert summary.analysed == 16 - done and summary.skipped == done
    tracks, matrix = LibraryStore.open(lib).track_embeddings()
    frags, _ = LibraryStore.open(lib).fragment_embeddings()
    assert len(tracks) == 16 and matrix.shape[0] == 16
    assert len(frags) == 16 * 8 and not frags.duplicated(["track_id", "fragment_index"]).any()
