import math

import pytest
import torch

from embeddings.models.positional import (
    ALiBi,
    LearnedPositional,
    RoPE1D,
    RoPE2D,
    alibi_slopes,
    apply_rotary,
    build_positional,
    patch_positions,
)


def test_patch_positions_are_frequency_major():
    time, freq = patch_positions((2, 3))
    assert time.tolist() == [0, 1, 2, 0, 1, 2]
    assert freq.tolist() == [0, 0, 0, 1, 1, 1]


def test_alibi_slopes_follow_the_paper():
    assert alibi_slopes(8).tolist() == pytest.approx([2 ** -(i + 1) for i in range(8)])
    assert alibi_slopes(4).tolist() == pytest.approx([2**-2, 2**-4, 2**-6, 2**-8])


def test_alibi1d_bias_is_minus_slope_times_time_distance():
    bias = ALiBi(2, "time").attention_bias((2, 3))
    slopes = alibi_slopes(2)
    time, _ = patch_positions((2, 3))
    for h in range(2):
        for i in range(6):
            for j in range(6):
                assert bias[h, i, j].item() == pytest.approx(-slopes[h].item() * abs(time[i] - time[j]).item())


def test_alibi2d_bias_uses_euclidean_patch_distance():
    bias = ALiBi(4, "grid").attention_bias((3, 4))
    slopes = alibi_slopes(4)
    time, freq = patch_positions((3, 4))
    i, j = 1, 10  # (f=0, t=1) and (f=2, t=2)
    expected = -slopes * math.hypot(time[i] - time[j], freq[i] - freq[j])
    assert torch.allclose(bias[:, i, j], expected)
    assert torch.allclose(bias, bias.transpose(1, 2))
    assert torch.all(bias.diagonal(dim1=1, dim2=2) == 0)


@pytest.mark.parametrize("module", [ALiBi(4, "time"), ALiBi(4, "grid")])
def test_alibi_bias_ignores_time_offset(module):
    assert torch.allclose(module.attention_bias((2, 5)), module.attention_bias((2, 5), time_offset=37))


def _dot_products(module, grid, offset, head_dim):
    generator = torch.Generator().manual_seed(0)
    n = grid[0] * grid[1]
    q = torch.randn(1, 1, n, head_dim, generator=generator)
    k = torch.randn(1, 1, n, head_dim, generator=generator)
    cos, sin = module.rotary(grid, time_offset=offset)
    return apply_rotary(q, cos, sin) @ apply_rotary(k, cos, sin).transpose(-1, -2)


@pytest.mark.parametrize("module", [RoPE1D(16), RoPE2D(16)])
def test_rope_scores_depend_only_on_relative_position(module):
    assert torch.allclose(_dot_products(module, (2, 5), 0, 16), _dot_products(module, (2, 5), 40, 16), atol=1e-4)


@pytest.mark.parametrize("module", [RoPE1D(16), RoPE2D(16)])
def test_rope_preserves_norms(module):
    x = torch.randn(2, 3, 10, 16)
    cos, sin = module.rotary((2, 5))
    assert torch.allclose(apply_rotary(x, cos, sin).norm(dim=-1), x.norm(dim=-1), atol=1e-5)


def test_rope2d_rotates_with_frequency_but_rope1d_does_not():
    cos1, _ = RoPE1D(16).rotary((2, 3))
    cos2, _ = RoPE2D(16).rotary((2, 3))
    # tokens 0 and 3 share a time index but sit on different frequency rows
    assert torch.allclose(cos1[0], cos1[3])
    assert not torch.allclose(cos2[0], cos2[3])


def test_learned_table_is_interpolated_for_a_longer_grid():
    module = LearnedPositional(8, (2, 4))
    tokens = torch.zeros(1, 8, 8)
    assert torch.allclose(module.add(tokens, (2, 4)), module.table.flatten(2).transpose(1, 2))
    longer = module.add(torch.zeros(1, 16, 8), (2, 8))
    assert longer.shape == (1, 16, 8)
    assert torch.isfinite(longer).all()


def test_build_positional_picks_the_variant(tiny):
    kinds = {"alibi1d": ALiBi, "alibi2d": ALiBi, "rope1d": RoPE1D, "rope2d": RoPE2D, "learned": LearnedPositional}
    for name, cls in kinds.items():
        assert type(build_positional(tiny(positional=name))) is cls
    # the two ALiBi variants differ by their distance only: along time, or Euclidean on the grid
    time_only, grid = (build_positional(tiny(positional=k)).attention_bias((2, 2)) for k in ("alibi1d", "alibi2d"))
    assert time_only[0, 0, 2] == 0 and grid[0, 0, 2] < 0  # tokens 0 and 2: same time, other frequency row
    none = build_positional(tiny(positional="none"))
    assert none.attention_bias((2, 2)) is None and none.rotary((2, 2)) is None
