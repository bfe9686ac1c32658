"""The one narrow interface every embedding backend implements.

``embed(log_mels) -> vectors``: a batch of log-mel fragments ``(batch, n_mels, n_frames)``
in, one float32 vector per fragment ``(batch, dim)`` out. Each backend also describes
itself (``describe()``) so the library store can record which model made its vectors and
refuse to mix two models.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from embeddings.config import AudioConfig
from embeddings.errors import CheckpointError

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


def read_stats_file(path: Path, *, what: str, stats_format: str, fit_command: str) -> dict[str, Any]:
    """The JSON object of a backend's fixed statistics file (``what``: "feature", "embedding"), in format
    ``stats_format``; :class:`CheckpointError` naming the file, the reason and ``fit_command`` otherwise."""
    if not path.is_file():
        raise CheckpointError(f"{what} statistics not found at {path}; fit them with `{fit_command}`")
    try:
        stats = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{what} statistics {path} are unreadable: {exc}") from exc
    if not isinstance(stats, dict) or stats.get("format") != stats_format:
        raise CheckpointError(f"{path} is not a ctk {what} statistics file (format {stats_format!r})")
    return stats


def check_mean_std(stats: dict[str, Any], path: Path, *, what: str, dim: int) -> None:
    """``stats`` holds ``dim`` means and ``dim`` positive stds (:class:`CheckpointError` otherwise)."""
    if len(stats.get("mean", [])) != dim or len(stats.get("std", [])) != dim:
        raise CheckpointError(f"{what} statistics {path} need {dim} means and stds")
    if min(stats["std"]) <= 0:
        raise CheckpointError(f"{what} statistics {path} contain a non-positive std")
