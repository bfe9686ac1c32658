from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from embeddings.audio import load_audio
from embeddings.errors import AudioDecodeError
from tests.conftest import SR, synth, write_audio


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("a.wav", {}),
        ("a.flac", {}),
        ("a.ogg", {"format": "OGG", "subtype": "VORBIS"}),
        ("a.opus", {"format": "OGG", "subtype": "OPUS"}),
        ("a.mp3", {"format": "MP3"}),
    ],
)
def test_each_format_decodes_to_mono_at_target_rate(tmp_path, name, kwargs):
    sr_in = 48000 if name.endswith(".opus") else 44100
    y = synth(3.0, sr=sr_in, freq=1000, channels=2)
    path = write_audio(tmp_path / name, y, sr=sr_in, **kwargs)
    out = load_audio(path, sr=SR)
    assert out.y.dtype == np.float32 and out.y.ndim == 1
    assert out.source_sr == sr_in and out.channels == 2 and out.sr == SR
    # lossy codecs add a little encoder delay/padding
    assert abs(out.duration_s - 3.0) < 0.1
    spectrum = np.abs(np.fft.rfft(out.y[: SR * 2]))
    peak_hz = np.argmax(spectrum) * SR / (2 * (SR * 2 // 2))
    assert abs(peak_hz - 1000) < 5


def test_mono_mixdown_is_channel_mean(tmp_path):
    left = synth(2.0, freq=300)
    right = synth(2.0, freq=500, seed=3)
    path = write_audio(tmp_path / "st.wav", np.stack([left, right], axis=1), subtype="FLOAT")
    out = load_audio(path, sr=SR)
    np.testing.assert_allclose(out.y, (left + right) / 2, atol=1e-6)


def test_resampling_preserves_pitch_and_length(tmp_path):
    y = synth(4.0, sr=44100, freq=880)
    path = write_audio(tmp_path / "hi.wav", y, sr=44100, subtype="FLOAT")
    out = load_audio(path, sr=16000)
    assert len(out.y) == 4 * 16000
    spectrum = np.abs(np.fft.rfft(out.y))
    assert abs(np.argmax(spectrum) * 16000 / len(out.y) - 880) < 1
    # no resampling when rates match: bit-exact samples
    same = load_audio(path, sr=44100)
    np.testing.assert_array_equal(same.y, y)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("empty", "empty file (0 bytes)"),
        ("corrupt", "corrupt or not audio"),
        ("truncated", "truncated"),
        ("unsupported", "unsupported format .m4a"),
        ("silent", "silent (peak -inf dBFS)"),
    ],
)
def test_bad_input_raises_one_line_naming_file_and_reason(bad_files, kind, reason):
    path = bad_files[kind]
    with pytest.raises(AudioDecodeError) as info:
        load_audio(path, sr=SR)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert reason in message
    assert "\n" not in message


def test_missing_file_is_a_decode_error(tmp_path):
    with pytest.raises(AudioDecodeError, match="cannot read"):
        load_audio(tmp_path / "nope.wav", sr=SR)


def test_quiet_but_not_silent_audio_is_accepted(tmp_path):
    path = write_audio(tmp_path / "quiet.wav", synth(2.0) * 0.01, subtype="FLOAT")
    assert np.max(np.abs(load_audio(path, sr=SR).y)) > 1e-3


def test_float_wav_roundtrip_is_exact(tmp_path):
    y = synth(1.5)
    path = write_audio(tmp_path / "f.wav", y, subtype="FLOAT")
    assert sf.info(path).samplerate == SR
    np.testing.assert_array_equal(load_audio(path, sr=SR).y, y)


def test_non_finite_samples_are_corrupt(tmp_path):
    y = synth(2.0)
    y[100] = np.nan
    path = write_audio(tmp_path / "nan.wav", y, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="corrupt \\(non-finite samples\\)"):
        load_audio(path, sr=SR)


def test_multichannel_mixdown_matches_mean(tmp_path):
    y = np.stack([synth(1.0, freq=f, seed=i) for i, f in enumerate((200, 300, 450, 700))], axis=1)
    path = write_audio(tmp_path / "quad.wav", y, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, sr=SR).y, y.mean(axis=1), atol=1e-6)
