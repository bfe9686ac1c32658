"""A spectrogram Transformer over log-mel patches, read top to bottom.

    log-mel (B, n_mels, n_frames)
      -> per-fragment standardisation           (B, 1, n_mels, n_frames)
      -> patches of patch_freq x patch_time     (B, d_model, n_freq, n_time)  one Conv2d, as in ViT/AST
      -> tokens                                 (B, N = n_freq * n_time, d_model)
      -> n_layers pre-norm blocks               attention through F.scaled_dot_product_attention,
                                                positions as an additive bias (ALiBi), rotated
                                                queries/keys (RoPE) or a learned table (see positional.py)
      -> LayerNorm, mean over the N tokens      (B, d_model)
      -> linear                                 (B, embedding_dim)   <- the embedding ctk stores

Pooling is the mean over all patch tokens rather than a [CLS] token: a mean needs no position of its
own (ALiBi and RoPE have no natural place for a [CLS]), weighs every time-frequency region alike, and
gives the same kind of vector for a 10 s fragment and a 20 s input, which is what lets a model
trained on fragments embed longer inputs. The projection head that follows in training
(:class:`~embeddings.models.heads.ProjectionHead`) is only for the loss: as in SimCLR (Chen et al.
2020), the layers right before a contrastive loss learn to discard what the loss does not reward
(key, level, the exact mix), so the representation before the head transfers better to retrieval,
clustering and probing. Embeddings are therefore this pooled vector, never the projection.

Standardising each fragment (zero mean, unit variance over all its bins) makes the model blind to
the overall level of a recording, which differs between masters of the same music.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from embeddings.errors import ConfigError
from embeddings.models.config import EncoderConfig
from embeddings.models.positional import apply_rotary, build_positional


def standardize(log_mels: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Zero mean, unit variance per item over its last two axes ``(..., n_mels, n_frames)``."""
    mean = log_mels.mean(dim=(-2, -1), keepdim=True)
    std = log_mels.std(dim=(-2, -1), keepdim=True, unbiased=False)
    return (log_mels - mean) / (std + eps)


def normalise_input(log_mels: torch.Tensor, config: EncoderConfig) -> torch.Tensor:
    """The encoder's input map: per-fragment :func:`standardize` or the fixed dB map of ``config``."""
    if config.input_norm == "fixed":
        return (log_mels - config.input_mean_db) / config.input_std_db
    return standardize(log_mels)


class Attention(nn.Module):
    """Multi-head self-attention; positions enter as a bias (``attn_mask``) or as rotations."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)

    def forward(
        self,
        x: torch.Tensor,
        bias: torch.Tensor | None,
        rotary: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> torch.Tensor:
        """``x`` ``(B, N, d_model)``; ``bias`` ``(H, N, N)``; ``rotary`` two ``(N, head_dim)`` tables."""
        batch, n_tokens, width = x.shape
        q, k, v = self.qkv(x).view(batch, n_tokens, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)  # (B, H, N, hd)
        if rotary is not None:
            cos, sin = (t.to(q.dtype) for t in rotary)
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        mask = None if bias is None else bias.to(q.dtype).unsqueeze(0)  # (1, H, N, N), broadcast over B
        # no dropout on the attention probabilities: drawing a (B, H, N, N) mask costs more on a CPU than
        # the attention itself; dropout (when configured) acts on the residual branches instead
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(batch, n_tokens, width))


class Block(nn.Module):
    """Pre-norm Transformer block: ``x + attn(LN(x))``, then ``x + mlp(LN(x))``."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        hidden = int(round(config.mlp_ratio * config.d_model))
        self.norm1 = nn.LayerNorm(config.d_model)
        self.attn = Attention(config)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, hidden),
            nn.GELU(),
            nn.Linear(hidden, config.d_model),
            nn.Dropout(config.dropout),
        )
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, bias, rotary):
        x = x + self.drop(self.attn(self.norm1(x), bias, rotary))
        return x + self.mlp(self.norm2(x))


class SpectrogramTransformer(nn.Module):
    """Log-mels ``(B, n_mels, n_frames)`` -> pooled embeddings ``(B, embedding_dim)``.

    Any ``n_frames`` works; inputs shorter than one patch are padded by repetition.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        if config.arch != "transformer":
            raise ConfigError(f"SpectrogramTransformer needs arch='transformer', got {config.arch!r}")
        self.config = config
        self.patch = nn.Conv2d(
            1,
            config.d_model,
            kernel_size=(config.patch_freq, config.patch_time),
            stride=(config.stride_freq, config.stride_time),
        )
        self.positional = build_positional(config)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)
        if config.embedding_dim == config.d_model:
            self.to_embedding: nn.Module = nn.Identity()
        else:
            self.to_embedding = nn.Linear(config.d_model, config.embedding_dim)
        self.apply(_init_weights)

    def forward_tokens(self, log_mels: torch.Tensor, *, time_offset: int = 0) -> torch.Tensor:
        """The final normalised tokens ``(B, N, d_model)`` of log-mels ``(B, n_mels, n_frames)``.

        ``time_offset`` numbers the first time patch (for a window cut from a longer input); the
        relative variants (ALiBi, RoPE) give the same result for any offset.
        """
        if log_mels.dim() != 3 or log_mels.shape[1] != self.config.n_mels:
            raise ConfigError(
                f"expected log-mels (batch, n_mels={self.config.n_mels}, n_frames), got {tuple(log_mels.shape)}"
            )
        x = normalise_input(log_mels, self.config).unsqueeze(1)  # (B, 1, n_mels, n_frames)
        if x.shape[-1] < self.config.patch_time:
            repeats = -(-self.config.patch_time // x.shape[-1])
            x = x.repeat(1, 1, 1, repeats)[..., : self.config.patch_time]
        x = self.patch(x)  # (B, d_model, n_freq, n_time)
        grid = (x.shape[-2], x.shape[-1])
        x = x.flatten(2).transpose(1, 2)  # (B, N, d_model), frequency-major
        x = self.drop(self.positional.add(x, grid))
        bias = self.positional.attention_bias(grid, time_offset=time_offset, device=x.device)
        rotary = self.positional.rotary(grid, time_offset=time_offset, device=x.device)
        for block in self.blocks:
            x = block(x, bias, rotary)
        return self.norm(x)

    def forward(self, log_mels: torch.Tensor) -> torch.Tensor:
        """Pooled embeddings ``(B, embedding_dim)``: mean over tokens, then a linear map."""
        return self.to_embedding(self.forward_tokens(log_mels).mean(dim=1))


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
