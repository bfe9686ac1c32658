"""Deleted, garbage and doubled store parts: `ctk check` finds them, `--repair` and `ctk embed` mend them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.cli.status import library_status
from cluster_toolkit.ingest import EmbedConfig, embed_library
from cluster_toolkit.store import LibraryStore
from tests.faults.conftest import short_tracks

N = 6


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A store of 6 tracks whose fragments lie in 3 parts of 2 tracks each (built once)."""
    root = tmp_path_factory.mktemp("damage")
    music = short_tracks(root / "music", N)
    embed_library(music, root / "lib", EmbedConfig(workers=0, batch_size=2))
    return music, root / "lib"


@pytest.fixture
def built(pristine, tmp_path):
    """A copy of the pristine store for one test to damage (its tracks point to the shared music folder)."""
    music, lib = pristine
    copy = Path(shutil.copytree(lib, tmp_path / "lib"))
    parts = LibraryStore.open(copy).parts("fragments")
    assert len(parts) == 3
    return music, copy, parts


def _ctk(*args):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})


def check_store(store):
    from cluster_toolkit.store.check import check_store as check

    return check(store)


def _assert_whole(lib):
    store = LibraryStore.open(lib)
    tracks, matrix = store.track_embeddings()
    frags, vectors = store.fragment_embeddings()
    assert len(tracks) == N and matrix.shape == (N, store.dim) and np.isfinite(matrix).all()
    assert len(frags) == N and not frags.duplicated(["track_id", "fragment_index"]).any()
    assert check_store(store).healthy


def test_a_healthy_store_checks_clean(built):
    _, lib, _ = built
    result = _ctk("check", "--library", str(lib))
    assert result.exit_code == 0, result.output
    assert f"{N} ok tracks, 0 problem(s)" in result.output


def test_a_deleted_fragments_part_is_found_reported_by_status_and_repaired_by_embed(built):
    music, lib, parts = built
    parts[1].unlink()
    result = _ctk("check", "--library", str(lib))
    assert result.exit_code == 1
    assert result.output.count("track without vectors") == 2 and "0 of 1 fragment rows" in result.output
    assert len(library_status(str(lib))["problems"]) == 2
    summary = embed_library(music, lib, EmbedConfig(workers=0))
    assert summary.repaired == 2 and summary.analysed == 2 and summary.skipped == N - 2
    _assert_whole(lib)


def test_a_garbage_fragments_part_is_quarantined_and_its_tracks_embedded_again_by_check_repair(built):
    _, lib, parts = built
    parts[0].write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    with pytest.raises(Exception, match="unreadable part"):
        LibraryStore.open(lib).fragment_embeddings()
    result = _ctk("check", "--library", str(lib))
    assert result.exit_code == 1 and "unreadable part" in result.output
    result = _ctk("check", "--library", str(lib), "--repair", "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "1 unreadable part(s) moved to .quarantine" in result.output
    assert "analysed again: 2 track(s)" in result.output
    assert (lib / ".quarantine" / f"fragments-{parts[0].name}").is_file()
    _assert_whole(lib)


def test_doubled_fragment_rows_are_read_once_and_dropped_by_repair(built):
    _, lib, parts = built
    shutil.copy(parts[2], parts[2].with_name("part-00000000.parquet"))  # what two writers at once left behind
    frags, _ = LibraryStore.open(lib).fragment_embeddings()
    assert len(frags) == N and not frags.duplicated(["track_id", "fragment_index"]).any()
    report = check_store(LibraryStore.open(lib))
    assert [p.kind for p in report.problems] == ["stale rows"]
    result = _ctk("check", "--library", str(lib), "--repair", "--workers", "0")
    assert result.exit_code == 0 and "2 stale row(s) removed" in result.output, result.output
    assert not parts[2].with_name("part-00000000.parquet").exists()
    _assert_whole(lib)


def test_a_garbage_tracks_part_is_set_aside_and_embed_analyses_the_folder_again(built):
    music, lib, _ = built
    (tracks_part,) = LibraryStore.open(lib).parts("tracks")
    tracks_part.write_bytes(b"PAR1 not really")
    with pytest.raises(Exception, match="unreadable part"):
        LibraryStore.open(lib).all_tracks()
    summary = embed_library(music, lib, EmbedConfig(workers=0))
    assert summary.quarantined and summary.analysed == N
    # readers already see each track once; the superseded fragment rows are left for `ctk check --repair`
    report = check_store(LibraryStore.open(lib))
    assert {p.kind for p in report.problems} == {"stale rows"} and sum(report.stale_rows.values()) == N
    assert _ctk("check", "--library", str(lib), "--repair").exit_code == 0
    _assert_whole(lib)


def test_repair_of_a_track_whose_file_changed_says_so(built):
    music, lib, parts = built
    parts[2].unlink()
    changed = music / "t05.wav"
    data, st = changed.read_bytes(), changed.stat()
    changed.write_bytes(data[:-2000])
    try:
        result = _ctk("check", "--library", str(lib), "--repair", "--workers", "0")
    finally:  # the music folder is shared by the module's tests
        changed.write_bytes(data)
        os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert result.exit_code == 1
    flat = " ".join(result.output.split())
    assert "not repaired" in flat and "t05.wav: changed since analysed" in flat, result.output


def test_check_repair_analyses_a_lost_track_with_the_store_s_own_fragments_and_coverage(tmp_path):
    """A store made with 5 s fragments and 3 sampled per track: a track whose vectors are lost is analysed again
    the same way by `ctk check --repair` (not with today's defaults: 10 s fragments, 5 sampled)."""
    from tests.conftest import synth, write_audio

    music = tmp_path / "music"
    write_audio(music / "long.wav", synth(60.0, seed=3))
    lib = tmp_path / "lib"
    made = _ctk("embed", str(music), "--library", str(lib), "--workers", "0", "--model", "features",
                "--n-seconds", "5", "--step", "5", "--sampled-fragments", "3")
    assert made.exit_code == 0, made.output
    before, _ = LibraryStore.open(lib).fragment_embeddings()
    for part in LibraryStore.open(lib).parts("fragments"):
        part.unlink()
    result = _ctk("check", "--library", str(lib), "--repair", "--workers", "0")
    assert result.exit_code == 0, result.output
    after, _ = LibraryStore.open(lib).fragment_embeddings()
    assert len(after) == 3 and sorted(after["start_s"]) == sorted(before["start_s"])
    assert max(after["start_s"]) == 55.0  # the last start of a 5 s grid over 60 s
