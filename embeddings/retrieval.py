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
    """``recall@k`` (a same-label item among the k nearest) and ``map@k`` for each k, plus ``n_queries``:
    the means of :func:`per_query_retrieval`."""
    return mean_scores(per_query_retrieval(x, labels, ks=ks, queries=queries, chunk=chunk))


def mean_scores(per_query: dict[str, np.ndarray]) -> dict[str, float]:
    """``n_queries`` and the mean of each metric of :func:`per_query_retrieval`'s result (NaN without queries)."""
    out: dict[str, float] = {"n_queries": float(len(per_query["query_index"]))}
    for metric, values in per_query.items():
        if metric != "query_index":
            out[metric] = float(values.mean()) if len(values) else float("nan")
    return out


def per_query_retrieval(
    x: np.ndarray,
    labels: Sequence | np.ndarray,
    *,
    ks: Sequence[int] = (1, 5, 10),
    queries: np.ndarray | None = None,
    chunk: int = 1024,
) -> dict[str, np.ndarray]:
    """Each query's ``recall@k`` hit (0 or 1) and ``AP@k`` for each k, and ``query_index``, the rows queried.

    ``x`` ``(n, d)``, ``labels`` ``(n,)``; ``queries`` an optional ``(n,)`` bool mask of the items to
    query with (default: all; an item whose label has no other item is never a query).
    ``AP@k = 1/min(k, R) * sum_{i<=k} precision@i * rel_i`` with ``R`` the number of other items of the
    query's label.
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
    if len(query_idx) == 0 or n < 2:
        empty = np.zeros(0, dtype=np.float64)
        return {"query_index": query_idx[:0], **{f"{m}@{k}": empty for k in ks for m in ("recall", "map")}}
    k_max = min(max(ks), n - 1)
    rel = _ranked_hits(x, codes, query_idx, k_max, chunk).astype(np.float64)  # (Q, k_max)
    n_relevant = counts[codes[query_idx]] - 1
    precision = np.cumsum(rel, axis=1) / np.arange(1, k_max + 1)
    out: dict[str, np.ndarray] = {"query_index": query_idx}
    for k in ks:
        kk = min(k, k_max)
        out[f"recall@{k}"] = rel[:, :kk].any(axis=1).astype(np.float64)
        out[f"map@{k}"] = (precision[:, :kk] * rel[:, :kk]).sum(axis=1) / np.minimum(kk, n_relevant)
    return out


def _ranked_hits(x: np.ndarray, codes: np.ndarray, query_idx: np.ndarray, k: int, chunk: int) -> np.ndarray:
    """``(Q, k)`` bool: whether the i-th nearest item (cosine, the query itself excluded) of each query
    shares its label code."""
    xn = _normalise(x)
    hits: list[np.ndarray] = []
    for start in range(0, len(query_idx), chunk):
        q = query_idx[start : start + chunk]
        sims = xn[q] @ xn.T
        sims[np.arange(len(q)), q] = -np.inf  # never retrieve the query itself
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        hits.append(codes[top] == codes[q][:, None])
    return np.concatenate(hits) if hits else np.zeros((0, k), dtype=bool)


def recall_hits(x: np.ndarray, labels: Sequence | np.ndarray, k: int, *, chunk: int = 1024) -> np.ndarray:
    """Per query, whether a same-label item is among its ``k`` nearest: ``(n,)`` bool, ``False`` for items
    whose label has no other member (they are no query). ``recall@k`` is its mean over the queries;
    two embeddings of the same items give paired per-query outcomes (for a paired bootstrap)."""
    x = np.asarray(x, dtype=np.float32)
    _, codes = np.unique(np.asarray(labels), return_inverse=True)
    if x.ndim != 2 or len(codes) != len(x) or len(x) < 2 or k < 1:
        raise ConfigError(f"recall_hits needs x (n >= 2, d), n labels and k >= 1, got {x.shape}, {len(codes)}, {k}")
    query_idx = np.flatnonzero(np.bincount(codes)[codes] > 1)
    out = np.zeros(len(x), dtype=bool)
    out[query_idx] = _ranked_hits(x, codes, query_idx, min(k, len(x) - 1), chunk).any(axis=1)
    return out
