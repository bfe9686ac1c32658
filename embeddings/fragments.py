"""Cutting a track into fragments and assigning each to train or validation.

Fragments of ``n_seconds`` start every ``step`` seconds. The split is drawn per fragment
with ``validation_probability`` from a generator seeded by the track id, so it is the same on
every run and machine. A train fragment that overlaps a validation fragment of the same
track becomes ``gap`` (embedded, but used neither to train nor to validate), so no audio is
ever shared between a train and a validation fragment.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from embeddings.config import FragmentConfig
from embeddings.errors import AudioDecodeError

TRAIN, VALIDATION, GAP = "train", "validation", "gap"


@dataclass(frozen=True)
class FragmentPlan:
    """Where the fragments of one track start and which split each belongs to."""

    starts: np.ndarray  # (k,) float64 seconds
    splits: tuple[str, ...]
    n_seconds: float


def _split_rng(track_id: str, seed: int) -> np.random.Generator:
    digest = hashlib.blake2b(f"{seed}:{track_id}".encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def plan_fragments(duration_s: float, *, config: FragmentConfig, track_id: str) -> FragmentPlan:
    """Fragment starts and splits for a track of ``duration_s`` seconds.

    Raises :class:`AudioDecodeError` when the track is shorter than ``min_track_seconds``.
    """
    if duration_s < config.min_track_seconds:
        raise AudioDecodeError(f"too short ({duration_s:.1f} s < {config.min_track_seconds:.1f} s)")
    n, step = config.n_seconds, config.step
    if duration_s < n:
        starts = np.zeros(1)
    else:
        starts = np.arange(0.0, duration_s - n + 1e-9, step)
    is_val = _split_rng(track_id, config.seed).random(len(starts)) < config.validation_probability
    splits = np.where(is_val, VALIDATION, TRAIN).astype(object)
    val_starts = starts[is_val]
    if len(val_starts):
        overlaps = np.abs(starts[:, None] - val_starts[None, :]) < n - 1e-9
        splits[~is_val & overlaps.any(axis=1)] = GAP
    return FragmentPlan(starts=starts, splits=tuple(splits.tolist()), n_seconds=n)


def spread_fragments(plan: FragmentPlan, n_fragments: int) -> FragmentPlan:
    """At most ``n_fragments`` of ``plan``'s fragments, evenly spread from its first to its last (both
    kept), with their splits unchanged; ``plan`` itself when it has no more than that."""
    if n_fragments < 1:
        raise ValueError(f"n_fragments={n_fragments} must be at least 1")
    k = len(plan.starts)
    if k <= n_fragments:
        return plan
    keep = np.unique(np.round(np.linspace(0, k - 1, n_fragments)).astype(np.int64))
    return FragmentPlan(starts=plan.starts[keep], splits=tuple(plan.splits[i] for i in keep), n_seconds=plan.n_seconds)


def fragment_samples(y: np.ndarray, *, sr: int, plan: FragmentPlan) -> np.ndarray:
    """The fragments of ``y`` as one ``(k, n_samples)`` float32 array (a track shorter than a
    fragment is looped to full length)."""
    n = int(round(plan.n_seconds * sr))
    if len(y) < n:
        y = np.resize(y, n)
    offsets = np.round(plan.starts * sr).astype(np.int64)
    offsets = np.minimum(offsets, len(y) - n)
    return np.stack([y[o : o + n] for o in offsets]).astype(np.float32, copy=False)


@dataclass(frozen=True)
class Fragment:
    index: int
    start_s: float
    split: str
    samples: np.ndarray


def fragment_track(y: np.ndarray, *, sr: int, config: FragmentConfig, track_id: str) -> list[Fragment]:
    """Plan and cut the fragments of one decoded track (see :func:`plan_fragments`)."""
    plan = plan_fragments(len(y) / sr, config=config, track_id=track_id)
    samples = fragment_samples(y, sr=sr, plan=plan)
    return [
        Fragment(index=i, start_s=float(s), split=split, samples=samples[i])
        for i, (s, split) in enumerate(zip(plan.starts, plan.splits, strict=True))
    ]
