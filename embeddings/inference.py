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
from embeddings.config import AudioConfig, CoverageConfig, FragmentConfig
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
    embedding: np.ndarray  # (dim,) float32, the pooled fragment embeddings (their mean by default)


def pool_fragments(fragment_embeddings: np.ndarray, backend: EmbeddingBackend | None = None) -> np.ndarray:
    """Track vector ``(k, dim) -> (dim,)``: the backend's own pooling where it has one (``hybrid+std``), else
    the mean of the fragment vectors."""
    pool = getattr(backend, "pool", None)
    return pool(fragment_embeddings) if pool is not None else fragment_embeddings.mean(axis=0).astype(np.float32)


@dataclass(frozen=True)
class DecodedTrack:
    """The first half of :func:`analyse_file`: one track's fragment plan and its fragments' samples,
    ``(k, n_samples)`` at the model's rate (what the Ray engine's CPU tasks make before the encoder runs)."""

    duration_s: float
    source_sr: int
    channels: int
    plan: FragmentPlan
    samples: np.ndarray


def fragment_mels(samples: np.ndarray, *, audio: AudioConfig, batch_size: int = 16) -> np.ndarray:
    """Log-mels of fragments ``(k, n_samples)`` -> ``(k, n_mels, n_frames)`` float32, ``batch_size`` at a time."""
    with torch.inference_mode():
        return np.concatenate([log_mel(samples[i : i + batch_size], config=audio).numpy()
                               for i in range(0, len(samples), batch_size)])


def embed_mels(mels: np.ndarray, *, backend: EmbeddingBackend, batch_size: int = 16) -> np.ndarray:
    """Embed log-mels ``(k, n_mels, n_frames)`` -> ``(k, dim)`` float32, ``batch_size`` at a time."""
    with torch.inference_mode():
        return np.concatenate([np.asarray(backend.embed(mels[i : i + batch_size]), dtype=np.float32)
                               for i in range(0, len(mels), batch_size)])


def embed_fragments(samples: np.ndarray, *, backend: EmbeddingBackend, batch_size: int = 16) -> np.ndarray:
    """Embed fragments ``(k, n_samples)`` at the backend's rate -> ``(k, dim)`` float32."""
    mels = fragment_mels(samples, audio=backend.audio, batch_size=batch_size)
    return embed_mels(mels, backend=backend, batch_size=batch_size)


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


def decode_track(
    path: str | Path,
    *,
    sr: int,
    fragment_config: FragmentConfig,
    track_id: str,
    coverage: CoverageConfig | None = None,
) -> DecodedTrack:
    """Decode the fragments of one file at ``sr`` Hz (``coverage``: all fragments of the plan or an evenly
    spread subset, see the module docstring). Raises :class:`AudioDecodeError` naming the file."""
    coverage = coverage or CoverageConfig()
    if coverage.mode == "full":
        decoded = load_audio(path, sr=sr)
        try:
            plan = plan_fragments(len(decoded.y) / decoded.sr, config=fragment_config, track_id=track_id)
        except AudioDecodeError as exc:
            raise AudioDecodeError(f"{path}: {exc}") from exc
        samples = fragment_samples(decoded.y, sr=decoded.sr, plan=plan)
        return DecodedTrack(decoded.duration_s, decoded.source_sr, decoded.channels, plan, samples)
    plans: list[FragmentPlan] = []

    def choose_starts(duration_s: float) -> np.ndarray:
        try:
            full = plan_fragments(duration_s, config=fragment_config, track_id=track_id)
        except AudioDecodeError as exc:
            raise AudioDecodeError(f"{path}: {exc}") from exc
        plans.append(spread_fragments(full, coverage.n_fragments))
        return plans[0].starts

    spans = load_spans(path, sr=sr, n_seconds=fragment_config.n_seconds, choose_starts=choose_starts)
    return DecodedTrack(spans.duration_s, spans.source_sr, spans.channels, plans[0], spans.samples)


def track_analysis(decoded: DecodedTrack, fragment_embeddings: np.ndarray, path: str | Path,
                   backend: EmbeddingBackend | None = None) -> TrackAnalysis:
    """The second half of :func:`analyse_file`: a decoded track and its fragment vectors, pooled by
    :func:`pool_fragments` (non-finite vectors raise :class:`AudioDecodeError` naming the file)."""
    if not np.all(np.isfinite(fragment_embeddings)):
        raise AudioDecodeError(f"{path}: the model produced non-finite embeddings")
    return TrackAnalysis(
        duration_s=decoded.duration_s,
        source_sr=decoded.source_sr,
        channels=decoded.channels,
        plan=decoded.plan,
        fragment_embeddings=fragment_embeddings,
        embedding=pool_fragments(fragment_embeddings, backend),
    )


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
    decoded = decode_track(path, sr=backend.audio.sample_rate, fragment_config=fragment_config, track_id=track_id,
                           coverage=coverage)
    return track_analysis(decoded, embed_fragments(decoded.samples, backend=backend), path, backend)
