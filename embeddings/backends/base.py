"""The one narrow interface every embedding backend implements.

``embed(log_mels) -> vectors``: a batch of log-mel fragments ``(batch, n_mels, n_frames)``
in, one float32 vector per fragment ``(batch, dim)`` out. Each backend also describes
itself (``describe()``) so the library store can record which model made its vectors and
refuse to mix two models.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from embeddings.config import AudioConfig

if TYPE_CHECKING:  # annotations only: importing the interface (and the CLI's --help) stays free of numpy
    import numpy as np


@runtime_checkable
class EmbeddingBackend(Protocol):
    name: str
    dim: int
    audio: AudioConfig

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description: backend name, its config, the audio config, weights hash."""
        ...

    def embed(self, log_mels: np.ndarray) -> np.ndarray:
        """``(batch, n_mels, n_frames)`` float32 log-mels -> ``(batch, dim)`` float32 vectors."""
        ...


def model_id(description: dict[str, Any]) -> str:
    """A short stable id of a backend description: ``<name>-<12 hex digits>``."""
    blob = json.dumps(description, sort_keys=True, separators=(",", ":")).encode()
    return f"{description['name']}-{hashlib.blake2b(blob, digest_size=6).hexdigest()}"
