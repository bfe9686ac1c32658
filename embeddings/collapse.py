"""Collapse checks of an embedding matrix: effective rank and uniformity.

A loss that pulls embeddings together (such as the k-means term) can shrink them onto a few points or
a low-dimensional subspace. Two numbers tell, computed on the L2-normalised rows of ``x`` ``(n, d)``:

- **effective rank** (Roy & Vetterli, "The effective rank: a measure of effective dimensionality",
  EUSIPCO 2007): with ``s`` the singular values of the row-centred matrix and ``p = s / sum(s)``,
  ``erank = exp(-sum_i p_i log p_i)``, between 1 (everything on a line) and ``min(n, d)``.
- **uniformity** (Wang & Isola, "Understanding Contrastive Representation Learning through Alignment and
  Uniformity on the Hypersphere", ICML 2020): ``log mean_{i<j} exp(-t ||u_i - u_j||^2)`` with ``t = 2``;
  0 when every vector is the same, lower (down to about -4 for t = 2) the more evenly they cover the sphere.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist
from scipy.special import logsumexp

from embeddings.errors import ConfigError


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ConfigError(f"collapse checks need an (n >= 2, d) matrix, got shape {x.shape}")
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def effective_rank(x: np.ndarray) -> float:
    """``exp`` of the entropy of the normalised singular values of the centred, L2-normalised rows of ``x``."""
    u = _unit_rows(x)
    s = np.linalg.svd(u - u.mean(axis=0), compute_uv=False)
    if s.sum() <= 1e-12:
        return 1.0
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def uniformity(x: np.ndarray, *, t: float = 2.0, max_rows: int = 4096, seed: int = 0) -> float:
    """Wang & Isola's uniformity ``log mean exp(-t ||u_i - u_j||^2)`` over pairs ``i < j`` of unit rows.

    Above ``max_rows`` rows a seeded random subset of that size is used (the pair count grows as n^2).
    """
    u = _unit_rows(x)
    if len(u) > max_rows:
        u = u[np.random.default_rng(seed).choice(len(u), max_rows, replace=False)]
    d2 = pdist(u, "sqeuclidean")
    return float(logsumexp(-t * d2) - np.log(len(d2)))


def collapse_report(x: np.ndarray) -> dict[str, float]:
    """``{"effective_rank", "uniformity", "dim"}`` of ``x``."""
    return {"effective_rank": effective_rank(x), "uniformity": uniformity(x), "dim": int(np.asarray(x).shape[1])}
