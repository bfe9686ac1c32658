from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from embeddings.config import AudioConfig
from embeddings.melspec import log_mel, mel_power, n_frames
from tests.conftest import synth


@pytest.mark.parametrize(
    "config",
    [AudioConfig(), AudioConfig(sample_rate=16000, n_fft=1024, hop_length=320, n_mels=64, fmin=30.0, fmax=8000.0)],
)
def test_mel_power_agrees_with_librosa(config):
    y = np.stack([synth(3.0, sr=config.sample_rate, freq=f, seed=i) for i, f in enumerate((110, 440, 1760))])
    ours = mel_power(y, config=config).numpy()
    ref = librosa.feature.melspectrogram(
        y=y, sr=config.sample_rate, n_fft=config.n_fft, hop_length=config.hop_length,
        n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax,
    )
    assert ours.shape == ref.shape == (3, config.n_mels, n_frames(y.shape[-1], hop_length=config.hop_length))
    rel = np.abs(ours - ref).max() / np.abs(ref).max()
    assert rel < 1e-4


def test_log_mel_matches_librosa_power_to_db_per_item():
    config = AudioConfig()
    y = np.stack([synth(2.0, freq=220), 0.001 * synth(2.0, freq=880, seed=1)])
    ours = log_mel(y, config=config).numpy()
    ref_power = librosa.feature.melspectrogram(
        y=y, sr=config.sample_rate, n_fft=config.n_fft, hop_length=config.hop_length,
        n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax,
    )
    for i in range(2):
        ref = librosa.power_to_db(ref_power[i], ref=1.0, amin=1e-10, top_db=80.0)
        np.testing.assert_allclose(ours[i], ref, atol=2e-3)
        assert ours[i].max() - ours[i].min() <= 80.0 + 1e-4


def test_batch_equals_items_and_accepts_tensors():
    config = AudioConfig()
    y = np.stack([synth(1.0, seed=s) for s in range(4)])
    batch = log_mel(torch.from_numpy(y), config=config)
    single = torch.stack([log_mel(row, config=config) for row in y])
    torch.testing.assert_close(batch, single, rtol=1e-5, atol=1e-4)
    assert batch.dtype == torch.float32
    nested = log_mel(y.reshape(2, 2, -1), config=config)
    assert nested.shape == (2, 2, 128, batch.shape[-1])
