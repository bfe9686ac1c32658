"""InfoNCE / NT-Xent with any number of positives per anchor."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from embeddings.errors import ConfigError
from embeddings.losses.groups import GroupedLoss, check_batch, positive_mask, require_positives


def similarity_logits(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """``s_ij = cos(z_i, z_j) / tau`` with the diagonal at ``-inf`` (an item is never its own candidate)."""
    zn = F.normalize(z, dim=1)
    logits = zn @ zn.T / temperature
    return logits.masked_fill(torch.eye(len(z), dtype=torch.bool, device=z.device), float("-inf"))


def multi_positive_log_likelihood(log_prob: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-anchor mean of ``log_prob`` over its positives, ``(N,)`` (anchors without one give NaN)."""
    return log_prob.masked_fill(~mask, 0.0).sum(dim=1) / mask.sum(dim=1)


class InfoNCELoss(GroupedLoss):
    """Multi-positive InfoNCE (NT-Xent when every group holds exactly two views).

    With ``s_ij = cos(z_i, z_j) / tau``, ``P(i)`` the other members of ``i``'s group and ``A(i)`` every
    item but ``i``::

        l_i = -1/|P(i)| * sum_{p in P(i)} log( exp(s_ip) / sum_{a in A(i)} exp(s_ia) )
        L   = mean of l_i over the anchors with |P(i)| > 0

    This is the "L_out" supervised contrastive loss of Khosla et al., "Supervised Contrastive Learning"
    (NeurIPS 2020), which reduces to NT-Xent of Chen et al., "A Simple Framework for Contrastive Learning
    of Visual Representations" (SimCLR, ICML 2020) for pairs; InfoNCE is from van den Oord et al. (2018).

    Args:
        temperature: ``tau > 0``; SupCon's default 0.1.
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        if not temperature > 0:
            raise ConfigError(f"InfoNCELoss temperature={temperature} must be > 0 (try 0.1)")
        self.temperature = temperature

    def forward(
        self,
        z: torch.Tensor,
        group_ids: torch.Tensor,
        similarity: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``z`` ``(N, D)`` projections, ``group_ids`` ``(N,)`` -> scalar loss."""
        check_batch(z, group_ids, owner="InfoNCELoss")
        mask = positive_mask(group_ids)
        anchors = require_positives(mask, owner="InfoNCELoss")
        logits = similarity_logits(z.float(), self.temperature)
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        return -multi_positive_log_likelihood(log_prob, mask)[anchors].mean()
