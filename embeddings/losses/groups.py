"""What every grouped loss shares: checking a batch and turning group ids into a positive mask.

A batch is ``z`` ``(N, D)`` plus ``group_ids`` ``(N,)``: items with equal ids are positives of each
other (fragments of one track, tracks of one playlist, tracks sharing a tag), all others negatives.
Every such loss is a :class:`GroupedLoss`, called the same way by the training loop.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from embeddings.errors import ConfigError


class GroupedLoss(nn.Module):
    """Base of the contrastive losses: one call signature for the training loop::

        loss(z, group_ids, similarity=None, *, generator=None) -> scalar

    ``z`` ``(N, D)`` projections; ``group_ids`` ``(N,)`` integers (equal ids: positives); ``similarity``
    ``(N, N)`` in [0, 1], a known similarity of the items (shared tags, lyrics...) that a loss with
    ``uses_similarity`` turns into per-pair negative weights (the loop computes it only for those);
    ``generator`` seeds the losses that sample. A loss reads what it needs and ignores the rest.
    """

    #: whether ``forward`` needs ``similarity`` (the loop passes ``None`` otherwise)
    uses_similarity: ClassVar[bool] = False


def check_batch(z: torch.Tensor, group_ids: torch.Tensor, *, owner: str) -> None:
    """Raise :class:`ConfigError` unless ``z`` is ``(N, D)`` floating and ``group_ids`` is ``(N,)`` integer."""
    if z.dim() != 2 or not z.is_floating_point():
        raise ConfigError(f"{owner}: z must be a 2-D float tensor (N, D), got shape {tuple(z.shape)} {z.dtype}")
    if group_ids.dim() != 1 or group_ids.shape[0] != z.shape[0]:
        raise ConfigError(
            f"{owner}: group_ids must have shape ({z.shape[0]},) to match z {tuple(z.shape)}, "
            f"got {tuple(group_ids.shape)}"
        )
    if group_ids.is_floating_point():
        raise ConfigError(f"{owner}: group_ids must be integers, got {group_ids.dtype}")


def positive_mask(group_ids: torch.Tensor) -> torch.Tensor:
    """``(N, N)`` bool: ``True`` where ``i != j`` and both are in the same group."""
    same = group_ids[:, None] == group_ids[None, :]
    return same & ~torch.eye(len(group_ids), dtype=torch.bool, device=group_ids.device)


def require_positives(mask: torch.Tensor, *, owner: str) -> torch.Tensor:
    """Anchors that have at least one positive, ``(N,)`` bool; refuses a batch with none."""
    has = mask.any(dim=1)
    if not bool(has.any()):
        raise ConfigError(
            f"{owner}: no item of the batch of {mask.shape[0]} shares a group with another; "
            "sample at least two views per group"
        )
    return has
