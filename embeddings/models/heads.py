"""Heads that sit on the pooled embedding during training: a projection head and a tag head.

Heads are data: ``ProjectionHead(dims=[256, 256, 128])`` is Linear-BatchNorm-ReLU between consecutive
widths and a plain Linear at the end (SimCLR, Chen et al. 2020; Barlow Twins' projector, Zbontar et al.
2021). Its output feeds the contrastive loss only; ctk stores the embedding *before* the head.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from embeddings.errors import ConfigError


class ProjectionHead(nn.Module):
    """``(B, dims[0]) -> (B, dims[-1])`` MLP; BatchNorm + ReLU after every layer but the last."""

    def __init__(self, dims: Sequence[int]) -> None:
        super().__init__()
        dims = [int(d) for d in dims]
        if len(dims) < 2 or any(d <= 0 for d in dims):
            raise ConfigError(f"ProjectionHead dims={dims} needs at least an input and an output width, all > 0")
        self.dims = dims
        layers: list[nn.Module] = []
        for i, (width_in, width_out) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            last = i == len(dims) - 2
            layers.append(nn.Linear(width_in, width_out, bias=last))
            if not last:
                layers += [nn.BatchNorm1d(width_out), nn.ReLU(inplace=True)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class TagHead(nn.Module):
    """Multi-label tag logits ``(B, n_tags)`` from embeddings ``(B, in_dim)`` (dropout + one Linear)."""

    def __init__(self, in_dim: int, n_tags: int, *, dropout: float = 0.1) -> None:
        super().__init__()
        if in_dim <= 0 or n_tags <= 0:
            raise ConfigError(f"TagHead in_dim={in_dim} and n_tags={n_tags} must be positive")
        self.n_tags = n_tags
        self.layers = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, n_tags))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
