"""Barlow Twins over every positive pair of a grouped batch."""

from __future__ import annotations

import torch

from embeddings.errors import ConfigError
from embeddings.losses.groups import GroupedLoss, check_batch, positive_mask


def positive_pairs(group_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(a, b)`` of all ordered pairs ``a != b`` in one group, each ``(P,)``; both orders appear."""
    a, b = torch.nonzero(positive_mask(group_ids), as_tuple=True)
    return a, b


def cross_correlation(za: torch.Tensor, zb: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``C = A^T B / P`` of the two ``(P, D)`` sides, each standardised over the pairs -> ``(D, D)``."""
    a = (za - za.mean(dim=0)) / (za.std(dim=0, unbiased=False) + eps)
    b = (zb - zb.mean(dim=0)) / (zb.std(dim=0, unbiased=False) + eps)
    return a.T @ b / za.shape[0]


def invariance_term(c: torch.Tensor) -> torch.Tensor:
    """``sum_k (1 - C_kk)^2``."""
    return (1.0 - torch.diagonal(c)).pow(2).sum()


def redundancy_term(c: torch.Tensor) -> torch.Tensor:
    """``sum_{k != l} C_kl^2``."""
    off = c - torch.diag(torch.diagonal(c))
    return off.pow(2).sum()


class BarlowTwinsLoss(GroupedLoss):
    """Multi-positive Barlow Twins.

    Every ordered pair ``(a, b)``, ``a != b``, of items in the same group is one "twin" pair (a group of
    ``m`` gives ``m (m - 1)`` pairs, so the loss is symmetric in the two sides). Stacking the pairs gives
    ``A = z[a]`` and ``B = z[b]`` ``(P, D)``; each is standardised per dimension over the ``P`` pairs and::

        C_kl = 1/P * sum_p A_pk B_pl
        L    = sum_k (1 - C_kk)^2 + lambda * sum_{k != l} C_kl^2

    The first term makes positives agree dimension by dimension, the second decorrelates dimensions.
    Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy Reduction" (ICML 2021); the
    multi-positive pairing lets playlists or tags define the twins.

    Args:
        lambda_offdiag: weight of the redundancy term; the paper's 5.1e-3.
    """

    def __init__(self, lambda_offdiag: float = 5.1e-3) -> None:
        super().__init__()
        if not lambda_offdiag >= 0:
            raise ConfigError(f"BarlowTwinsLoss lambda_offdiag={lambda_offdiag} must be >= 0 (try 5.1e-3)")
        self.lambda_offdiag = lambda_offdiag

    def forward(
        self,
        z: torch.Tensor,
        group_ids: torch.Tensor,
        similarity: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``z`` ``(N, D)``, ``group_ids`` ``(N,)`` -> scalar loss."""
        check_batch(z, group_ids, owner="BarlowTwinsLoss")
        a, b = positive_pairs(group_ids)
        if len(a) < 2:
            raise ConfigError(
                f"BarlowTwinsLoss: the batch has {len(a)} positive pair(s), needs at least 2 "
                "(sample at least two views per group)"
            )
        c = cross_correlation(z[a].float(), z[b].float())
        return invariance_term(c) + self.lambda_offdiag * redundancy_term(c)
