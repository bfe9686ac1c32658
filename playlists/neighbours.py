"""Nearest-neighbour search by inner product with faiss: exact, or approximate when large.

Up to ``exact_max`` vectors the index is ``faiss.IndexFlatIP`` (exact, brute force, nothing to
build). Above it the index is approximate: IVF (``IndexIVFFlat``, a k-means coarse quantiser
with ``nlist = 4 sqrt(n)`` lists, at most ``n / 39`` so every list has the training points faiss
asks for, trained on at most ``train_per_list`` points per list) by default, or HNSW
(``IndexHNSWFlat``, graph search). IVF's ``nprobe`` (lists visited per query) is, unless given,
*measured*: :func:`calibrate_nprobe` doubles it from 1 until recall@10 against exact search on
``calibration_queries`` of the indexed vectors reaches ``target_recall`` (0.95), and the index
keeps the recall it measured (``recall_at_10``).

An index may carry ids of its own (``ids=``, 63-bit integers) instead of row numbers, so that it
can grow and shrink (:meth:`NeighbourIndex.add`, :meth:`NeighbourIndex.remove`) without a
rebuild; :class:`RowIndex` answers such an index's searches with the rows of the caller's
current table. :meth:`NeighbourIndex.to_bytes` / :meth:`NeighbourIndex.from_bytes` turn an
index into bytes and back; where they are stored is the caller's business (ctk keeps one beside
the store: :mod:`cluster_toolkit.store.neighbour_index`).

ctk builds the in-memory index for each command when no stored one is given, so build time
counts there: exact search stays the default up to a million vectors (docs/BENCHMARKS.md).
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
MIN_POINTS_PER_LIST = 39  # faiss warns below this many training points per IVF list


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
        nlist: IVF lists (default ``4 sqrt(n)``, at most ``n / 39``).
        nprobe: IVF lists visited per query; None: measured for ``target_recall``.
        target_recall: recall@10 that the measured ``nprobe`` reaches.
        calibration_queries: indexed vectors used as queries when measuring ``nprobe``.
        train_per_list: IVF k-means trains on at most this many vectors per list.
        seed: training and calibration seed.
    """

    kind: str = "auto"
    exact_max: int = 1_000_000
    approximate: str = "ivf"
    hnsw_m: int = 32
    ef_search: int = 128
    ef_construction: int = 200
    nlist: int | None = None
    nprobe: int | None = None
    target_recall: float = 0.95
    calibration_queries: int = 200
    train_per_list: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"index kind={self.kind!r} must be one of {KINDS}")
        if self.approximate not in ("hnsw", "ivf"):
            raise ConfigError(f"approximate={self.approximate!r} must be 'hnsw' or 'ivf'")
        if self.exact_max < 1 or self.hnsw_m < 2 or self.ef_search < 1 or (self.nprobe is not None and self.nprobe < 1):
            raise ConfigError(
                f"exact_max={self.exact_max}, hnsw_m={self.hnsw_m}, ef_search={self.ef_search}, "
                f"nprobe={self.nprobe} must all be positive (hnsw_m >= 2)"
            )
        if not 0.0 < self.target_recall <= 1.0 or self.calibration_queries < 1:
            raise ConfigError(
                f"target_recall={self.target_recall} must be in (0, 1] and calibration_queries="
                f"{self.calibration_queries} at least 1"
            )
        if self.train_per_list < MIN_POINTS_PER_LIST:
            raise ConfigError(f"train_per_list={self.train_per_list} must be at least {MIN_POINTS_PER_LIST}")

    def kind_for(self, n: int) -> str:
        """The kind built for ``n`` vectors."""
        if self.kind != "auto":
            return self.kind
        return "exact" if n <= self.exact_max else self.approximate


def default_nlist(n: int) -> int:
    """IVF lists for ``n`` vectors: ``4 sqrt(n)``, at most ``n / 39`` (faiss's minimum training points per
    list), at least 1."""
    return max(1, min(n // MIN_POINTS_PER_LIST, int(round(4 * np.sqrt(n)))))


def _faiss():
    import faiss

    # faiss uses every core through OpenMP; respect an explicit limit
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads and threads.isdigit():
        faiss.omp_set_num_threads(int(threads))
    return faiss


def _matrix(vectors: np.ndarray, what: str = "an index") -> np.ndarray:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise PlaylistError(f"{what} needs a non-empty (n, dim) matrix, got shape {x.shape}")
    return x


def _ids(ids: np.ndarray, n: int) -> np.ndarray:
    out = np.ascontiguousarray(ids, dtype=np.int64)
    if out.shape != (n,):
        raise PlaylistError(f"{out.shape[0] if out.ndim else 0} ids given for {n} vectors")
    if out.size and out.min() < 0:
        raise PlaylistError("ids must be non-negative (faiss uses -1 for 'not found')")
    return out


class NeighbourIndex:
    """A faiss inner-product index over ``(n, dim)`` float32 vectors.

    Args:
        vectors: ``(n, dim)``, normalised by the caller when cosine is meant.
        config: which index.
        ids: ``(n,)`` non-negative int64 ids of the vectors (default: their rows); an index with
            ids can :meth:`add` and :meth:`remove` vectors by id.

    Attributes:
        kind: ``"exact"``, ``"hnsw"`` or ``"ivf"`` (what was built).
        ntotal: number of vectors.
        nlist, nprobe: IVF lists and lists probed per query (None for other kinds).
        recall_at_10: recall@10 against exact search, measured when ``nprobe`` was (1.0 for exact,
            None when not measured).
    """

    def __init__(
        self, vectors: np.ndarray, config: IndexConfig = IndexConfig(), *, ids: np.ndarray | None = None
    ) -> None:
        x = _matrix(vectors)
        faiss = _faiss()
        n, dim = x.shape
        self.config, self.kind, self.dim, self.keyed = config, config.kind_for(n), dim, ids is not None
        self.nlist = self.nprobe = None
        self.recall_at_10 = 1.0 if self.kind == "exact" else None
        if self.kind == "exact":
            base = faiss.IndexFlatIP(dim)
        elif self.kind == "hnsw":
            base = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = config.ef_construction
            base.hnsw.efSearch = config.ef_search
        else:
            self.nlist = min(config.nlist or default_nlist(n), n)
            quantiser = faiss.IndexFlatIP(dim)
            base = faiss.IndexIVFFlat(quantiser, dim, self.nlist, faiss.METRIC_INNER_PRODUCT)
            base.cp.seed = config.seed
            train = x
            if n > config.train_per_list * self.nlist:
                rng = np.random.default_rng(config.seed)
                train = x[np.sort(rng.choice(n, config.train_per_list * self.nlist, replace=False))]
            base.cp.max_points_per_centroid = config.train_per_list
            base.train(train)
            self._quantiser = quantiser  # keep alive
        self._base = base
        if self.keyed and self.kind != "ivf":
            self.index = faiss.IndexIDMap2(base)
        else:
            self.index = base
        if self.keyed:
            self.index.add_with_ids(x, _ids(ids, n))
        else:
            self.index.add(x)
        if self.kind == "ivf":
            if config.nprobe is None:
                self.nprobe, self.recall_at_10 = calibrate_nprobe(self, x, ids=ids)
            else:
                self.set_nprobe(config.nprobe)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def set_nprobe(self, nprobe: int) -> None:
        """Visit ``nprobe`` lists per query (IVF; capped at ``nlist``)."""
        if self.kind != "ivf":
            raise PlaylistError(f"nprobe is for IVF indexes, this one is {self.kind}")
        self.nprobe = int(min(max(nprobe, 1), self.nlist))
        self._base.nprobe = self.nprobe

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` vectors with the largest inner product with each query.

        Args:
            queries: ``(q, dim)`` (or ``(dim,)``) float32.
            k: neighbours per query (capped at ``ntotal``).

        Returns:
            ``(scores (q, k), ids (q, k))`` best first (ids are rows unless the index has its own);
            ``-1`` where an approximate index found fewer than ``k``.
        """
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.dim:
            raise PlaylistError(f"queries have dimension {q.shape[1]}, the index {self.dim}")
        k = int(min(max(k, 1), self.ntotal))
        if self.kind == "hnsw":
            self._base.hnsw.efSearch = max(self.config.ef_search, k)
        scores, ids = self.index.search(q, k)
        return scores, ids

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add ``(m, dim)`` vectors with their ids (an index built with ids; IVF lists stay as trained)."""
        if not self.keyed:
            raise PlaylistError("add needs an index built with ids")
        x = _matrix(vectors, "add")
        if x.shape[1] != self.dim:
            raise PlaylistError(f"vectors have dimension {x.shape[1]}, the index {self.dim}")
        self.index.add_with_ids(x, _ids(ids, x.shape[0]))

    def remove(self, ids: np.ndarray) -> int:
        """Remove the vectors with these ids; returns how many were removed."""
        if not self.keyed or self.kind == "hnsw":
            raise PlaylistError(f"remove needs an exact or IVF index built with ids (this one: {self.kind})")
        wanted = np.ascontiguousarray(ids, dtype=np.int64)
        if wanted.size == 0:
            return 0
        return int(self.index.remove_ids(_faiss().IDSelectorBatch(wanted)))

    def describe(self) -> dict:
        """What :meth:`from_bytes` needs besides the bytes: kind, dim, ids, nlist, nprobe, recall."""
        return {"kind": self.kind, "dim": self.dim, "keyed": self.keyed, "nlist": self.nlist,
                "nprobe": self.nprobe, "recall_at_10": self.recall_at_10}

    def to_bytes(self) -> np.ndarray:
        """The faiss index serialised (``uint8`` array); pair it with :meth:`describe`."""
        return _faiss().serialize_index(self.index)

    @classmethod
    def from_bytes(cls, data: np.ndarray, description: dict, config: IndexConfig = IndexConfig()) -> NeighbourIndex:
        """The index :meth:`to_bytes` serialised, with its :meth:`describe`."""
        faiss = _faiss()
        self = cls.__new__(cls)
        self.config, self.kind, self.dim = config, description["kind"], int(description["dim"])
        self.keyed, self.nlist = bool(description["keyed"]), description["nlist"]
        self.nprobe, self.recall_at_10 = description["nprobe"], description["recall_at_10"]
        self.index = faiss.deserialize_index(np.asarray(data, dtype=np.uint8))
        self._base = self.index
        if self.keyed and self.kind != "ivf":
            self._base = faiss.downcast_index(self.index.index)
        if self.index.d != self.dim:
            raise PlaylistError(f"the stored index has dimension {self.index.d}, its description {self.dim}")
        if self.kind == "ivf":
            self._base = faiss.extract_index_ivf(self.index)
            self._base.nprobe = int(self.nprobe)
        return self


class RowIndex:
    """Searches of an index with its own ids, answered with rows of the caller's table.

    Args:
        index: a :class:`NeighbourIndex` built with ids.
        row_ids: ``(n,)`` the id of each row of the caller's table; the index must hold exactly these.
    """

    def __init__(self, index: NeighbourIndex, row_ids: np.ndarray) -> None:
        row_ids = np.asarray(row_ids, dtype=np.int64)
        if not index.keyed or index.ntotal != row_ids.size:
            raise PlaylistError(f"the index holds {index.ntotal} vectors, the table {row_ids.size} rows")
        self.inner = index
        self._order = np.argsort(row_ids, kind="stable")
        self._sorted = row_ids[self._order]
        self.kind, self.dim = index.kind, index.dim

    @property
    def ntotal(self) -> int:
        return self.inner.ntotal

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """The row of each id (``-1`` for ids not in the table, and for ``-1``)."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.clip(np.searchsorted(self._sorted, ids), 0, self._sorted.size - 1)
        found = (self._sorted[pos] == ids) & (ids >= 0)
        return np.where(found, self._order[pos], -1)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`NeighbourIndex.search`, with rows instead of ids."""
        scores, ids = self.inner.search(queries, k)
        return scores, self.rows_of(ids)


def build_index(vectors: np.ndarray, config: IndexConfig = IndexConfig()) -> NeighbourIndex:
    """Functional twin of :class:`NeighbourIndex`."""
    return NeighbourIndex(vectors, config)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` largest inner products of each query with ``vectors`` (faiss brute force, no copy
    of ``vectors``): ``(n, dim), (q, dim) -> (q, k)``."""
    x = _matrix(vectors, "exact search")
    q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    _, rows = _faiss().knn(q, x, int(min(k, x.shape[0])), metric=_faiss().METRIC_INNER_PRODUCT)
    return rows


def _recall(truth: np.ndarray, found: np.ndarray) -> float:
    hits = [len(set(t.tolist()) & set(f[f >= 0].tolist())) for t, f in zip(truth, found, strict=True)]
    return float(np.mean(hits) / truth.shape[1])


def measure_recall(
    index: NeighbourIndex, vectors: np.ndarray, queries: np.ndarray, k: int = 10, *, ids: np.ndarray | None = None
) -> float:
    """Recall@k of ``index`` against exact inner-product search over the same ``vectors``.

    The mean over queries of ``|approx top-k ∩ exact top-k| / k``; 1.0 for an exact index
    (up to ties). ``ids``: the index's ids of the rows of ``vectors`` (an index built with ids).
    """
    truth = exact_top_k(vectors, queries, k)
    if ids is not None:
        truth = np.asarray(ids, dtype=np.int64)[truth]
    _, found = index.search(queries, truth.shape[1])
    return _recall(truth, found)


def calibrate_nprobe(
    index: NeighbourIndex, vectors: np.ndarray, *, ids: np.ndarray | None = None, k: int = 10
) -> tuple[int, float]:
    """Set an IVF index's ``nprobe`` to the smallest of 1, 2, 4, ... (and ``nlist``) whose recall@k on
    ``config.calibration_queries`` of the indexed ``vectors`` (as queries) reaches ``config.target_recall``.

    Returns:
        ``(nprobe, measured recall@k)``.
    """
    config = index.config
    x = _matrix(vectors, "calibration")
    rng = np.random.default_rng(config.seed + 1)
    queries = x[np.sort(rng.choice(x.shape[0], min(config.calibration_queries, x.shape[0]), replace=False))]
    truth = exact_top_k(x, queries, k)
    if ids is not None:
        truth = np.asarray(ids, dtype=np.int64)[truth]
    nprobe = 1
    while True:
        index.set_nprobe(nprobe)
        recall = _recall(truth, index.search(queries, truth.shape[1])[1])
        if recall >= config.target_recall or index.nprobe >= index.nlist:
            return index.nprobe, recall
        nprobe *= 2
