import math

import pytest
import torch

from embeddings.augment import (
    AugmentConfig,
    MultiViewTransform,
    SpectrogramAugment,
    freq_mask,
    gain,
    mix,
    pitch_shift,
    random_crop,
    time_mask,
    time_stretch,
)
from embeddings.errors import ConfigError


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _mel(n_mels=16, frames=40, seed=0):
    return torch.randn(n_mels, frames, generator=_gen(seed)) * 10 - 20


def test_random_crop_takes_a_window_and_tiles_short_inputs():
    x = torch.arange(40.0).expand(4, 40)
    crop = random_crop(x, n_frames=10, generator=_gen(1))
    start = int(crop[0, 0])
    assert torch.equal(crop, x[:, start : start + 10])
    short = random_crop(torch.arange(3.0).expand(2, 3), n_frames=7, generator=_gen(2))
    assert short.shape == (2, 7) and set(short[0].tolist()) == {0.0, 1.0, 2.0}


def test_gain_and_mix_in_db():
    x = torch.full((2, 3), 10.0)
    assert torch.equal(gain(x, db=-3.0), torch.full((2, 3), 7.0))
    # equal powers add up to +3.01 dB
    assert torch.allclose(mix(x, x, db=0.0), torch.full((2, 3), 10 + 10 * math.log10(2)), atol=1e-5)
    # a track 60 dB lower barely changes anything
    assert torch.allclose(mix(x, x, db=-60.0), x, atol=1e-4)


def test_pitch_shift_moves_along_the_mel_axis():
    x = torch.arange(5.0)[:, None].expand(5, 3)
    up = pitch_shift(x, bins=2)
    assert up[:, 0].tolist() == [0.0, 0.0, 0.0, 1.0, 2.0]
    down = pitch_shift(x, bins=-1)
    assert down[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 0.0]
    assert torch.equal(pitch_shift(x, bins=0), x)


def test_time_stretch_resamples_time():
    x = torch.linspace(0, 1, 100).expand(3, 100)
    faster = time_stretch(x, rate=1.25)
    assert faster.shape == (3, 80)
    assert faster[0, 0] < 0.02 and faster[0, -1] > 0.98  # same content, fewer frames
    assert time_stretch(x, rate=0.5).shape == (3, 200)
    with pytest.raises(ConfigError, match="rate=0"):
        time_stretch(x, rate=0)


def test_masks_fill_with_the_mean():
    x = _mel()
    masked = time_mask(x, start=5, width=3)
    assert torch.all(masked[:, 5:8] == x.mean()) and torch.equal(masked[:, 8:], x[:, 8:])
    masked = freq_mask(x, start=2, width=4)
    assert torch.all(masked[2:6] == x.mean()) and torch.equal(masked[:2], x[:2])


def test_augment_is_seeded_and_keeps_the_shape():
    aug = SpectrogramAugment(AugmentConfig(crop_frames=32, p_gain=1, p_mix=1, p_pitch=1, p_tempo=1))
    x, other = _mel(), _mel(seed=5)
    a = aug(x, generator=_gen(3), other=other)
    b = aug(x, generator=_gen(3), other=other)
    c = aug(x, generator=_gen(4), other=other)
    assert a.shape == (16, 32)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.isfinite(a).all()


def test_no_augmentation_is_a_plain_crop():
    x = _mel()
    out = SpectrogramAugment(AugmentConfig.none())(x, generator=_gen(0))
    assert torch.equal(out, x)


def test_batch_mixes_only_with_other_groups():
    # group 0 is silent-ish (-100 dB), group 1 loud: mixing group 0 items with group 1 raises them,
    # while an item of group 1 mixed with another group-1 item would be the forbidden case
    x = torch.stack([torch.full((4, 8), -100.0), torch.full((4, 8), -100.0), torch.full((4, 8), 0.0)])
    config = AugmentConfig(p_gain=0, p_mix=1, mix_db=(0.0, 0.0), p_pitch=0, p_tempo=0, p_time_mask=0, p_freq_mask=0)
    out = SpectrogramAugment(config).batch(x, generator=_gen(0), group_ids=torch.tensor([0, 0, 1]))
    # items of group 0 got the partner of group 1 at their own peak level: +3 dB
    assert torch.allclose(out[0], torch.full((4, 8), -100 + 10 * math.log10(2)), atol=1e-4)
    assert torch.allclose(out[2], torch.full((4, 8), 10 * math.log10(2)), atol=1e-4)


def test_multi_view_returns_n_different_views():
    views = MultiViewTransform(transform=SpectrogramAugment(AugmentConfig(crop_frames=20)), n_views=3)(
        _mel(), generator=_gen(0)
    )
    assert len(views) == 3 and all(v.shape == (16, 20) for v in views)
    assert not torch.equal(views[0], views[1])
    with pytest.raises(ConfigError, match="n_views=0"):
        MultiViewTransform(transform=SpectrogramAugment(), n_views=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"p_gain": 1.5}, "p_gain=1.5"), ({"crop_frames": 0}, "crop_frames=0"), ({"mix_db": (0, -5)}, "mix_db")],
)
def test_bad_config(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        AugmentConfig(**kwargs)
