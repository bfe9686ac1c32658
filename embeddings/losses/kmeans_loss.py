"""K-means loss: pull each embedding towards the centroid of its cluster (centroids given)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from embeddings.errors import ConfigError


def assign_clusters(z: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index of the nearest centroid (squared euclidean) of each L2-normalised row of ``z``: ``(N,)`` long."""
    return torch.cdist(F.normalize(z.float(), dim=1), centroids.float()).argmin(dim=1)


class KMeansLoss(nn.Module):
    """Mean squared distance of each L2-normalised embedding to its assigned centroid.

    With ``z_i`` the embeddings, ``u_i = z_i / ||z_i||`` and ``c_1..c_K`` fixed centroids (fitted by
    k-means on such normalised embeddings, so ``||c_k|| <= 1``)::

        a_i = argmin_k ||u_i - c_k||^2            (hard assignment, no gradient)
        L   = 1/N * sum_i ||u_i - c_{a_i}||^2      (gradient flows into z only; the centroids are constants)

    This is the clustering term of DCN, Yang et al., "Towards K-means-friendly Spaces: Simultaneous Deep
    Learning and Clustering" (ICML 2017), with the alternating scheme of DEC/DCN: centroids are refitted
    between passes over the data, the network is trained with them fixed. Alone it collapses every
    embedding onto its centroid; ctk only uses it next to the contrastive loss, weighted.
    ``L`` lies in ``[0, 4]``.
    """

    def forward(self, z: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
        """``z`` ``(N, D)`` embeddings, ``centroids`` ``(K, D)`` -> scalar loss."""
        if z.dim() != 2 or not z.is_floating_point() or z.shape[0] == 0:
            raise ConfigError(f"KMeansLoss: z must be a non-empty (N, D) float tensor, got {tuple(z.shape)} {z.dtype}")
        if centroids.dim() != 2 or centroids.shape[1] != z.shape[1] or centroids.shape[0] < 1:
            raise ConfigError(
                f"KMeansLoss: centroids must be (K, {z.shape[1]}) with K >= 1, got {tuple(centroids.shape)}"
            )
        u = F.normalize(z.float(), dim=1)
        c = centroids.detach().to(u)
        with torch.no_grad():
            assigned = torch.cdist(u, c).argmin(dim=1)
        return (u - c[assigned]).pow(2).sum(dim=1).mean()
