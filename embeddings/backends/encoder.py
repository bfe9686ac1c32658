"""The contrastive encoder as an embedding backend: a checkpoint in, pooled vectors out.

``EncoderBackend.from_checkpoint(path)`` loads a folder written by ``ctk train`` (or the bundled
``ctk-small``); ``embed(log_mels)`` runs the encoder in inference mode and returns the pooled
embedding (before the projection head, see :mod:`embeddings.models.transformer`). The backend's
``describe()`` names the weights by their SHA-256, so a library store can tell two models apart.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from embeddings.checkpoint import BUNDLED, Checkpoint, load_checkpoint, load_encoder
from embeddings.config import AudioConfig
from embeddings.errors import ConfigError
from embeddings.melspec import log_mel
from embeddings.models.config import LATER_FIELDS

BUNDLED_DIR = BUNDLED["ctk-small"]


class EncoderBackend:
    """:class:`~embeddings.backends.base.EmbeddingBackend` over a trained encoder checkpoint."""

    def __init__(self, checkpoint: Checkpoint, *, device: str = "cpu", batch_size: int = 32) -> None:
        self.checkpoint = checkpoint
        self.name = checkpoint.name
        self.audio: AudioConfig = checkpoint.audio
        self.dim = checkpoint.encoder.embedding_dim
        self.device = device
        self.batch_size = batch_size
        self.encoder = load_encoder(checkpoint).to(device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs: Any) -> EncoderBackend:
        return cls(load_checkpoint(path), **kwargs)

    def describe(self) -> dict[str, Any]:
        c = self.checkpoint
        return {
            "name": self.name,
            "backend": "encoder",
            "config": {k: v for k, v in asdict(c.encoder).items() if LATER_FIELDS.get(k, object()) != v},
            "audio": asdict(c.audio),
            "fragments": asdict(c.fragments),
            "weights": c.weights_sha256,
            "step": c.step,
        }

    def require_sample_rate(self, sr: int) -> None:
        """Refuse audio at another rate than the model's front end, naming both."""
        if sr != self.audio.sample_rate:
            raise ConfigError(
                f"audio at sr={sr} Hz but model {self.name!r} was trained at sr={self.audio.sample_rate} Hz; "
                "resample it (load_audio(path, sr=...)) first"
            )

    def embed(self, log_mels: np.ndarray) -> np.ndarray:
        """``(batch, n_mels, n_frames)`` float32 log-mels (dB) -> ``(batch, dim)`` float32 embeddings."""
        x = np.asarray(log_mels, dtype=np.float32)
        if x.ndim != 3 or x.shape[1] != self.audio.n_mels:
            raise ConfigError(
                f"log-mels of shape {x.shape} but model {self.name!r} expects (batch, n_mels={self.audio.n_mels}, "
                "n_frames)"
            )
        out = np.empty((len(x), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, len(x), self.batch_size):
                chunk = torch.from_numpy(x[i : i + self.batch_size]).to(self.device)
                out[i : i + len(chunk)] = self.encoder(chunk).float().cpu().numpy()
        return out

    def embed_audio(self, y: np.ndarray, *, sr: int) -> np.ndarray:
        """Embed waveforms ``y`` ``(batch, n_samples)`` at ``sr`` Hz (refused unless the model's rate)."""
        self.require_sample_rate(sr)
        return self.embed(log_mel(np.atleast_2d(y), config=self.audio).numpy())
