"""From one audio file to fragment embeddings and one pooled track embedding.

With ``full`` coverage the whole track is decoded and every fragment of its plan embedded; with
``sampled`` coverage (the default) the plan is made from the header's duration, thinned to an evenly
spread subset (:func:`~embeddings.fragments.spread_fragments`) and only those spans are decoded
(:func:`~embeddings.audio.load_spans`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from embeddings.audio import load_audio, load_spans
from embeddings.backends.base import EmbeddingBackend
from embeddings.config import CoverageConfig, FragmentConfig
from embeddings.errors import AudioDecodeError
from embeddings.fragments import FragmentPlan, fragment_samples, plan_fragments, spread_fragments
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


def embed_fragments(samples: np.ndarray, *, backend: EmbeddingBackend, batch_size: int = 16) -> np.ndarray:
    """Embed fragments ``(k, n_samples)`` at the backend's rate -> ``(k, dim)`` float32."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(samples), batch_size):
            mels = log_mel(samples[i : i + batch_size], config=backend.audio).numpy()
            out.append(np.asarray(backend.embed(mels), dtype=np.float32))
    return np.concatenate(out)


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
    return plan, embed_fragments(samples, backend=backend, batch_size=batch_size)


def analyse_file(
    path: str | Path,
    *,
    backend: EmbeddingBackend,
    fragment_config: FragmentConfig,
    track_id: str,
    coverage: CoverageConfig | None = None,
) -> TrackAnalysis:
    """Decode, fragment, embed and pool one file (``coverage``: all fragments or an evenly spread
    subset, see the module docstring). Raises :class:`AudioDecodeError` naming the file."""
    coverage = coverage or CoverageConfig()
    if coverage.mode == "full":
        decoded = load_audio(path, sr=backend.audio.sample_rate)
        try:
            plan, frag = embed_audio(
                decoded.y, sr=decoded.sr, backend=backend, fragment_config=fragment_config, track_id=track_id
            )
        except AudioDecodeError as exc:
            raise AudioDecodeError(f"{path}: {exc}") from exc
        duration_s, source_sr, channels = decoded.duration_s, decoded.source_sr, decoded.channels
    else:
        plans: list[FragmentPlan] = []

        def choose_starts(duration_s: float) -> np.ndarray:
            try:
                full = plan_fragments(duration_s, config=fragment_config, track_id=track_id)
            except AudioDecodeError as exc:
                raise AudioDecodeError(f"{path}: {exc}") from exc
            plans.append(spread_fragments(full, coverage.n_fragments))
            return plans[0].starts

        spans = load_spans(path, sr=backend.audio.sample_rate, n_seconds=fragment_config.n_seconds,
                           choose_starts=choose_starts)
        plan = plans[0]
        frag = embed_fragments(spans.samples, backend=backend)
        duration_s, source_sr, channels = spans.duration_s, spans.source_sr, spans.channels
    if not np.all(np.isfinite(frag)):
        raise AudioDecodeError(f"{path}: the model produced non-finite embeddings")
    return TrackAnalysis(
        duration_s=duration_s,
        source_sr=source_sr,
        channels=channels,
        plan=plan,
        fragment_embeddings=frag,
        embedding=pool_fragments(frag),
    )
