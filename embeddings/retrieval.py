"""Same-label retrieval scores of an embedding: Recall@k and mAP@k by cosine similarity.

Used for validation while training (label = track of a fragment) and by ``ctk evaluate`` (label =
folder, tag, playlist...). Each query is ranked against every other item; queries whose label has
no other member are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embeddings.errors import ConfigError


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def retrieval_scores(
    x: np.ndarray,
    labels: Sequence | np.ndarray,
    *,
    ks: Sequence[int] = (1, 5, 10),
    queries: np.ndarray | None = None,
    chunk: int = 1024,
) -> dict[str, float]:
    """``recall@k`` (a same-label item among the k nearest) and ``map@k`` for each k, plus ``n_queries``.

    ``x`` ``(n, d)``, ``labels`` ``(n,)``; ``queries`` an optional ``(n,)`` bool mask of the items to
    query with (default: all). ``AP@k = 1/min(k, R) * sum_{i<=k} precision@i * rel_i`` with ``R`` the
    number of other items of the query's label.
    """
    x = np.asarray(x, dtype=np.float32)
    labels = np.asarray(labels)
    if x.ndim != 2 or len(labels) != len(x):
        raise ConfigError(f"retrieval needs x (n, d) and labels (n,), got {x.shape} and {labels.shape}")
    if not ks or min(ks) < 1:
        raise ConfigError(f"ks={list(ks)} must be positive")
    n = len(x)
    _, codes = np.unique(labels, return_inverse=True)
    counts = np.bincount(codes)
    mask = np.ones(n, dtype=bool) if queries is None else np.asarray(queries, dtype=bool)
    query_idx = np.flatnonzero(mask & (counts[codes] > 1))
    out: dict[str, float] = {"n_queries": float(len(query_idx))}
    if len(query_idx) == 0 or n < 2:
        for k in ks:
            out[f"recall@{k}"] = out[f"map@{k}"] = float("nan")
        return out
    k_max = min(max(ks), n - 1)
    xn = _normalise(x)
    hits: list[np.ndarray] = []
    for start in range(0, len(query_idx), chunk):
        q = query_idx[start : start + chunk]
        sims = xn[q] @ xn.T
        sims[np.arange(len(q)), q] = -np.inf  # never retrieve the query itself
        top = np.argpartition(-sims, k_max - 1, axis=1)[:, :k_max]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        hits.append(codes[top] == codes[q][:, None])
    rel = np.concatenate(hits).astype(np.float64)  # (Q, k_max)
    n_relevant = counts[codes[query_idx]] - 1
    precision = np.cumsum(rel, axis=1) / np.arange(1, k_max + 1)
    for k in ks:
        kk = min(k, k_max)
        out[f"recall@{k}"] = float(rel[:, :kk].any(axis=1).mean())
        ap = (precision[:, :kk] * rel[:, :kk]).sum(axis=1) / np.minimum(kk, n_relevant)
        out[f"map@{k}"] = float(ap.mean())
    return out
