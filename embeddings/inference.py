"""From one audio file to fragment embeddings and one pooled track embedding."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from embeddings.audio import load_audio
from embeddings.backends.base import EmbeddingBackend
from embeddings.config import FragmentConfig
from embeddings.errors import AudioDecodeError
from embeddings.fragments import FragmentPlan, fragment_samples, plan_fragments
from embeddings.melspec import log_mel


@dataclass(frozen=True)
class TrackAnalysis:
    """Everything ``ctk embed`` computes for one track."""

    duration_s: float
    source_sr: int
    channels: int
    plan: FragmentPlan
    fragment_embeddings: np.ndarray  # (k, dim) float32
    embedding: np.ndarray  # (dim,) float32, mean of the fragment embeddings


def pool_fragments(fragment_embeddings: np.ndarray) -> np.ndarray:
    """Track vector = mean of its fragment vectors (``(k, dim) -> (dim,)``)."""
    return fragment_embeddings.mean(axis=0).astype(np.float32)


def embed_audio(
    y: np.ndarray,
    *,
    sr: int,
    backend: EmbeddingBackend,
    fragment_config: FragmentConfig,
    track_id: str,
    batch_size: int = 16,
) -> tuple[FragmentPlan, np.ndarray]:
    """Fragment ``y`` and embed every fragment; returns the plan and ``(k, dim)`` embeddings."""
    if sr != backend.audio.sample_rate:
        raise AudioDecodeError(f"audio at sr={sr} but the model expects sr={backend.audio.sample_rate}")
    plan = plan_fragments(len(y) / sr, config=fragment_config, track_id=track_id)
    samples = fragment_samples(y, sr=sr, plan=plan)
    out = []
    with torch.inference_mode():
        for i in range(0, len(samples), batch_size):
            mels = log_mel(samples[i : i + batch_size], config=backend.audio).numpy()
            out.append(np.asarray(backend.embed(mels), dtype=np.float32))
    return plan, np.concatenate(out)


def analyse_file(
    path: str | Path, *, backend: EmbeddingBackend, fragment_config: FragmentConfig, track_id: str
) -> TrackAnalysis:
    """Decode, fragment, embed and pool one file. Raises :class:`AudioDecodeError` naming the file."""
    decoded = load_audio(path, sr=backend.audio.sample_rate)
    try:
        plan, frag = embed_audio(
            decoded.y, sr=decoded.sr, backend=backend, fragment_config=fragment_config, track_id=track_id
        )
    except AudioDecodeError as exc:
        raise AudioDecodeError(f"{path}: {exc}") from exc
    if not np.all(np.isfinite(frag)):
        raise AudioDecodeError(f"{path}: the model produced non-finite embeddings")
    return TrackAnalysis(
        duration_s=decoded.duration_s,
        source_sr=decoded.source_sr,
        channels=decoded.channels,
        plan=plan,
        fragment_embeddings=frag,
        embedding=pool_fragments(frag),
    )
