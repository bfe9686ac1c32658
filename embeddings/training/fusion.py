"""Contrastive training of the fusion model on stored vectors: ``train_fusion`` and ``fuse``.

Each step draws ``batch_size`` tracks and makes two views of each: a *fused* view (a random half of the
track's fragment vectors plus its lyric runs, some runs dropped) and an *audio-only* view (the other half of
the fragments, no lyrics; a one-fragment track uses its fragment in both). The halves share no fragment, so
the views cannot be matched by an identical fragment vector. The two views of a track are positives, as are
tracks that share a ``group`` (a playlist, a tag, a folder) when groups are given; everything else in the
batch is a negative. With
``negative_weights="lyrics"`` the loss is Soft InfoNCE and negatives whose lyrics resemble the anchor's
count less (:func:`embeddings.lyrics.lyric_similarity`); with ``"none"`` it is plain InfoNCE.

Nothing here decodes audio: the inputs are the fragment vectors of the audio model and the lyric run
vectors of the text encoder, as ``ctk embed --lyrics`` stores them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from embeddings.errors import ConfigError
from embeddings.fusion_config import NEGATIVE_WEIGHTS, FusionConfig, FusionTrainConfig
from embeddings.losses import InfoNCELoss, SoftInfoNCELoss
from embeddings.lyrics.similarity import lyric_similarity
from embeddings.models.fusion import FusionModel, save_fusion
from embeddings.training.metrics_log import MetricsLog

__all__ = ["NEGATIVE_WEIGHTS", "FusionResult", "FusionTrack", "FusionTrainConfig", "fuse", "train_fusion"]

@dataclass(frozen=True)
class FusionTrack:
    """One track's stored vectors: ``audio`` ``(n_fragments, audio_dim)``, ``lyrics`` ``(k, text_dim)`` lyric
    run vectors or None (no lyrics), and an optional ``group`` whose members are positives of each other."""

    audio: np.ndarray
    lyrics: np.ndarray | None = None
    group: str | None = None


@dataclass(frozen=True)
class FusionResult:
    model: FusionModel
    losses: list[float]
    out_dir: Path | None


def _check_tracks(tracks: Sequence[FusionTrack], config: FusionConfig) -> None:
    for i, t in enumerate(tracks):
        if t.audio.ndim != 2 or t.audio.shape[1] != config.audio_dim or len(t.audio) == 0:
            raise ConfigError(f"track {i}: audio must be (n >= 1, {config.audio_dim}), got {t.audio.shape}")
        if t.lyrics is not None and (t.lyrics.ndim != 2 or t.lyrics.shape[1] != config.text_dim or len(t.lyrics) == 0):
            raise ConfigError(f"track {i}: lyrics must be (k >= 1, {config.text_dim}) or None, got {t.lyrics.shape}")


def _pad(rows: Sequence[np.ndarray | None], dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(n_i, dim)`` arrays (None: no rows) into ``(B, max n_i, dim)`` and a bool mask of the real rows."""
    width = max(1, max(0 if r is None else len(r) for r in rows))
    out = np.zeros((len(rows), width, dim), dtype=np.float32)
    mask = np.zeros((len(rows), width), dtype=bool)
    for i, r in enumerate(rows):
        if r is not None:
            out[i, : len(r)] = r
            mask[i, : len(r)] = True
    return torch.from_numpy(out), torch.from_numpy(mask)


def _audio_views(audio: np.ndarray, rng: np.random.Generator, most: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random halves of the fragments (in time order, at most ``most`` each)."""
    if len(audio) == 1:
        return audio, audio
    order = rng.permutation(len(audio))
    half = math.ceil(len(audio) / 2)
    return audio[np.sort(order[:half][:most])], audio[np.sort(order[half:][:most])]


def _lyrics_view(lyrics: np.ndarray | None, rng: np.random.Generator, dropout: float) -> np.ndarray | None:
    if lyrics is None:
        return None
    keep = rng.random(len(lyrics)) >= dropout
    keep[rng.integers(len(lyrics))] = True  # never drop every run: that view would lose its lyrics
    return lyrics[keep]


def _lyric_track_vectors(tracks: Sequence[FusionTrack], text_dim: int) -> tuple[np.ndarray, np.ndarray]:
    has = np.array([t.lyrics is not None for t in tracks])
    vectors = np.zeros((len(tracks), text_dim), dtype=np.float32)
    for i, t in enumerate(tracks):
        if t.lyrics is not None:
            vectors[i] = t.lyrics.mean(axis=0)
    vectors[has & (np.linalg.norm(vectors, axis=1) == 0)] = 1.0  # degenerate all-zero runs: any direction
    return vectors, has


def train_fusion(
    tracks: Sequence[FusionTrack],
    *,
    model_config: FusionConfig,
    config: FusionTrainConfig = FusionTrainConfig(),
    out_dir: str | Path | None = None,
    info: dict[str, Any] | None = None,
) -> FusionResult:
    """Train a :class:`FusionModel` on ``tracks`` (fused vs audio-only views) and, with ``out_dir``, save it
    there with ``metrics.jsonl`` (one ``{"kind": "train", "step", "loss"}`` line per step)."""
    _check_tracks(tracks, model_config)
    if len(tracks) < 2:
        raise ConfigError(f"train_fusion needs at least 2 tracks, got {len(tracks)}")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = FusionModel(model_config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn: torch.nn.Module
    if config.negative_weights == "lyrics":
        loss_fn = SoftInfoNCELoss(temperature=config.temperature, beta=config.beta)
        similarity = torch.from_numpy(lyric_similarity(*_lyric_track_vectors(tracks, model_config.text_dim)))
    else:
        loss_fn = InfoNCELoss(temperature=config.temperature)
    groups = {g: i for i, g in enumerate(dict.fromkeys(t.group for t in tracks if t.group is not None))}
    group_of = np.array([groups[t.group] if t.group is not None else len(groups) + i for i, t in enumerate(tracks)])
    log = None
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "metrics.jsonl").unlink(missing_ok=True)
        log = MetricsLog(Path(out_dir) / "metrics.jsonl")
    losses = []
    batch = min(config.batch_size, len(tracks))
    for step in range(1, config.steps + 1):
        picked = rng.choice(len(tracks), size=batch, replace=False)
        fused_audio, plain_audio = zip(*(_audio_views(tracks[i].audio, rng, config.max_audio_tokens) for i in picked))
        lyric_rows = [_lyrics_view(tracks[i].lyrics, rng, config.lyric_dropout) for i in picked]
        audio, audio_mask = _pad(fused_audio, model_config.audio_dim)
        lyrics, lyrics_mask = _pad(lyric_rows, model_config.text_dim)
        z_fused = model(audio, audio_mask, lyrics, lyrics_mask)
        z_audio = model(*_pad(plain_audio, model_config.audio_dim))
        z = torch.cat([z_fused, z_audio])
        group_ids = torch.from_numpy(np.concatenate([group_of[picked], group_of[picked]]))
        if config.negative_weights == "lyrics":
            items = np.concatenate([picked, picked])
            loss = loss_fn(z, group_ids, similarity[items][:, items])
        else:
            loss = loss_fn(z, group_ids)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if log is not None:
            log.write({"kind": "train", "step": step, "loss": losses[-1]})
    model.eval()
    if log is not None:
        log.close()
        meta = {"training": asdict(config), "steps": config.steps, "final_loss": losses[-1], **(info or {})}
        save_fusion(model, out_dir, info=meta)
    return FusionResult(model=model, losses=losses, out_dir=None if out_dir is None else Path(out_dir))


@torch.no_grad()
def fuse(model: FusionModel, tracks: Sequence[FusionTrack], *, batch_size: int = 64, lyrics: bool = True) -> np.ndarray:
    """Fused vectors ``(n, embedding_dim)`` of ``tracks`` from all their fragments (and lyric runs unless
    ``lyrics=False``: the audio-only path); L2-normalised float32."""
    _check_tracks(tracks, model.config)
    model = model.eval()
    out = []
    for start in range(0, len(tracks), batch_size):
        chunk = tracks[start : start + batch_size]
        audio, audio_mask = _pad([t.audio.astype(np.float32) for t in chunk], model.config.audio_dim)
        if lyrics:
            z = model(audio, audio_mask, *_pad([t.lyrics for t in chunk], model.config.text_dim))
        else:
            z = model(audio, audio_mask)
        out.append(torch.nn.functional.normalize(z, dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.embedding_dim), dtype=np.float32)
