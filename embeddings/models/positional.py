"""Where a patch is: the six positional variants of the spectrogram Transformer.

Tokens come from a grid of ``n_freq`` x ``n_time`` patches flattened frequency-major
(token ``i`` sits at frequency row ``i // n_time`` and time column ``i % n_time``). Each variant
acts through at most one of three hooks, all identities in the base class:

- ``add(tokens, grid)``: absolute embeddings added to the tokens (``learned``);
- ``attention_bias(grid)``: an additive ``(n_heads, N, N)`` bias handed to
  ``scaled_dot_product_attention`` as ``attn_mask`` (``alibi1d``, ``alibi2d``);
- ``rotary(grid)``: ``(cos, sin)`` tables, each ``(N, head_dim)``, that rotate queries and keys
  (``rope1d``, ``rope2d``).

ALiBi and RoPE depend only on the *difference* of positions, so they are unchanged when the
input is longer than the training fragments (they extrapolate); the learned table is resized
by bilinear interpolation.

References: Press, Smith & Lewis, "Train Short, Test Long: Attention with Linear Biases Enables
Input Length Extrapolation" (ICLR 2022); Fuller, Millard & Green, "CROMA" (NeurIPS 2023) for
2-D ALiBi with Euclidean patch distance; Su et al., "RoFormer: Enhanced Transformer with Rotary
Position Embedding" (2021); Heo et al., "Rotary Position Embedding for Vision Transformer"
(ECCV 2024) for axial 2-D RoPE.
"""

from __future__ import annotations

import torch
from torch import nn

from embeddings.models.config import EncoderConfig

#: Rotation base of RoPE. A patch grid is at most a few hundred positions long, so the small base
#: of RoPE-ViT (100) spreads the rotation frequencies over that range instead of 10 000's.
ROPE_BASE = 100.0


def patch_positions(
    grid: tuple[int, int], *, time_offset: int = 0, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Time and frequency index of every token of a ``(n_freq, n_time)`` grid, each ``(N,)`` float32."""
    n_freq, n_time = grid
    freq = torch.arange(n_freq, device=device, dtype=torch.float32).repeat_interleave(n_time)
    time = torch.arange(n_time, device=device, dtype=torch.float32).repeat(n_freq) + time_offset
    return time, freq


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Per-head slopes ``m_h = 2^(-8 h / H)`` for ``h = 1..H`` (Press et al. 2022), shape ``(H,)``."""
    h = torch.arange(1, n_heads + 1, dtype=torch.float32)
    return torch.pow(2.0, -8.0 * h / n_heads)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``(x1, x2) -> (-x2, x1)`` over the two halves of the last axis."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` ``(B, H, N, head_dim)`` by the angle tables ``cos``/``sin`` ``(N, head_dim)``."""
    return x * cos + rotate_half(x) * sin


def _rope_tables(positions: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables ``(N, dim)`` for positions ``(N,)``; frequency ``base^(-2k/dim)`` for pair ``k``."""
    inv_freq = ROPE_BASE ** (-torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32) / dim)
    angles = positions[:, None] * inv_freq[None, :]  # (N, dim/2)
    angles = torch.cat((angles, angles), dim=-1)  # pairs (k, k + dim/2) share an angle: rotate_half layout
    return angles.cos(), angles.sin()


class Positional(nn.Module):
    """No positional information at all (``none``); the base of the other variants."""

    def add(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Tokens ``(B, N, d_model)`` -> tokens with absolute position embeddings added."""
        return tokens

    def attention_bias(self, grid: tuple[int, int], *, time_offset: int = 0, device=None) -> torch.Tensor | None:
        """Additive attention bias ``(H, N, N)`` or ``None``."""
        return None

    def rotary(
        self, grid: tuple[int, int], *, time_offset: int = 0, device=None
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(cos, sin)`` rotation tables ``(N, head_dim)`` for queries and keys, or ``None``."""
        return None


#: patch distances of the ALiBi variants, from the time and frequency differences ``(N, N)`` of two tokens
ALIBI_DISTANCES = {
    "time": lambda dt, df: dt.abs(),  # alibi1d: frequency rows are not told apart
    "grid": lambda dt, df: torch.sqrt(dt**2 + df**2),  # alibi2d: Euclidean distance on the patch grid
}


class ALiBi(Positional):
    """Bias ``-m_h d(i, j)``: the patch distance ``d`` (:data:`ALIBI_DISTANCES`) times a per-head slope."""

    def __init__(self, n_heads: int, distance: str) -> None:
        super().__init__()
        self.distance = ALIBI_DISTANCES[distance]
        self.register_buffer("slopes", alibi_slopes(n_heads), persistent=False)

    def attention_bias(self, grid, *, time_offset=0, device=None):
        time, freq = patch_positions(grid, time_offset=time_offset, device=self.slopes.device)
        distance = self.distance(time[:, None] - time[None, :], freq[:, None] - freq[None, :])
        return -self.slopes[:, None, None] * distance


class RoPE1D(Positional):
    """All head dimensions rotate with the time index of the patch."""

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.head_dim = head_dim

    def rotary(self, grid, *, time_offset=0, device=None):
        time, _ = patch_positions(grid, time_offset=time_offset, device=device)
        return _rope_tables(time, self.head_dim)


class RoPE2D(Positional):
    """Axial RoPE: the first half of each head rotates with time, the second half with frequency."""

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.head_dim = head_dim

    def rotary(self, grid, *, time_offset=0, device=None):
        time, freq = patch_positions(grid, time_offset=time_offset, device=device)
        half = self.head_dim // 2
        cos_t, sin_t = _rope_tables(time, half)
        cos_f, sin_f = _rope_tables(freq, half)
        # apply_rotary rotates halves of the whole head; lay the axial tables out to match: the time
        # pairs are (k, k + head_dim/2) for k < head_dim/4, the frequency pairs the rest.
        quarter = half // 2
        cos = torch.cat((cos_t[:, :quarter], cos_f[:, :quarter], cos_t[:, quarter:], cos_f[:, quarter:]), dim=-1)
        sin = torch.cat((sin_t[:, :quarter], sin_f[:, :quarter], sin_t[:, quarter:], sin_f[:, quarter:]), dim=-1)
        return cos, sin


class LearnedPositional(Positional):
    """A learned ``(d_model, n_freq, n_time)`` table sized for the training fragments; another grid
    (a longer input) gets the table resized by bilinear interpolation."""

    def __init__(self, d_model: int, grid: tuple[int, int]) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(1, d_model, *grid))
        nn.init.trunc_normal_(self.table, std=0.02)

    def add(self, tokens, grid):
        table = self.table
        if tuple(table.shape[-2:]) != tuple(grid):
            table = nn.functional.interpolate(table, size=grid, mode="bilinear", align_corners=False)
        return tokens + table.flatten(2).transpose(1, 2)


def build_positional(config: EncoderConfig) -> Positional:
    """The positional module named by ``config.positional``."""
    kind = config.positional
    if kind in ("alibi1d", "alibi2d"):
        return ALiBi(config.n_heads, "time" if kind == "alibi1d" else "grid")
    if kind == "rope1d":
        return RoPE1D(config.head_dim)
    if kind == "rope2d":
        return RoPE2D(config.head_dim)
    if kind == "learned":
        return LearnedPositional(config.d_model, config.grid(config.n_frames))
    return Positional()
