from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from embeddings.backends.base import EmbeddingBackend, model_id
from embeddings.backends.features import (
    DEFAULT_STATS_PATH,
    PITCH_CLASSES,
    FeaturesBackend,
    descriptor_names,
    feature_descriptors,
    mel_to_chroma_matrix,
    write_feature_stats,
)
from embeddings.config import AudioConfig
from embeddings.errors import CheckpointError, ConfigError
from embeddings.melspec import log_mel

AUDIO = AudioConfig()
SR = AUDIO.sample_rate
T = np.arange(10 * SR) / SR  # one 10-second fragment
NAMES = descriptor_names()
IDX = {name: i for i, name in enumerate(NAMES)}


def mels(*signals: np.ndarray) -> np.ndarray:
    """``(batch, n_mels, n_frames)`` float32 dB log-mels of 10 s signals (the ctk front end)."""
    return log_mel(np.stack(signals).astype(np.float32), config=AUDIO).numpy()


def describe(*signals: np.ndarray) -> np.ndarray:
    return feature_descriptors(mels(*signals), audio=AUDIO)


def tone(freq: float, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * T)


def click_track(bpm: float, *, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.zeros(len(T))
    for at in np.arange(0, 10, 60 / bpm):
        i = int(at * SR)
        y[i : i + 256] += np.hanning(256) * rng.standard_normal(256)
    return y


def noise(seed: int = 0) -> np.ndarray:
    return 0.2 * np.random.default_rng(seed).standard_normal(len(T))


def music_like(seed: int) -> np.ndarray:
    """A few harmonic notes with a beat and some noise: a generic non-degenerate fragment."""
    rng = np.random.default_rng(seed)
    beat = (np.sin(2 * np.pi * rng.uniform(1, 3) * T) > 0).astype(float)
    notes = sum(tone(f, 0.2) for f in rng.uniform(110, 880, 3))
    return notes * (0.5 + 0.5 * beat) + 0.02 * rng.standard_normal(len(T))


def test_names_match_the_vector_length():
    assert len(NAMES) == len(set(NAMES)) == describe(tone(440)).shape[1] == FeaturesBackend().dim
    assert NAMES[:2] == ["mfcc_mean_00", "mfcc_mean_01"] and NAMES[-3:] == ["onset_rate", "log2_tempo",
                                                                           "pulse_clarity"]


@pytest.mark.parametrize("midi", [57, 64, 69, 72, 79, 88])
def test_a_tone_peaks_at_its_pitch_class(midi):
    freq = 440 * 2 ** ((midi - 69) / 12)
    chroma = describe(tone(freq))[0, IDX["chroma_mean_00"] : IDX["chroma_mean_00"] + 12]
    assert PITCH_CLASSES[int(np.argmax(chroma))] == PITCH_CLASSES[midi % 12]
    assert chroma.max() == pytest.approx(1.0, abs=1e-6)  # frames are max-normalised


def test_chroma_matrix_sends_each_pitch_class_to_itself():
    matrix = mel_to_chroma_matrix(audio=AUDIO)
    assert matrix.shape == (12, AUDIO.n_mels) and (matrix >= 0).all()
    assert PITCH_CLASSES[int(np.argmax(matrix[:, np.argmin(np.abs(_mel_centres() - 440.0))]))] == "A"


def _mel_centres() -> np.ndarray:
    import librosa

    return librosa.mel_frequencies(n_mels=AUDIO.n_mels + 2, fmin=AUDIO.fmin, fmax=AUDIO.fmax)[1:-1]


@pytest.mark.parametrize("bpm", [70, 100, 120, 140, 160])
def test_click_track_tempo_and_onset_rate(bpm):
    d = describe(click_track(bpm))[0]
    assert 2 ** d[IDX["log2_tempo"]] == pytest.approx(bpm, rel=0.05)
    # one click per beat: bpm / 60 onsets per second (the click at t = 0 may be missed: 0.1/s)
    assert abs(d[IDX["onset_rate"]] - bpm / 60) <= 0.15
    assert d[IDX["pulse_clarity"]] > 0.8


def test_steady_signals_have_few_onsets_and_a_vague_pulse():
    d = describe(tone(440), noise(), click_track(120))
    assert d[0, IDX["onset_rate"]] <= 0.2 and d[2, IDX["onset_rate"]] > 1.5
    assert max(d[0, IDX["pulse_clarity"]], d[1, IDX["pulse_clarity"]]) < 0.2 < 0.8 < d[2, IDX["pulse_clarity"]]


def test_noise_is_flatter_than_a_tone():
    d = describe(tone(440), tone(3000), noise())
    assert d[2, IDX["flatness_mean"]] > 0.5
    assert d[0, IDX["flatness_mean"]] < 0.01 and d[1, IDX["flatness_mean"]] < 0.01


def test_brighter_signal_has_higher_centroid():
    d = describe(tone(300), tone(1000), tone(3000))
    centroid = d[:, IDX["centroid_mean"]]  # kHz
    assert centroid[0] < centroid[1] < centroid[2]
    assert centroid[0] == pytest.approx(0.3, abs=0.05)


def test_loudness_follows_gain():
    d = describe(tone(440, 0.5), tone(440, 0.25))
    assert d[0, IDX["loudness_mean"]] - d[1, IDX["loudness_mean"]] == pytest.approx(20 * np.log10(2), abs=0.1)


def test_embed_shape_dtype_finite_also_for_silence_and_short_fragments():
    backend = FeaturesBackend()
    assert isinstance(backend, EmbeddingBackend) and backend.name == "features"
    out = backend.embed(mels(tone(440), noise(), np.zeros(len(T)), click_track(100)))
    assert out.shape == (4, backend.dim) and out.dtype == np.float32 and np.isfinite(out).all()
    short = log_mel(noise()[None, : SR].astype(np.float32), config=AUDIO).numpy()  # 1 s: 44 frames
    assert np.isfinite(backend.embed(short)).all()


def test_embed_is_deterministic_and_independent_of_the_batch():
    backend = FeaturesBackend()
    batch = mels(*(music_like(s) for s in range(4)))
    first = backend.embed(batch)
    np.testing.assert_array_equal(first, backend.embed(batch))
    np.testing.assert_allclose(backend.embed(batch[2:3])[0], first[2], rtol=1e-6, atol=1e-6)


def test_a_quiet_fragment_has_the_same_vector_alone_and_beside_a_much_louder_one():
    # half silence, the rest ~70 dB below a full-scale tone: a batch-wide 80 dB floor would lift its
    # silent frames (loudness, spectral contrast), a per-fragment floor leaves them where they are
    quiet = 1e-3 * music_like(3) * (T >= 5)
    loud = tone(440, 1.0) + noise(2)
    backend = FeaturesBackend()
    alone = backend.embed(mels(quiet))[0]
    np.testing.assert_array_equal(backend.embed(mels(loud, quiet))[1], alone)
    np.testing.assert_array_equal(backend.embed(mels(quiet, loud, music_like(1)))[0], alone)
    raw = feature_descriptors(mels(quiet), audio=AUDIO)[0]
    assert raw[IDX["loudness_std"]] > 20  # the silent half stays far below the music: the floor did not bite


def test_embed_standardises_with_the_shipped_statistics():
    stats = json.loads(DEFAULT_STATS_PATH.read_text())
    assert stats["names"] == NAMES and stats["audio"] == asdict(AudioConfig())
    batch = mels(music_like(0), click_track(120))
    expected = (feature_descriptors(batch, audio=AUDIO) - np.array(stats["mean"])) / np.array(stats["std"])
    np.testing.assert_allclose(FeaturesBackend().embed(batch), expected, rtol=1e-5, atol=1e-5)


def test_fitted_statistics_standardise_their_own_fit_set(tmp_path):
    raw = describe(*(music_like(s) for s in range(6)), noise(1), click_track(130))
    stats = write_feature_stats(tmp_path / "stats.json", raw, audio=AUDIO, fitted_on={"folder": "synthetic"})
    assert stats["fitted_on"] == {"folder": "synthetic"}
    z = FeaturesBackend(stats_path=tmp_path / "stats.json").embed(mels(*(music_like(s) for s in range(6)),
                                                                        noise(1), click_track(130)))
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-4)
    varying = np.array(stats["std"]) != 1.0
    np.testing.assert_allclose(z.std(axis=0)[varying], 1.0, atol=1e-3)


def test_describe_records_version_audio_and_stats_hash(tmp_path):
    backend = FeaturesBackend()
    desc = backend.describe()
    assert desc["name"] == "features" and desc["config"]["version"] == "features-v2"
    assert desc["config"]["descriptors"] == NAMES and desc["audio"]["n_mels"] == 128
    assert json.loads(json.dumps(desc)) == desc
    assert model_id(desc) == model_id(FeaturesBackend().describe())
    other = tmp_path / "stats.json"
    shutil.copy(DEFAULT_STATS_PATH, other)
    stats = json.loads(other.read_text())
    stats["mean"][0] += 1.0
    other.write_text(json.dumps(stats))
    changed = FeaturesBackend(stats_path=other).describe()
    assert changed["weights_hash"] != desc["weights_hash"] and model_id(changed) != model_id(desc)


def test_missing_statistics_raise_checkpoint_error(tmp_path):
    missing = tmp_path / "nowhere" / "features_stats.json"
    with pytest.raises(CheckpointError, match="not found.*nowhere.*fit_feature_stats.py"):
        FeaturesBackend(stats_path=missing)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.update(version="features-v0"), "descriptor version 'features-v0'"),
        (lambda s: s.update(format="something-else"), "not a ctk feature statistics file"),
        (lambda s: s["audio"].update(n_mels=64), "fitted for AudioConfig.*n_mels=64"),
        (lambda s: s["std"].__setitem__(3, 0.0), "non-positive std"),
        (lambda s: s["mean"].pop(), "need 87 means"),
    ],
)
def test_incompatible_statistics_raise_checkpoint_error(tmp_path, edit, message):
    stats = json.loads(DEFAULT_STATS_PATH.read_text())
    edit(stats)
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(stats))
    with pytest.raises(CheckpointError, match=message):
        FeaturesBackend(stats_path=path)


def test_unreadable_statistics_raise_checkpoint_error(tmp_path):
    path = tmp_path / "stats.json"
    path.write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable"):
        FeaturesBackend(stats_path=path)


@pytest.mark.parametrize("shape", [(128, 431), (2, 64, 431), (2, 128, 1)])
def test_bad_log_mel_shapes_raise_config_error(shape):
    with pytest.raises(ConfigError, match=str(shape[-1]) if shape[-1] == 1 else "n_mels=128"):
        FeaturesBackend().embed(np.zeros(shape, dtype=np.float32))


def test_non_finite_log_mels_raise_config_error():
    x = mels(tone(440))
    x[0, 3, 5] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        FeaturesBackend().embed(x)


def test_missing_default_statistics_name_the_fit_script(monkeypatch, tmp_path):
    import embeddings.backends.features as features

    monkeypatch.setattr(features, "DEFAULT_STATS_PATH", Path(tmp_path / "gone.json"))
    with pytest.raises(CheckpointError, match="gone.json"):
        features.FeaturesBackend()
