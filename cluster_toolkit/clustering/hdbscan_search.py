"""HDBSCAN's parameters chosen from the data: a small grid scored by density-based cluster validity.

A fixed formula for ``min_cluster_size`` / ``min_samples`` failed on real music: on 222 held-out game
soundtrack tracks (ctk-small) the old defaults (7, 7) left 88 of 101 and all 35 of 35 tracks as noise in
smaller stores. So :func:`search_hdbscan_params` fits a few settings and keeps the best by hdbscan's
``relative_validity_`` (a fast approximation of DBCV, Moulavi et al. 2014, computed on the minimum spanning
tree; higher is better), among the settings that find at least two clusters:

- ``min_cluster_size = clip(round(f * sqrt(n)), 3, 500)`` for ``f`` in ``MIN_CLUSTER_SIZE_FACTORS``
  (0.2, 0.4, 0.8: 222 tracks -> 3, 6, 12; 10k -> 20, 40, 80);
- ``min_samples`` in ``MIN_SAMPLES`` (1, 2, 4): small values keep fewer tracks as noise;
- ``cluster_selection_method`` in ("eom", "leaf"): leaf gives the finer, more even clusters that album- and
  soundtrack-sized groups are.

Parameters the caller fixed are not searched. Libraries larger than ``sample_size`` tracks are searched on a
seeded random sample (the size factor ``f`` is carried over to the full library). Nothing is chosen by the
reference labels: the benchmark (docs/BENCHMARKS.md, "Clustering defaults on held-out real music") measures
what the choice gives.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from cluster_toolkit.clustering.base import NOISE

MIN_CLUSTER_SIZE_FACTORS = (0.2, 0.4, 0.8)
MIN_SAMPLES = (1, 2, 4)
SELECTION_METHODS = ("eom", "leaf")


@dataclass(frozen=True)
class HDBSCANCandidate:
    """One setting tried by the search and what it gave on the searched tracks."""

    min_cluster_size: int
    min_samples: int
    cluster_selection_method: str
    n_clusters: int
    noise_fraction: float
    validity: float


@dataclass(frozen=True)
class HDBSCANChoice:
    """The chosen setting (sized for the full library) and every candidate tried."""

    min_cluster_size: int
    min_samples: int
    cluster_selection_method: str
    candidates: tuple[HDBSCANCandidate, ...]
    n_searched: int

    def as_dict(self) -> dict:
        return {
            "min_cluster_size": self.min_cluster_size,
            "min_samples": self.min_samples,
            "cluster_selection_method": self.cluster_selection_method,
            "n_searched": self.n_searched,
            "candidates": [c.__dict__ for c in self.candidates],
        }


def min_cluster_size_for(n: int, factor: float) -> int:
    """``clip(round(factor * sqrt(n)), 3, 500)``, never more than ``n``."""
    return int(min(n, np.clip(round(factor * np.sqrt(n)), 3, 500)))


def search_hdbscan_params(
    space: np.ndarray,
    *,
    min_cluster_size: int | None = None,
    min_samples: int | None = None,
    cluster_selection_method: str | None = None,
    sample_size: int = 20_000,
    random_state: int = 0,
    core_dist_n_jobs: int = -1,
) -> HDBSCANChoice:
    """Try the grid (module docstring) on ``space`` ``(n, d)`` (euclidean, as HDBSCAN will see it).

    Fixed arguments (not None) are kept as given. Ties in validity go to less noise, then to the earlier
    setting of the grid. When no setting finds two clusters, the one with the least noise is kept.
    """
    import hdbscan

    n = space.shape[0]
    rows = np.arange(n)
    if n > sample_size:
        rows = np.sort(np.random.default_rng(random_state).choice(n, sample_size, replace=False))
    data = np.ascontiguousarray(space[rows], dtype=np.float64)
    m = data.shape[0]
    factors = [None] if min_cluster_size is not None else list(MIN_CLUSTER_SIZE_FACTORS)
    samples = [min_samples] if min_samples is not None else list(MIN_SAMPLES)
    methods = [cluster_selection_method] if cluster_selection_method else list(SELECTION_METHODS)
    tried: list[tuple[float | None, HDBSCANCandidate]] = []
    seen: set[tuple[int, int, str]] = set()
    for factor in factors:
        size = min_cluster_size if factor is None else min_cluster_size_for(m, factor)
        size = max(2, min(int(size), m))
        for ms in samples:
            ms_used = int(min(ms, m - 1))
            for method in methods:
                key = (size, ms_used, method)
                if key in seen:
                    continue
                seen.add(key)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = hdbscan.HDBSCAN(
                        min_cluster_size=size, min_samples=ms_used, cluster_selection_method=method,
                        gen_min_span_tree=True, approx_min_span_tree=True, core_dist_n_jobs=core_dist_n_jobs,
                    ).fit(data)
                labels = model.labels_
                k = int(labels.max() + 1) if labels.size else 0
                validity = float(model.relative_validity_) if k >= 2 else float("-inf")
                if not np.isfinite(validity) and k >= 2:
                    validity = float("-inf")
                tried.append((factor, HDBSCANCandidate(size, ms_used, method, k, float(np.mean(labels == NOISE)),
                                                       validity)))
    usable = [t for t in tried if t[1].n_clusters >= 2]
    pool = usable or tried
    factor, best = max(pool, key=lambda t: (t[1].validity if usable else -t[1].noise_fraction,
                                            -t[1].noise_fraction, -tried.index(t)))
    size = best.min_cluster_size if factor is None else min_cluster_size_for(n, factor)
    return HDBSCANChoice(
        min_cluster_size=int(size),
        min_samples=best.min_samples,
        cluster_selection_method=best.cluster_selection_method,
        candidates=tuple(c for _, c in tried),
        n_searched=m,
    )
