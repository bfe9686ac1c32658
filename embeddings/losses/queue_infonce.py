"""Multi-positive InfoNCE whose candidates include a queue of past keys (MoCo's memory)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from embeddings.errors import ConfigError
from embeddings.losses.groups import check_batch, positive_mask, require_positives
from embeddings.losses.infonce import multi_positive_log_likelihood, similarity_logits


def queue_logits(z: torch.Tensor, keys: torch.Tensor, temperature: float) -> torch.Tensor:
    """``s_ik = cos(z_i, k_k) / tau`` of every anchor with every queued key, ``(B, Q)``."""
    return F.normalize(z, dim=1) @ F.normalize(keys, dim=1).T / temperature


def check_keys(z: torch.Tensor, keys: torch.Tensor, key_ids: torch.Tensor, *, owner: str) -> None:
    """Raise :class:`ConfigError` unless ``keys`` is ``(Q, D)`` floating like ``z`` and ``key_ids`` ``(Q,)`` integer."""
    if keys.dim() != 2 or not keys.is_floating_point() or keys.shape[1] != z.shape[1]:
        raise ConfigError(
            f"{owner}: keys must be a 2-D float tensor (Q, {z.shape[1]}) to match z {tuple(z.shape)}, "
            f"got shape {tuple(keys.shape)} {keys.dtype}"
        )
    if key_ids.dim() != 1 or key_ids.shape[0] != keys.shape[0] or key_ids.is_floating_point():
        raise ConfigError(
            f"{owner}: key_ids must be integers of shape ({keys.shape[0]},) to match keys, "
            f"got {tuple(key_ids.shape)} {key_ids.dtype}"
        )


class QueueInfoNCELoss(nn.Module):
    """Multi-positive InfoNCE over the batch and a queue of keys from earlier batches.

    With ``s_ij = cos(z_i, z_j) / tau`` for two batch items, ``s_ik = cos(z_i, k_k) / tau`` for a queued key,
    ``A(i)`` every other batch item and every key, ``P(i)`` those of ``A(i)`` whose group is ``i``'s::

        l_i = -1/|P(i)| * sum_{p in P(i)} log( exp(s_ip) / sum_{a in A(i)} exp(s_ia) )
        L   = mean of l_i over the anchors with |P(i)| > 0

    Group ids must mean the same in the batch and in the queue (a global group number, not a batch slot):
    keys of the anchor's group are more positives, all other keys more negatives. With an empty queue this
    is :class:`~embeddings.losses.InfoNCELoss` exactly. The keys carry no gradient (they come from a momentum
    copy of the model, see :mod:`embeddings.training.queue`).

    The queue of keys from a slowly moving encoder is He et al., "Momentum Contrast for Unsupervised Visual
    Representation Learning" (MoCo, CVPR 2020); positives by label among the queued keys as in Khosla et al.,
    "Supervised Contrastive Learning" (SupCon, NeurIPS 2020), whose "L_out" form this is.

    Args:
        temperature: ``tau > 0``; SupCon's default 0.1.
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        if not temperature > 0:
            raise ConfigError(f"QueueInfoNCELoss temperature={temperature} must be > 0 (try 0.1)")
        self.temperature = temperature

    def forward(
        self, z: torch.Tensor, group_ids: torch.Tensor, keys: torch.Tensor, key_ids: torch.Tensor
    ) -> torch.Tensor:
        """``z`` ``(B, D)`` projections, ``group_ids`` ``(B,)`` global group ids, ``keys`` ``(Q, D)`` queued
        keys, ``key_ids`` ``(Q,)`` their group ids (``Q`` may be 0) -> scalar loss."""
        check_batch(z, group_ids, owner="QueueInfoNCELoss")
        check_keys(z, keys, key_ids, owner="QueueInfoNCELoss")
        key_ids = key_ids.to(group_ids.device)
        mask = torch.cat([positive_mask(group_ids), group_ids[:, None] == key_ids[None, :]], dim=1)
        anchors = require_positives(mask, owner="QueueInfoNCELoss")
        z = z.float()
        logits = torch.cat(
            [similarity_logits(z, self.temperature), queue_logits(z, keys.float().to(z.device), self.temperature)],
            dim=1,
        )
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        return -multi_positive_log_likelihood(log_prob, mask)[anchors].mean()
