"""Typed, frozen configuration of the audio front end.

A checkpoint and a library store both save these as plain dicts (``asdict``) so that
``ctk embed`` can rebuild the exact front end a model was trained with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from embeddings.errors import ConfigError


@dataclass(frozen=True)
class AudioConfig:
    """Decoding and log-mel parameters (librosa vocabulary).

    The log-mel of a fragment has shape ``(n_mels, n_frames)`` with
    ``n_frames = 1 + n_samples // hop_length`` (centred frames).
    """

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 20.0
    fmax: float = 11025.0
    top_db: float = 80.0

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ConfigError(f"sample_rate={self.sample_rate} must be positive")
        if self.n_fft <= 0 or self.hop_length <= 0 or self.n_mels <= 0:
            raise ConfigError(
                f"n_fft={self.n_fft}, hop_length={self.hop_length}, n_mels={self.n_mels} must be positive"
            )
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ConfigError(
                f"need 0 <= fmin={self.fmin} < fmax={self.fmax} <= sample_rate/2={self.sample_rate / 2}"
            )

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length


@dataclass(frozen=True)
class FragmentConfig:
    """How a track is cut into fragments.

    Fragments of ``n_seconds`` start every ``step`` seconds. Each is assigned to ``train`` or
    ``validation`` with ``validation_probability`` (seeded by the track id, so the split of a
    track never changes between runs). A train fragment that would overlap a validation
    fragment of the same track is labelled ``gap``: it is embedded for the track's pooled
    vector but used neither for training nor for validation.
    Tracks shorter than ``min_track_seconds`` are refused as too short; tracks between that
    and ``n_seconds`` give one fragment, looped to full length.
    """

    n_seconds: float = 10.0
    step: float = 10.0
    validation_probability: float = 0.1
    min_track_seconds: float = 3.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_seconds <= 0 or self.step <= 0:
            raise ConfigError(f"n_seconds={self.n_seconds} and step={self.step} must be positive")
        if not 0.0 <= self.validation_probability <= 1.0:
            raise ConfigError(f"validation_probability={self.validation_probability} must be in [0, 1]")
        if self.min_track_seconds <= 0:
            raise ConfigError(f"min_track_seconds={self.min_track_seconds} must be positive")


COVERAGES = ("full", "sampled")


@dataclass(frozen=True)
class CoverageConfig:
    """How much of each track ``ctk embed`` decodes and embeds.

    ``full``: every fragment of the plan (the whole track is decoded). ``sampled``: at most
    ``n_fragments`` fragments of the plan, spread evenly from the first to the last, and only their
    spans are decoded, so the cost of a track stops growing with its length. A track with no more
    fragments than that is embedded in full either way.
    """

    mode: str = "sampled"
    n_fragments: int = 5

    def __post_init__(self) -> None:
        if self.mode not in COVERAGES:
            raise ConfigError(f"coverage={self.mode!r} must be one of {', '.join(COVERAGES)}")
        if self.n_fragments < 1:
            raise ConfigError(f"n_fragments={self.n_fragments} must be at least 1")


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a config dataclass from a dict, refusing unknown keys with a clear message."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
    return cls(**data)


def config_to_dict(config: Any) -> dict[str, Any]:
    return asdict(config)
