"""DEC loss: KL divergence from a sharpened target to the Student-t soft cluster assignments."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from embeddings.errors import ConfigError


def soft_assignments(
    u: torch.Tensor, centroids: torch.Tensor, *, alpha: float = 1.0, scale: float = 1.0
) -> torch.Tensor:
    """DEC's ``Q``: ``q_ij ~ (1 + ||u_i - c_j||^2 / (alpha * scale))^-((alpha + 1) / 2)``, rows sum to 1.

    A Student-t kernel with ``alpha`` degrees of freedom; ``scale`` is the squared distance that counts as
    one unit (DEC works at the natural scale of its features, ctk's unit vectors have distances in [0, 2]).
    """
    d2 = torch.cdist(u, centroids).pow(2) / scale
    q = (1.0 + d2 / alpha).pow(-(alpha + 1.0) / 2.0)
    return q / q.sum(dim=1, keepdim=True)


def target_distribution(q: torch.Tensor, frequencies: torch.Tensor | None = None) -> torch.Tensor:
    """DEC's sharpened target ``P``: ``p_ij`` proportional to ``q_ij^2 / f_j``, rows sum to 1.

    ``f_j`` is the soft size of cluster ``j`` (``sum_i q_ij``; given, e.g. over a whole library, or taken
    from ``q``'s rows). Squaring sharpens each row; dividing by ``f_j`` keeps large clusters from taking over.
    """
    f = q.sum(dim=0) if frequencies is None else frequencies.to(q)
    w = q.pow(2) / f.clamp_min(1e-12)
    return w / w.sum(dim=1, keepdim=True)


class DECLoss(nn.Module):
    """Self-training clustering loss of DEC/IDEC on L2-normalised embeddings, centroids given.

    With ``u_i = z_i / ||z_i||``, ``Q`` the Student-t soft assignments of ``u_i`` to the centroids and ``P``
    the sharpened target computed from ``Q`` without gradient::

        L = 1/N * sum_i KL(P_i || Q_i) = 1/N * sum_ij p_ij * (log p_ij - log q_ij)

    Minimising it moves each embedding towards the centroids it is already most confident about, and
    more so the more confident it is (the high-confidence assignments teach the rest). Xie, Girshick &
    Farhadi, "Unsupervised Deep Embedding for Clustering Analysis" (ICML 2016); kept next to a
    reconstruction-like loss (ctk: the contrastive loss) it is IDEC, Guo et al. (IJCAI 2017), which
    preserves local structure that DEC alone distorts. Unlike DEC the centroids are constants here (refitted
    by k-means between passes, the alternating scheme of :class:`~embeddings.losses.KMeansLoss`).
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        if not alpha > 0:
            raise ConfigError(f"DECLoss: alpha={alpha} must be > 0 (degrees of freedom of the Student-t kernel)")
        self.alpha = alpha

    def forward(
        self,
        z: torch.Tensor,
        centroids: torch.Tensor,
        *,
        scale: float = 1.0,
        frequencies: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``z`` ``(N, D)`` embeddings, ``centroids`` ``(K, D)``, ``frequencies`` ``(K,)`` or None -> scalar."""
        if z.dim() != 2 or not z.is_floating_point() or z.shape[0] == 0:
            raise ConfigError(f"DECLoss: z must be a non-empty (N, D) float tensor, got {tuple(z.shape)} {z.dtype}")
        if centroids.dim() != 2 or centroids.shape[1] != z.shape[1] or centroids.shape[0] < 2:
            raise ConfigError(f"DECLoss: centroids must be (K, {z.shape[1]}) with K >= 2, got {tuple(centroids.shape)}")
        if not scale > 0:
            raise ConfigError(f"DECLoss: scale={scale} must be > 0")
        u = F.normalize(z.float(), dim=1)
        q = soft_assignments(u, centroids.detach().to(u), alpha=self.alpha, scale=scale)
        with torch.no_grad():
            p = target_distribution(q, frequencies)
        return (p * (torch.log(p.clamp_min(1e-12)) - torch.log(q.clamp_min(1e-12)))).sum(dim=1).mean()
