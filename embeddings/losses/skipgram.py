"""Skip-gram with negative sampling over grouped items (word2vec's objective, item2vec's use of it)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from embeddings.errors import ConfigError
from embeddings.losses.groups import GroupedLoss, check_batch, positive_mask


def sample_negatives(
    group_ids: torch.Tensor, anchors: torch.Tensor, k: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``k`` indices per anchor drawn uniformly, with replacement, from items of other groups: ``(P, k)``.

    Raises :class:`ConfigError` when an anchor's group is the whole batch.
    """
    others = group_ids[anchors][:, None] != group_ids[None, :]  # (P, N)
    if not bool(others.any(dim=1).all()):
        raise ConfigError("SkipGramLoss: an anchor has no item of another group in the batch to sample")
    weights = others.float()
    return torch.multinomial(weights, k, replacement=True, generator=generator)


def pair_scores(z: torch.Tensor, i: torch.Tensor, j: torch.Tensor, temperature: float) -> torch.Tensor:
    """``cos(z_i, z_j) / tau`` for index tensors of equal shape."""
    zn = F.normalize(z, dim=-1)
    return (zn[i] * zn[j]).sum(dim=-1) / temperature


class SkipGramLoss(GroupedLoss):
    """Skip-gram negative sampling: positives pulled together, ``k`` random negatives pushed apart.

    For every ordered positive pair ``(i, j)`` (same group, ``i != j``) and negatives ``n_1..n_k`` drawn
    uniformly from the other groups, with ``s_ij = cos(z_i, z_j) / tau`` and ``sigma`` the logistic::

        l_ij = -log sigma(s_ij) - sum_{m=1..k} log sigma(-s_{i n_m})
        L    = mean of l_ij over the positive pairs

    Mikolov et al., "Distributed Representations of Words and Phrases and their Compositionality"
    (NeurIPS 2013); Barkan & Koenigstein, "Item2Vec" (2016) for items co-occurring in sets (playlists).
    Scores use cosine / tau instead of raw dot products so the scale cannot run away.

    Args:
        k: negatives per positive pair (word2vec uses 5-20).
        temperature: ``tau > 0``.
    """

    def __init__(self, k: int = 5, temperature: float = 0.1) -> None:
        super().__init__()
        if k < 1:
            raise ConfigError(f"SkipGramLoss k={k} must be >= 1")
        if not temperature > 0:
            raise ConfigError(f"SkipGramLoss temperature={temperature} must be > 0")
        self.k = k
        self.temperature = temperature

    def forward(
        self,
        z: torch.Tensor,
        group_ids: torch.Tensor,
        similarity: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        negatives: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``z`` ``(N, D)``, ``group_ids`` ``(N,)``; ``negatives`` ``(P, k)`` indices for the ``P`` positive
        pairs in row-major order of the positive mask (drawn with ``generator`` when omitted)."""
        check_batch(z, group_ids, owner="SkipGramLoss")
        i, j = torch.nonzero(positive_mask(group_ids), as_tuple=True)
        if len(i) == 0:
            raise ConfigError(f"SkipGramLoss: no positive pair in the batch of {len(group_ids)}")
        if negatives is None:
            negatives = sample_negatives(group_ids, i, self.k, generator=generator)
        elif negatives.dim() != 2 or negatives.shape[0] != len(i):
            raise ConfigError(f"SkipGramLoss: negatives must be ({len(i)}, k), got {tuple(negatives.shape)}")
        z = z.float()
        positive = F.logsigmoid(pair_scores(z, i, j, self.temperature))
        negative = F.logsigmoid(-pair_scores(z, i[:, None].expand_as(negatives), negatives, self.temperature))
        return -(positive + negative.sum(dim=1)).mean()
