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

import torch
import torch.nn.functional as F

from embeddings.config import AugmentConfig
from embeddings.errors import ConfigError

_DB = 10.0 / math.log(10.0)  # dB per neper of power


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
