"""Soft InfoNCE: InfoNCE whose negatives count less the more similar they are known to be."""

from __future__ import annotations

import torch

from embeddings.errors import ConfigError
from embeddings.losses.groups import GroupedLoss, check_batch, positive_mask, require_positives
from embeddings.losses.infonce import multi_positive_log_likelihood, similarity_logits


def negative_weights(similarity: torch.Tensor, negatives: torch.Tensor, beta: float) -> torch.Tensor:
    """``w_ij = 1 - beta * S_ij`` on negatives, rescaled so each anchor's negative weights average 1.

    ``similarity`` ``S`` and ``negatives`` are ``(N, N)``; entries off the negatives are 0. A row whose
    negatives are all fully similar (``beta * S = 1``) keeps uniform weights.
    """
    raw = (1.0 - beta * similarity).clamp_min(0.0) * negatives
    total = raw.sum(dim=1, keepdim=True)
    count = negatives.sum(dim=1, keepdim=True).to(raw.dtype)
    uniform = negatives.to(raw.dtype)
    return torch.where(total > 0, raw * count / total.clamp_min(1e-12), uniform)


class SoftInfoNCELoss(GroupedLoss):
    """Multi-positive InfoNCE with soft negatives.

    A known similarity ``S_ij`` in [0, 1] between batch items (lyrics, tags, the same artist...) turns
    "this negative is probably related" into a smaller weight ``w_ij`` in the denominator, so the model
    is pushed less hard away from near-duplicates it cannot tell apart::

        w_ij = (1 - beta * S_ij) * |N(i)| / sum_{n in N(i)} (1 - beta * S_in)      for j in N(i)
        l_i  = -1/|P(i)| * sum_{p in P(i)} log( exp(s_ip) /
                        (sum_{q in P(i)} exp(s_iq) + sum_{n in N(i)} w_in exp(s_in)) )

    with ``s_ij = cos(z_i, z_j) / tau``, ``P(i)`` the positives and ``N(i)`` the negatives of ``i``.
    The weights average 1 over each anchor's negatives, so uniform similarities (or ``beta = 0``) give
    exactly :class:`~embeddings.losses.infonce.InfoNCELoss`.

    After Li et al., "Rethinking Negative Pairs in Code Search" (EMNLP 2023), which weights negatives
    in the InfoNCE denominator by their estimated relevance.

    Args:
        temperature: ``tau > 0``.
        beta: in [0, 1], how strongly similarity down-weights a negative (0: plain InfoNCE).
    """

    uses_similarity = True

    def __init__(self, temperature: float = 0.1, beta: float = 0.5) -> None:
        super().__init__()
        if not temperature > 0:
            raise ConfigError(f"SoftInfoNCELoss temperature={temperature} must be > 0 (try 0.1)")
        if not 0.0 <= beta <= 1.0:
            raise ConfigError(f"SoftInfoNCELoss beta={beta} must be in [0, 1]")
        self.temperature = temperature
        self.beta = beta

    def forward(
        self,
        z: torch.Tensor,
        group_ids: torch.Tensor,
        similarity: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``z`` ``(N, D)``, ``group_ids`` ``(N,)``, ``similarity`` ``(N, N)`` in [0, 1] (required) -> scalar."""
        check_batch(z, group_ids, owner="SoftInfoNCELoss")
        n = z.shape[0]
        if similarity is None:
            raise ConfigError("SoftInfoNCELoss needs the (N, N) similarity of the batch items (e.g. shared tags)")
        if similarity.shape != (n, n):
            raise ConfigError(f"SoftInfoNCELoss: similarity must be ({n}, {n}), got {tuple(similarity.shape)}")
        similarity = similarity.to(device=z.device, dtype=torch.float32)
        if not bool(((similarity >= 0) & (similarity <= 1)).all()):
            raise ConfigError("SoftInfoNCELoss: similarity values must lie in [0, 1]")
        positives = positive_mask(group_ids)
        anchors = require_positives(positives, owner="SoftInfoNCELoss")
        negatives = group_ids[:, None] != group_ids[None, :]
        logits = similarity_logits(z.float(), self.temperature)
        weights = positives.float() + negative_weights(similarity, negatives, self.beta)
        # log sum_j w_ij exp(s_ij), computed stably; the diagonal has weight 0 and logit -inf
        log_denominator = torch.logsumexp(logits + torch.log(weights.clamp_min(1e-30)), dim=1, keepdim=True)
        log_prob = logits - log_denominator
        return -multi_positive_log_likelihood(log_prob, positives)[anchors].mean()
