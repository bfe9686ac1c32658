"""Augmentations of log-mel fragments, applied on the spectrogram (no re-decoding, no STFT).

Each transform is a small pure function on one ``(n_mels, n_frames)`` log-mel in dB; the random
parameters come from a ``torch.Generator`` so a seeded run is repeatable. ``SpectrogramAugment``
chains them with the probabilities of an :class:`AugmentConfig`; ``MultiViewTransform`` returns N
independently augmented views of one input.

Approximations, on purpose: a pitch shift is a shift along the mel axis (a mel band is roughly a
constant musical interval above ~1 kHz), a tempo change is a resampling of the time axis with
``torch.nn.functional.interpolate``; both are cheap and good enough for small amounts. Masking
follows SpecAugment (Park et al., Interspeech 2019); mixing adds another track's power at a low
level (as in BYOL-A's mixup, Niizumi et al. 2021).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from embeddings.errors import ConfigError

_DB = 10.0 / math.log(10.0)  # dB per neper of power


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of each augmentation (probabilities are per item).

    ``crop_frames``: length of the random crop (``None``: the input length). Ranges: gain uniform in
    ``+-gain_db``; the mixed-in track at ``mix_db`` dB (uniform between the two) relative to the item;
    pitch shifts of up to ``pitch_bins`` mel bands either way; tempo factors in ``1 +- tempo``;
    ``n_time_masks`` masks of up to ``time_mask_frames`` frames and ``n_freq_masks`` of up to
    ``freq_mask_bins`` bands.
    """

    crop_frames: int | None = None
    p_gain: float = 0.5
    gain_db: float = 6.0
    p_mix: float = 0.3
    mix_db: tuple[float, float] = (-20.0, -10.0)
    p_pitch: float = 0.3
    pitch_bins: int = 2
    p_tempo: float = 0.3
    tempo: float = 0.08
    p_time_mask: float = 0.5
    n_time_masks: int = 2
    time_mask_frames: int = 40
    p_freq_mask: float = 0.5
    n_freq_masks: int = 2
    freq_mask_bins: int = 12

    def __post_init__(self) -> None:
        object.__setattr__(self, "mix_db", tuple(float(v) for v in self.mix_db))
        for name in ("p_gain", "p_mix", "p_pitch", "p_tempo", "p_time_mask", "p_freq_mask"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name}={value} must be a probability in [0, 1]")
        if self.crop_frames is not None and self.crop_frames < 1:
            raise ConfigError(f"crop_frames={self.crop_frames} must be >= 1 (or None for the input length)")
        if len(self.mix_db) != 2 or self.mix_db[0] > self.mix_db[1]:
            raise ConfigError(f"mix_db={list(self.mix_db)} must be [low, high] with low <= high")
        if not 0.0 <= self.tempo < 0.5:
            raise ConfigError(f"tempo={self.tempo} must be in [0, 0.5)")
        counts = {
            "gain_db": self.gain_db,
            "pitch_bins": self.pitch_bins,
            "n_time_masks": self.n_time_masks,
            "time_mask_frames": self.time_mask_frames,
            "n_freq_masks": self.n_freq_masks,
            "freq_mask_bins": self.freq_mask_bins,
        }
        bad = [f"{k}={v}" for k, v in counts.items() if v < 0]
        if bad:
            raise ConfigError(f"{', '.join(bad)} must be >= 0")

    @classmethod
    def none(cls, crop_frames: int | None = None) -> AugmentConfig:
        """No augmentation at all (a plain crop when ``crop_frames`` is given)."""
        return cls(crop_frames=crop_frames, p_gain=0, p_mix=0, p_pitch=0, p_tempo=0, p_time_mask=0, p_freq_mask=0)


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _randint(generator: torch.Generator, low: int, high: int) -> int:
    """Uniform integer in ``[low, high]`` (inclusive)."""
    return int(torch.randint(low, high + 1, (), generator=generator))


def random_crop(x: torch.Tensor, *, n_frames: int, generator: torch.Generator) -> torch.Tensor:
    """A random window of ``n_frames`` of ``x`` ``(n_mels, T)``; a shorter input is tiled first."""
    length = x.shape[-1]
    if length < n_frames:
        x = x.repeat(1, -(-n_frames // length))
        length = x.shape[-1]
    start = _randint(generator, 0, length - n_frames)
    return x[:, start : start + n_frames]


def gain(x: torch.Tensor, *, db: float) -> torch.Tensor:
    """Louder or quieter by ``db`` (an offset of a dB spectrogram)."""
    return x + db


def mix(x: torch.Tensor, other: torch.Tensor, *, db: float) -> torch.Tensor:
    """Power sum of ``x`` and ``other`` shifted by ``db``: ``10 log10(10^(x/10) + 10^((o+db)/10))``."""
    return torch.logaddexp(x / _DB, (other + db) / _DB) * _DB


def pitch_shift(x: torch.Tensor, *, bins: int) -> torch.Tensor:
    """Shift ``x`` ``(n_mels, T)`` up (``bins > 0``) or down along the mel axis; vacated bands get the floor."""
    if bins == 0:
        return x
    floor = x.min()
    out = torch.full_like(x, float(floor))
    if bins > 0:
        out[bins:] = x[:-bins]
    else:
        out[:bins] = x[-bins:]
    return out


def time_stretch(x: torch.Tensor, *, rate: float) -> torch.Tensor:
    """Tempo change by ``rate`` (> 1 faster: fewer frames) via linear resampling of the time axis."""
    if rate <= 0:
        raise ConfigError(f"rate={rate} must be positive")
    n_out = max(1, round(x.shape[-1] / rate))
    return F.interpolate(x[None], size=n_out, mode="linear", align_corners=False)[0]


def time_mask(x: torch.Tensor, *, start: int, width: int) -> torch.Tensor:
    """Frames ``[start, start + width)`` set to the mean of ``x``."""
    out = x.clone()
    out[:, start : start + width] = x.mean()
    return out


def freq_mask(x: torch.Tensor, *, start: int, width: int) -> torch.Tensor:
    """Mel bands ``[start, start + width)`` set to the mean of ``x``."""
    out = x.clone()
    out[start : start + width] = x.mean()
    return out


class SpectrogramAugment:
    """Random tempo -> crop -> pitch -> gain -> mix -> masks, each with its probability.

    Call on one ``(n_mels, T)`` log-mel, with an optional ``other`` log-mel to mix in; returns
    ``(n_mels, crop_frames or T)``.
    """

    def __init__(self, config: AugmentConfig | None = None) -> None:
        self.config = config or AugmentConfig()

    def __call__(
        self, x: torch.Tensor, *, generator: torch.Generator, other: torch.Tensor | None = None
    ) -> torch.Tensor:
        c = self.config
        n_frames = c.crop_frames or x.shape[-1]

        def happens(p: float) -> bool:
            return p > 0 and float(torch.rand((), generator=generator)) < p

        if happens(c.p_tempo):
            x = time_stretch(x, rate=_uniform(generator, 1 - c.tempo, 1 + c.tempo))
        x = random_crop(x, n_frames=n_frames, generator=generator)
        if happens(c.p_pitch) and c.pitch_bins:
            x = pitch_shift(x, bins=_randint(generator, -c.pitch_bins, c.pitch_bins))
        if happens(c.p_gain):
            x = gain(x, db=_uniform(generator, -c.gain_db, c.gain_db))
        if other is not None and happens(c.p_mix):
            partner = random_crop(other, n_frames=n_frames, generator=generator)
            # level relative to the item: align the partner's peak with the item's first
            offset = float(x.max() - partner.max()) + _uniform(generator, *c.mix_db)
            x = mix(x, partner, db=offset)
        if happens(c.p_time_mask):
            for _ in range(c.n_time_masks):
                width = _randint(generator, 0, min(c.time_mask_frames, n_frames))
                x = time_mask(x, start=_randint(generator, 0, n_frames - width), width=width)
        if happens(c.p_freq_mask):
            n_mels = x.shape[0]
            for _ in range(c.n_freq_masks):
                width = _randint(generator, 0, min(c.freq_mask_bins, n_mels))
                x = freq_mask(x, start=_randint(generator, 0, n_mels - width), width=width)
        return x

    def batch(
        self, x: torch.Tensor, *, generator: torch.Generator, group_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Augment every item of ``x`` ``(B, n_mels, T)``; mixing partners come from another group of
        the batch (``group_ids`` ``(B,)``), never from the item's own."""
        out = []
        for i in range(len(x)):
            other = None
            if group_ids is not None and self.config.p_mix > 0:
                candidates = torch.nonzero(group_ids != group_ids[i]).flatten()
                if len(candidates):
                    other = x[candidates[_randint(generator, 0, len(candidates) - 1)]]
            out.append(self(x[i], generator=generator, other=other))
        return torch.stack(out)


class MultiViewTransform:
    """N views of one input, each through its own transform (``transforms``) or the same one ``n_views``
    times with independent randomness."""

    def __init__(
        self,
        transforms: list[Callable[..., torch.Tensor]] | None = None,
        *,
        transform: Callable[..., torch.Tensor] | None = None,
        n_views: int = 2,
    ) -> None:
        if transforms is None:
            if transform is None or n_views < 1:
                raise ConfigError(f"MultiViewTransform needs transforms, or a transform and n_views={n_views} >= 1")
            transforms = [transform] * n_views
        self.transforms = list(transforms)

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator, **kwargs) -> list[torch.Tensor]:
        return [t(x, generator=generator, **kwargs) for t in self.transforms]
