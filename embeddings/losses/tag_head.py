"""Supervised multi-label tagging: binary cross-entropy and the seeds' metrics."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from embeddings.errors import ConfigError


def _check(logits: torch.Tensor, targets: torch.Tensor, owner: str) -> None:
    if logits.dim() != 2 or logits.shape != targets.shape:
        raise ConfigError(
            f"{owner}: logits and targets must both be (batch, n_tags), got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}"
        )


def hamming_accuracy(logits: torch.Tensor, targets: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Fraction of (item, tag) decisions right: ``mean[(sigma(x) > t) == y]`` over all ``B * T`` entries."""
    _check(logits, targets, "hamming_accuracy")
    return ((torch.sigmoid(logits) > threshold) == targets.bool()).float().mean()


def exact_match(logits: torch.Tensor, targets: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Fraction of items whose whole tag set is predicted exactly (subset accuracy)."""
    _check(logits, targets, "exact_match")
    return ((torch.sigmoid(logits) > threshold) == targets.bool()).all(dim=1).float().mean()


def tag_metrics(logits: torch.Tensor, targets: torch.Tensor, threshold: float = 0.5) -> dict[str, float]:
    """The seeds' three numbers: ``bce``, ``hamming_accuracy``, ``exact_match``."""
    _check(logits, targets, "tag_metrics")
    return {
        "bce": float(F.binary_cross_entropy_with_logits(logits.float(), targets.float())),
        "hamming_accuracy": float(hamming_accuracy(logits, targets, threshold)),
        "exact_match": float(exact_match(logits, targets, threshold)),
    }


class TagHeadLoss(nn.Module):
    """Mean binary cross-entropy over every (item, tag) entry of a multi-label target::

        L = -1/(B T) * sum_b sum_t [ w_t y_bt log sigma(x_bt) + (1 - y_bt) log(1 - sigma(x_bt)) ]

    with ``w_t = pos_weight`` for every tag (1: plain BCE; > 1 counters the rarity of positive tags).
    The multi-label BCE of the tagging literature, e.g. Choi, Fazekas & Sandler, "Automatic Tagging
    Using Deep Convolutional Neural Networks" (ISMIR 2016).

    Args:
        pos_weight: weight of the positive entries, > 0.
    """

    def __init__(self, pos_weight: float = 1.0) -> None:
        super().__init__()
        if not pos_weight > 0:
            raise ConfigError(f"TagHeadLoss pos_weight={pos_weight} must be > 0")
        self.pos_weight = pos_weight

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``logits`` and multi-hot ``targets`` ``(B, n_tags)`` -> scalar loss."""
        _check(logits, targets, "TagHeadLoss")
        weight = torch.tensor(self.pos_weight, device=logits.device)
        return F.binary_cross_entropy_with_logits(logits.float(), targets.float(), pos_weight=weight)
