"""Cut and garbage audio files: a failure with a reason, never samples the decoder did not read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cluster_toolkit.ingest import EmbedConfig, embed_library
from cluster_toolkit.store import LibraryStore
from embeddings.audio import load_audio
from embeddings.errors import AudioDecodeError
from tests.conftest import synth, write_audio
from tests.faults.conftest import short_tracks

SR = 44100
FORMATS = {
    "wav": {},
    "flac": {},
    "ogg": {"format": "OGG", "subtype": "VORBIS"},
    "mp3": {"format": "MP3"},
}


@pytest.fixture(scope="module")
def full_files(tmp_path_factory) -> dict[str, Path]:
    """One 20-second file per format: longer than the decoder's 6-second block, so a cut falls mid-file."""
    root = tmp_path_factory.mktemp("full")
    y = synth(20, sr=SR, seed=3)
    return {ext: write_audio(root / f"full.{ext}", y, sr=SR, **kw) for ext, kw in FORMATS.items()}


def test_formats_are_writable_here():
    assert {"WAV", "FLAC", "OGG", "MP3"} <= set(sf.available_formats())


@pytest.mark.parametrize("ext", sorted(FORMATS))
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_cut_file_is_a_failure_with_a_reason(full_files, tmp_path, ext, keep):
    data = full_files[ext].read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(AudioDecodeError) as failed:
        load_audio(cut, sr=22050)
    message = str(failed.value)
    assert message.startswith(f"{cut}: ") and "truncated" in message and "\n" not in message


def test_the_whole_file_decodes_to_its_own_samples(full_files):
    """The reference: what a good file gives, sample for sample (the cut cases above must not)."""
    audio = load_audio(full_files["wav"], sr=SR)
    expected = synth(20, sr=SR, seed=3)
    assert len(audio.y) == len(expected)
    assert np.abs(audio.y - expected).max() < 1e-4


def test_a_short_read_never_repeats_the_previous_block(full_files, tmp_path):
    """The defect: after a short read, the block reader handed back the previous block's buffer, so the
    decoded MP3 had its declared length and one 6-second block was a byte copy of the one before."""
    data = full_files["mp3"].read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 2])
    with sf.SoundFile(cut) as f:
        assert f.frames >= 19 * SR  # the header still declares the whole 20 s
    with pytest.raises(AudioDecodeError, match=r"truncated \(decoded (9|10)\.\d s of 20\.0 s declared\)"):
        load_audio(cut, sr=SR)


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_random_bytes_are_reported_as_not_audio(tmp_path, ext):
    path = tmp_path / f"noise.{ext}"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 40_000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioDecodeError) as failed:
        load_audio(path, sr=22050)
    message = str(failed.value)
    assert "corrupt or not audio" in message and "possibly a pipe" not in message and "does not exist" not in message


def test_embed_with_the_pool_records_cut_and_garbage_files_with_reasons_and_keeps_stderr_clean(
    full_files, tmp_path, capfd
):
    music = short_tracks(tmp_path / "music", 2)
    data = full_files["mp3"].read_bytes()
    (music / "cut.mp3").write_bytes(data[: len(data) // 2])
    (music / "noise.mp3").write_bytes(np.random.default_rng(2).integers(0, 256, 40_000, dtype=np.uint8).tobytes())
    summary = embed_library(music, tmp_path / "lib", EmbedConfig(workers=2))
    assert summary.analysed == 2
    reasons = dict(summary.failed)
    assert "truncated" in reasons[str(music / "cut.mp3")]
    assert "corrupt or not audio" in reasons[str(music / "noise.mp3")]
    failed = LibraryStore.open(tmp_path / "lib").tracks(include_failed=True).set_index("path")
    assert failed.loc[str(music / "cut.mp3"), "status"] == "failed"
    noise = capfd.readouterr().err
    assert "mpg123" not in noise and "Warning" not in noise, noise  # the decoder's chatter stays in the workers


def test_zero_byte_files_are_two_failures_not_duplicates(tmp_path):
    music = short_tracks(tmp_path / "music", 1)
    (music / "empty.wav").write_bytes(b"")
    (music / "empty.mp3").write_bytes(b"")
    summary = embed_library(music, tmp_path / "lib", EmbedConfig(workers=0))
    assert summary.duplicates == 0
    assert sorted(Path(p).name for p, _ in summary.failed) == ["empty.mp3", "empty.wav"]
    assert all(reason == "empty file (0 bytes)" for _, reason in summary.failed)
    rows = LibraryStore.open(tmp_path / "lib").tracks(include_failed=True)
    assert len(rows) == 3 and rows["track_id"].is_unique
