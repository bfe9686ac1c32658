"""Contrastive losses across devices: every process scores its anchors against the negatives of all of them.

Under DistributedDataParallel (one process per device, started by ``torchrun``) each process sees only its own
batch. A contrastive loss computed on that local batch would only use local negatives: with 8 devices of 64
items each, every anchor would meet 63 candidates instead of 511, a weaker and different objective from
training on one device with the global batch. :class:`CrossDeviceLoss` wraps a batch loss of the form
``loss(z, group_ids)`` (:class:`~embeddings.losses.InfoNCELoss`, :class:`~embeddings.losses.BarlowTwinsLoss`):

1. the projections of every process are gathered with ``torch.distributed.nn.functional.all_gather``, the
   autograd-aware gather (its backward sums the gradients of each piece back onto the process that owns it;
   the plain ``torch.distributed.all_gather`` would cut the gradient to the other processes' items);
2. the group ids are gathered too (no gradient); they must already be global (e.g. track indices), so two
   processes never give different tracks the same id;
3. the wrapped loss is computed on the concatenated global batch, in rank order.

Every process so computes the same value, the single-device loss of the global batch. Each process's gradient
with respect to its own items is then ``world_size`` times that loss's gradient (every process's copy of the
loss reaches them through the gather's backward), and DDP *averages* parameter gradients across processes,
so the update equals single-device training on the global batch (tested on 2 CPU processes with gloo: same
loss, same gradients). This is the pattern of SimCLR's and CLIP's multi-device training (Chen et al. 2020;
Radford et al. 2021). Batches of different sizes per process are padded for the gather and trimmed after.

Outside a distributed run (``torch.distributed`` not initialised, or one process) the wrapper is the loss
itself.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` ``(n_rank, ...)`` from every process, concatenated in rank order, with the gradient
    flowing back to each process's own rows. Row counts may differ between processes."""
    if not _distributed():
        return x
    from torch.distributed.nn.functional import all_gather

    counts = [torch.zeros(1, dtype=torch.long, device=x.device) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, torch.tensor([x.shape[0]], dtype=torch.long, device=x.device))
    sizes = [int(c.item()) for c in counts]
    longest = max(sizes)
    padded = x
    if x.shape[0] < longest:
        padded = torch.cat([x, x.new_zeros((longest - x.shape[0], *x.shape[1:]))])
    if x.requires_grad:
        pieces = all_gather(padded)
    else:
        pieces = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(pieces, padded.contiguous())
    return torch.cat([piece[:size] for piece, size in zip(pieces, sizes, strict=True)])


class CrossDeviceLoss(nn.Module):
    """``loss(z, group_ids)`` computed on the batch of all processes (module docstring).

    Args:
        loss: a batch loss taking ``(z (N, D), group_ids (N,))``.
    """

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, z: torch.Tensor, group_ids: torch.Tensor) -> torch.Tensor:
        """``z`` ``(n_rank, D)`` local projections, ``group_ids`` ``(n_rank,)`` global ids -> the scalar loss of
        the global batch (the same on every process)."""
        return self.loss(gather_rows(z), gather_rows(group_ids))
