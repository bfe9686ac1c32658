"""Batched log-mel spectrograms: ``torch.stft`` + a librosa mel filterbank.

The power mel spectrogram matches ``librosa.feature.melspectrogram`` (centred frames,
constant padding, periodic Hann window, power 2); the dB conversion follows
``librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=top_db)`` applied per item of the batch.
"""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np
import torch

from embeddings.config import AudioConfig

AMIN = 1e-10


@lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return torch.from_numpy(basis.astype(np.float32))


@lru_cache(maxsize=8)
def _window(n_fft: int) -> torch.Tensor:
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float32)


def n_frames(n_samples: int, *, hop_length: int) -> int:
    """Number of centred frames for ``n_samples`` samples."""
    return 1 + n_samples // hop_length


def mel_power(y: np.ndarray | torch.Tensor, *, config: AudioConfig) -> torch.Tensor:
    """Power mel spectrogram of ``y`` with shape ``(..., n_samples)`` -> ``(..., n_mels, n_frames)``."""
    x = torch.as_tensor(y, dtype=torch.float32)
    batch_shape = x.shape[:-1]
    x = x.reshape(-1, x.shape[-1])
    spec = torch.stft(
        x,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.n_fft,
        window=_window(config.n_fft),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    power = spec.real.square() + spec.imag.square()
    mel = torch.matmul(_mel_basis(config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax), power)
    return mel.reshape(*batch_shape, config.n_mels, mel.shape[-1])


def power_to_db(mel: torch.Tensor, *, top_db: float | None) -> torch.Tensor:
    """``10 log10(max(S, amin))``, floored at ``max - top_db`` per item (over the last two axes)."""
    db = 10.0 * torch.log10(torch.clamp(mel, min=AMIN))
    if top_db is not None:
        peak = db.amax(dim=(-2, -1), keepdim=True)
        db = torch.maximum(db, peak - top_db)
    return db


def log_mel(y: np.ndarray | torch.Tensor, *, config: AudioConfig) -> torch.Tensor:
    """Log-mel in dB of ``y`` ``(..., n_samples)`` -> ``(..., n_mels, n_frames)`` float32 tensor."""
    return power_to_db(mel_power(y, config=config), top_db=config.top_db)
