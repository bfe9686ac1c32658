"""A learned vector and the handcrafted `features` vector of the same fragment, side by side.

The contrastive encoder learns what separates productions but is blind to the overall level and
dynamics of a fragment (it standardises every fragment) and to whatever its short training did not
reward; the handcrafted descriptors (MFCC, chroma, contrast, loudness, onsets, tempo statistics) keep
exactly those. ``hybrid`` concatenates both, computed from the same log-mel fragment (one decode, one
log-mel, so every speed-up of ``ctk embed``'s front end applies to both halves):

    [ w_learned  * (e - mu_e) / sd_e / sqrt(dim_e) ,  w_features * f / sqrt(dim_f) ]

``e`` is the encoder's embedding, standardised per dimension by fixed reference statistics fitted on
the encoder's training sources (``embedding_stats.json`` next to the checkpoint, written by
``bench/fit_embedding_stats.py``); ``f`` is the `features` vector, already standardised by its own
shipped statistics. Dividing each block by the square root of its width gives both blocks the same
expected squared norm, so neither dominates a cosine or a k-means distance by having more dimensions;
``w_learned`` / ``w_features`` (both 1 by default) shift the balance. Every map is fixed, so a vector
never depends on the library it came from, and the track vector (the mean of the fragment vectors)
is the same concatenation of the two backends' own track vectors.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.backends.base import check_mean_std, read_stats_file
from embeddings.backends.encoder import EncoderBackend
from embeddings.backends.features import FeaturesBackend
from embeddings.errors import CheckpointError

STATS_FORMAT = "ctk-embedding-stats/1"
STATS_FILE = "embedding_stats.json"


def write_embedding_stats(
    path: str | Path, embeddings: np.ndarray, *, weights_sha256: str, fitted_on: dict[str, Any]
) -> dict[str, Any]:
    """Per-dimension mean and std of ``embeddings`` ``(n_fragments, dim)`` of the model whose weights hash
    ``weights_sha256``, as JSON at ``path``. A dimension with std below 1e-6 gets std 1 (only centred)."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise CheckpointError(f"need (n_fragments >= 2, dim) embeddings to fit statistics, got {x.shape}")
    std = x.std(axis=0)
    stats = {
        "format": STATS_FORMAT,
        "weights_sha256": weights_sha256,
        "fitted_on": fitted_on,
        "mean": [round(float(v), 7) for v in x.mean(axis=0)],
        "std": [round(float(v), 7) if v >= 1e-6 else 1.0 for v in std],
    }
    Path(path).write_text(json.dumps(stats, indent=1) + "\n")
    return stats


def read_embedding_stats(path: str | Path, *, weights_sha256: str, dim: int) -> dict[str, Any]:
    """The statistics at ``path``, checked against the model they must belong to; :class:`CheckpointError`
    naming the file and the reason otherwise."""
    path = Path(path)
    stats = read_stats_file(path, what="embedding", stats_format=STATS_FORMAT,
                            fit_command=f"python bench/fit_embedding_stats.py {path.parent} TRAIN_FOLDER")
    if stats.get("weights_sha256") != weights_sha256:
        raise CheckpointError(f"embedding statistics {path} were fitted for other weights; refit them")
    check_mean_std(stats, path, what="embedding", dim=dim)
    return stats


class HybridBackend:
    """:class:`~embeddings.backends.base.EmbeddingBackend`: standardised encoder vector + `features` vector."""

    name = "hybrid"

    def __init__(
        self,
        encoder: EncoderBackend,
        features: FeaturesBackend | None = None,
        *,
        stats_path: str | Path | None = None,
        learned_weight: float = 1.0,
        features_weight: float = 1.0,
    ) -> None:
        self.encoder = encoder
        self.features = features if features is not None else FeaturesBackend(encoder.audio)
        if self.features.audio != encoder.audio:
            raise CheckpointError(
                f"hybrid needs one front end: the encoder uses {encoder.audio}, the features {self.features.audio}"
            )
        self.audio = encoder.audio
        path = Path(stats_path) if stats_path is not None else Path(encoder.checkpoint.path) / STATS_FILE
        stats = read_embedding_stats(path, weights_sha256=encoder.checkpoint.weights_sha256, dim=encoder.dim)
        self._mean = np.asarray(stats["mean"], dtype=np.float64)
        self._scale = learned_weight / (np.asarray(stats["std"], dtype=np.float64) * np.sqrt(encoder.dim))
        self._features_scale = features_weight / np.sqrt(self.features.dim)
        self.learned_weight, self.features_weight = float(learned_weight), float(features_weight)
        self.dim = encoder.dim + self.features.dim
        self._stats_hash = hashlib.sha256(path.read_bytes()).hexdigest()

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs: Any) -> HybridBackend:
        return cls(EncoderBackend.from_checkpoint(path), **kwargs)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": "hybrid",
            "config": {"learned_weight": self.learned_weight, "features_weight": self.features_weight,
                       "embedding_stats": self._stats_hash},
            "encoder": self.encoder.describe(),
            "features": self.features.describe(),
            "audio": self.encoder.describe()["audio"],
        }

    def split(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The learned block and the `features` block of hybrid vectors ``(n, dim)``, each still scaled."""
        return vectors[:, : self.encoder.dim], vectors[:, self.encoder.dim :]

    def combine(self, learned: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Hybrid vectors from the two backends' own vectors ``(n, dim_e)`` and ``(n, dim_f)`` (also valid
        for track vectors: every map is affine, so it commutes with the mean over fragments)."""
        e = (np.asarray(learned, dtype=np.float64) - self._mean) * self._scale
        f = np.asarray(features, dtype=np.float64) * self._features_scale
        return np.concatenate([e, f], axis=1).astype(np.float32)

    def embed(self, log_mels: np.ndarray) -> np.ndarray:
        """``(batch, n_mels, n_frames)`` float32 log-mels (dB) -> ``(batch, dim_e + dim_f)`` float32."""
        return self.combine(self.encoder.embed(log_mels), self.features.embed(log_mels))
