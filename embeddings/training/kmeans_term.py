"""The k-means term of ``train(...)`` for k-means-friendly fine-tuning (``TrainConfig.kmeans_weight > 0``).

Alternating scheme, as in DEC/DCN (Yang et al., ICML 2017, "Towards K-means-friendly Spaces"): at the
start of every epoch the current model embeds (eval mode, full fragments, no augmentation) up to
``kmeans_fragments`` of the training fragments, scikit-learn's ``KMeans`` fits ``kmeans_k`` centroids on
the L2-normalised embeddings, and during the epoch :class:`~embeddings.losses.KMeansLoss` pulls each
batch embedding towards its nearest (fixed) centroid. The same pass gives the collapse check
(effective rank, uniformity) of the training embeddings, so the first refit is the "before" of a run and
a last pass after training the "after". The centroids and these reports are part of the resumable state.

``kind="dec"`` (``TrainConfig.cluster_loss``) swaps the hard term for :class:`~embeddings.losses.DECLoss`
against the same centroids: soft Student-t assignments whose unit of squared distance is the fit's mean
squared distance to the nearest centroid (so the kernel is as soft on a tight space as on a loose one), and
a sharpened target whose cluster sizes are the soft sizes over all the embedded fragments of the refit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import nn

from embeddings.collapse import collapse_report
from embeddings.errors import CtkError
from embeddings.losses import DECLoss, KMeansLoss, soft_assignments
from embeddings.training.data import LogMelCache


def fragment_sample(n_train: Sequence[int], max_fragments: int, *, seed: int) -> list[tuple[int, int]]:
    """``(track, train fragment)`` pairs: all of them, or a seeded random ``max_fragments`` (sorted by track)."""
    items = [(t, f) for t, n in enumerate(n_train) for f in range(n)]
    if len(items) > max_fragments:
        keep = np.random.default_rng(seed).choice(len(items), max_fragments, replace=False)
        items = [items[i] for i in sorted(keep)]
    return items


@torch.no_grad()
def embed_items(
    model: nn.Module, cache: LogMelCache, items: Sequence[tuple[int, int]], *, batch_size: int, device: str
) -> np.ndarray:
    """Embeddings ``(len(items), embedding_dim)`` float32 of train fragments, computed in eval mode."""
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(items), batch_size):
        mels = torch.stack([cache.get(t)[f] for t, f in items[i : i + batch_size]]).float().to(device)
        embeddings, _ = model(mels)
        out.append(embeddings.float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(out)


class KMeansTerm:
    """Centroids refitted each epoch on the training fragments, plus :class:`KMeansLoss` (``kind="kmeans"``)
    or :class:`DECLoss` (``kind="dec"``) against them.

    ``n_train``: the number of train fragments of each track; up to ``max_fragments`` of them (a seeded
    sample, the same for every refit) are embedded by :meth:`refit`.
    """

    def __init__(
        self, *, k: int, weight: float, max_fragments: int, seed: int, n_train: Sequence[int], kind: str = "kmeans"
    ) -> None:
        if kind not in ("kmeans", "dec"):
            raise CtkError(f"clustering term kind={kind!r} must be kmeans or dec")
        self.k, self.weight, self.max_fragments, self.seed, self.kind = k, weight, max_fragments, seed, kind
        self.items = fragment_sample(n_train, max_fragments, seed=seed)
        self.loss_fn = DECLoss() if kind == "dec" else KMeansLoss()
        self.centroids: torch.Tensor | None = None
        self.scale = 1.0  # DEC: the unit of squared distance (mean squared distance to the nearest centroid)
        self.frequencies: torch.Tensor | None = None  # DEC: soft cluster sizes over the refit's fragments
        self.epoch = -1  # the epoch the centroids were fitted for
        self.before: dict[str, Any] | None = None  # collapse report of the first fit

    def needs_refit(self, epoch: int) -> bool:
        return self.centroids is None or self.epoch != epoch

    def refit(
        self, model: nn.Module, cache: LogMelCache, *, epoch: int, batch_size: int, device: str
    ) -> dict[str, Any]:
        """Embed the sampled train fragments with ``model`` (eval mode) and :meth:`fit` the centroids on them."""
        embedded = embed_items(model, cache, self.items, batch_size=batch_size, device=device)
        return self.fit(embedded, epoch=epoch)

    def fit(self, embeddings: np.ndarray, *, epoch: int) -> dict[str, Any]:
        """Fit ``k`` centroids on the unit rows of ``embeddings`` ``(n, d)``; returns the log record fields."""
        u = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
        k = min(self.k, len(u))
        km = KMeans(n_clusters=k, n_init=4, random_state=self.seed + max(epoch, 0)).fit(u)
        self.centroids = torch.from_numpy(km.cluster_centers_.astype(np.float32))
        self.epoch = epoch
        sizes = np.bincount(km.labels_, minlength=k)
        if self.kind == "dec":
            self.scale = max(float(km.inertia_ / len(u)), 1e-6)
            with torch.no_grad():
                q = soft_assignments(torch.from_numpy(u.astype(np.float32)), self.centroids, scale=self.scale)
            self.frequencies = q.sum(dim=0)
        report = {
            **collapse_report(embeddings),
            "kmeans_inertia_mean": float(km.inertia_ / len(u)),  # = KMeansLoss on these embeddings
            "cluster_sizes": sorted((int(s) for s in sizes), reverse=True),
            "n_fragments": int(len(u)),
        }
        if self.before is None:
            self.before = report
        return report

    def loss(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Unweighted clustering loss of ``embeddings`` ``(B, D)`` against the current centroids."""
        if self.centroids is None:
            raise CtkError(f"{self.kind} term (k={self.k}): loss() called before fit(); no centroids yet")
        centroids = self.centroids.to(embeddings.device)
        if self.kind == "dec":
            return self.loss_fn(embeddings, centroids, scale=self.scale, frequencies=self.frequencies)
        return self.loss_fn(embeddings, centroids)

    def state_dict(self) -> dict[str, Any]:
        return {"centroids": self.centroids, "epoch": self.epoch, "before": self.before,
                "scale": self.scale, "frequencies": self.frequencies}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.centroids, self.epoch, self.before = state["centroids"], state["epoch"], state["before"]
        self.scale, self.frequencies = state.get("scale", 1.0), state.get("frequencies")
