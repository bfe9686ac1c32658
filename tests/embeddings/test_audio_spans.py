"""Decoding only chosen spans (``load_spans``) against decoding the whole track (``load_audio``)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from embeddings.audio import load_audio, load_spans
from embeddings.config import FragmentConfig
from embeddings.errors import AudioDecodeError
from embeddings.fragments import FragmentPlan, fragment_samples
from tests.conftest import SR, synth

FORMATS = [
    ("a.wav", 44100, {}),
    ("a.flac", 44100, {}),
    ("a.ogg", 44100, {"format": "OGG", "subtype": "VORBIS"}),
    ("a.opus", 48000, {"format": "OGG", "subtype": "OPUS"}),
    ("a.mp3", 44100, {"format": "MP3"}),
]


def _write_blocks(path, y, sr, **kwargs):
    """Write in blocks: libsndfile's Vorbis encoder can crash on one long write."""
    with sf.SoundFile(path, "w", sr, y.shape[1], **kwargs) as f:
        for i in range(0, len(y), 1 << 14):
            f.write(y[i : i + (1 << 14)])
    return path


def _sweep(seconds: float, sr: int) -> np.ndarray:
    """Stereo rising sweep plus noise: every span looks different, so a misplaced seek shows."""
    t = np.arange(int(seconds * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * (150 + 40 * t) * t)
    noise = 0.03 * np.random.default_rng(0).standard_normal((len(t), 2))
    return (tone[:, None] * np.array([[1.0, 0.7]]) + noise).astype(np.float32)


@pytest.mark.parametrize(("name", "sr_in", "kwargs"), FORMATS)
def test_spans_match_the_same_samples_of_a_full_decode(tmp_path, name, sr_in, kwargs):
    path = _write_blocks(tmp_path / name, _sweep(45.0, sr_in), sr_in, **kwargs)
    full = load_audio(path, sr=SR)
    starts = np.array([0.0, 7.3, 20.0, full.duration_s - 10.0])
    seen = []
    spans = load_spans(path, sr=SR, n_seconds=10.0, choose_starts=lambda d: seen.append(d) or starts)
    # the plan is made from the header's duration, which equals the decoded length
    assert seen == [pytest.approx(len(full.y) / SR, abs=1e-3)]
    assert spans.duration_s == pytest.approx(full.duration_s, abs=1e-3)
    assert (spans.source_sr, spans.channels) == (sr_in, 2)
    plan = FragmentPlan(starts=starts, splits=("train",) * 4, n_seconds=10.0)
    expected = fragment_samples(full.y, sr=SR, plan=plan)
    assert spans.samples.shape == expected.shape == (4, 10 * SR)
    # libsndfile seeks are sample-exact; the margin makes span resampling match whole-track resampling
    assert np.abs(spans.samples - expected).max() < 1e-4


def test_track_shorter_than_a_fragment_is_looped_like_fragment_samples(tmp_path):
    path = _write_blocks(tmp_path / "short.flac", _sweep(4.0, 44100), 44100)
    full = load_audio(path, sr=SR)
    spans = load_spans(path, sr=SR, n_seconds=10.0, choose_starts=lambda d: np.zeros(1))
    plan = FragmentPlan(starts=np.zeros(1), splits=("train",), n_seconds=10.0)
    np.testing.assert_allclose(spans.samples, fragment_samples(full.y, sr=SR, plan=plan), atol=1e-6)


@pytest.mark.parametrize("name", ["cut.flac", "cut.mp3"])
def test_file_shorter_than_its_header_raises_instead_of_padding(tmp_path, name):
    kwargs = {"format": "MP3"} if name.endswith(".mp3") else {}
    whole = _write_blocks(tmp_path / f"whole{name[3:]}", _sweep(60.0, 44100), 44100, **kwargs)
    cut = tmp_path / name
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with sf.SoundFile(cut) as f:
        assert f.frames / 44100 > 50  # the header still declares (about) the whole length
    with pytest.raises(AudioDecodeError) as info:
        load_spans(cut, sr=SR, n_seconds=10.0, choose_starts=lambda d: np.array([0.0, d - 10.0]))
    message = str(info.value)
    assert message.startswith(f"{cut}: ") and "truncated" in message and "\n" not in message


def test_truncated_wav_is_refused_before_any_span_is_read(bad_files):
    with pytest.raises(AudioDecodeError, match="truncated"):
        load_spans(bad_files["truncated"], sr=SR, n_seconds=10.0, choose_starts=lambda d: np.zeros(1))


def test_silent_spans_and_non_finite_samples_are_refused(tmp_path):
    y = np.zeros((SR * 30, 1), dtype=np.float32)
    y[SR * 12 : SR * 18, 0] = synth(6.0)  # sound only between the spans asked for
    silent = _write_blocks(tmp_path / "gap.wav", y, SR, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="silent"):
        load_spans(silent, sr=SR, n_seconds=5.0, choose_starts=lambda d: np.array([0.0, 20.0]))
    assert load_spans(silent, sr=SR, n_seconds=5.0, choose_starts=lambda d: np.array([12.0])).samples.max() > 0.1
    y[SR * 21, 0] = np.nan
    bad = _write_blocks(tmp_path / "nan.wav", y, SR, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="non-finite"):
        load_spans(bad, sr=SR, n_seconds=5.0, choose_starts=lambda d: np.array([0.0, 20.0]))


def test_a_refusal_from_the_planner_propagates(tmp_path):
    path = _write_blocks(tmp_path / "a.wav", _sweep(2.0, SR), SR)
    config = FragmentConfig()

    def too_short(duration_s: float) -> np.ndarray:
        raise AudioDecodeError(f"{path}: too short ({duration_s:.1f} s < {config.min_track_seconds:.1f} s)")

    with pytest.raises(AudioDecodeError, match="too short \\(2.0 s"):
        load_spans(path, sr=SR, n_seconds=10.0, choose_starts=too_short)
