"""Nearest-neighbour search by inner product with faiss: exact, or approximate when large.

Up to ``exact_max`` vectors the index is ``faiss.IndexFlatIP`` (exact, brute force, nothing to
build). Above it the index is approximate: IVF (``IndexIVFFlat``, a k-means coarse quantiser
with ``sqrt(n)`` lists, probing ``nprobe`` of them) by default, or HNSW (``IndexHNSWFlat``,
graph search). ctk builds the index for each command, so build time counts: exact search stays
the default up to a million fragments (see docs/BENCHMARKS.md for build and query times).
:func:`measure_recall` says how much an approximate index loses: the fraction of the exact
top-k it returns.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from embeddings.errors import ConfigError
from playlists.errors import PlaylistError

KINDS = ("auto", "exact", "hnsw", "ivf")


@dataclass(frozen=True)
class IndexConfig:
    """Which faiss index to build.

    Args:
        kind: ``"auto"`` (exact up to ``exact_max`` vectors, else ``approximate``), ``"exact"``,
            ``"ivf"`` or ``"hnsw"``.
        exact_max: size threshold of ``"auto"``.
        approximate: the approximate kind ``"auto"`` switches to (``"hnsw"`` or ``"ivf"``).
        hnsw_m: HNSW graph degree.
        ef_search: HNSW search breadth (raised to ``k`` when a search asks for more).
        ef_construction: HNSW build breadth.
        nlist: IVF lists (default ``sqrt(n)``).
        nprobe: IVF lists visited per query.
        seed: training seed (IVF k-means).
    """

    kind: str = "auto"
    exact_max: int = 1_000_000
    approximate: str = "ivf"
    hnsw_m: int = 32
    ef_search: int = 128
    ef_construction: int = 200
    nlist: int | None = None
    nprobe: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"index kind={self.kind!r} must be one of {KINDS}")
        if self.approximate not in ("hnsw", "ivf"):
            raise ConfigError(f"approximate={self.approximate!r} must be 'hnsw' or 'ivf'")
        if self.exact_max < 1 or self.hnsw_m < 2 or self.ef_search < 1 or self.nprobe < 1:
            raise ConfigError(
                f"exact_max={self.exact_max}, hnsw_m={self.hnsw_m}, ef_search={self.ef_search}, "
                f"nprobe={self.nprobe} must all be positive (hnsw_m >= 2)"
            )


def _faiss():
    import faiss

    # faiss uses every core through OpenMP; respect an explicit limit
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads and threads.isdigit():
        faiss.omp_set_num_threads(int(threads))
    return faiss


class NeighbourIndex:
    """A faiss inner-product index over ``(n, dim)`` float32 vectors.

    Attributes:
        kind: ``"exact"``, ``"hnsw"`` or ``"ivf"`` (what was built).
        ntotal: number of vectors.
    """

    def __init__(self, vectors: np.ndarray, config: IndexConfig = IndexConfig()) -> None:
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] == 0:
            raise PlaylistError(f"an index needs a non-empty (n, dim) matrix, got shape {x.shape}")
        faiss = _faiss()
        n, dim = x.shape
        kind = config.kind
        if kind == "auto":
            kind = "exact" if n <= config.exact_max else config.approximate
        self.config = config
        self.kind = kind
        self.dim = dim
        if kind == "exact":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = config.ef_construction
            index.hnsw.efSearch = config.ef_search
        else:
            nlist = config.nlist or max(1, min(n // 39, int(np.sqrt(n))))
            quantiser = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantiser, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = config.seed
            index.train(x)
            index.nprobe = min(config.nprobe, nlist)
            self._quantiser = quantiser  # keep alive
        index.add(x)
        self.index = index
        self.ntotal = int(index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` vectors with the largest inner product with each query.

        Args:
            queries: ``(q, dim)`` (or ``(dim,)``) float32.
            k: neighbours per query (capped at ``ntotal``).

        Returns:
            ``(scores (q, k), ids (q, k))`` best first; ids are ``-1`` where an approximate
            index found fewer than ``k``.
        """
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.dim:
            raise PlaylistError(f"queries have dimension {q.shape[1]}, the index {self.dim}")
        k = int(min(max(k, 1), self.ntotal))
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = max(self.config.ef_search, k)
        scores, ids = self.index.search(q, k)
        return scores, ids


def build_index(vectors: np.ndarray, config: IndexConfig = IndexConfig()) -> NeighbourIndex:
    """Functional twin of :class:`NeighbourIndex`."""
    return NeighbourIndex(vectors, config)


def measure_recall(index: NeighbourIndex, vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    """Recall@k of ``index`` against exact inner-product search over the same ``vectors``.

    The mean over queries of ``|approx top-k ∩ exact top-k| / k``; 1.0 for an exact index
    (up to ties).
    """
    exact = NeighbourIndex(vectors, IndexConfig(kind="exact"))
    k = int(min(k, exact.ntotal))
    _, truth = exact.search(queries, k)
    _, found = index.search(queries, k)
    hits = [len(set(t.tolist()) & set(f[f >= 0].tolist())) for t, f in zip(truth, found, strict=True)]
    return float(np.mean(hits) / k)
