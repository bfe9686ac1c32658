"""Choosing clustering parameters from the data, so small and large libraries both get useful clusters.

- ``k`` (k-means, hierarchical): silhouette against a null reference. The mean silhouette (cosine, on one
  fixed random sample of at most ``sample_size`` tracks; silhouette is O(n^2)) is computed for every k, and
  also for the same clusterer run on a featureless Gaussian reference with the data's mean and covariance
  (the gap statistic's idea, Tibshirani et al. 2001, applied to silhouette). Plain silhouette favours k = 2
  on real music (any elongated cloud splits into two halves with a good score; on 222 held-out tracks it
  picked 2 for every embedding), and so does the reference: the *excess* ``silhouette - reference`` removes
  that bias. The chosen k is the highest interior peak of the excess curve; an end of the range wins only
  when its excess is more than twice that peak's (strong structure at the edge), or when the curve has no
  interior peak. ``KChoice.at_edge`` says when the choice is an end of the range (the caller warns).
  **Weak structure -> a library-size prior.** The excess peak is trusted only when the clustering it picks
  has a silhouette of at least ``STRUCTURE_SILHOUETTE`` (0.5; Kaufman & Rousseeuw 1990: below 0.5 "the
  structure is weak and could be artificial"). Below it the tracks show no preferred number of clusters
  and k is the size prior ``round(sqrt(n / 2))`` (Mardia et al. 1979's rule of thumb), clipped to the
  range. On the held-out real music of docs/BENCHMARKS.md no k reaches 0.36, the excess peak wandered
  between 3 and 14 over k-means seeds, and agreement with the sources kept growing up to about sqrt(n / 2)
  and was flat beyond: the prior matched the best fixed k (the rule was chosen on those stores; the gap
  statistic, stability over subsamples and Calinski-Harabasz against the same reference did worse there).
  Synthetic and well-separated libraries (silhouette 0.54-0.96 in the tests and the demo) keep the peak.
  At scale: above ``fit_sample_size`` (50,000) tracks the k-means search clusters a random sample of that
  many tracks for every k (``KChoice.fit_rows`` records it), and the reference is drawn 1,000 rows at a time,
  so its memory is O(sample_size) rows whatever the library size.
- ``eps`` (DBSCAN): a small search. For ``min_samples`` in ``EPS_MIN_SAMPLES`` (2, 3, 5; or the one given)
  and eps at the quantiles ``EPS_QUANTILES`` (0.05, 0.10, ..., 0.95) of the sorted k-distance curve (each
  track's distance to its ``min_samples``-th nearest neighbour, itself included, as DBSCAN counts it),
  DBSCAN is fitted and scored by the number of tracks in a cluster *other than the largest*: that is zero
  both when everything is noise and when one cluster swallows the library, the two ways DBSCAN fails.
  Ties go to the larger quantile (less noise), then the larger ``min_samples``. The former rule, the knee of
  the curve ("kneedle"), gave one cluster holding 95-100 % of the tracks on every held-out store of
  docs/BENCHMARKS.md (the curve of real music rises smoothly, its knee lies above the gaps between
  sources). Libraries above ``sample_size`` tracks are searched on a seeded sample; the chosen quantile is
  carried over to the curve of all tracks (a sample is sparser than the library, so its distances do not
  carry over; the share of tracks within eps of their neighbours does). Not measured above 5,000 tracks.
- HDBSCAN: :func:`hdbscan_defaults` is the former size formula, ``min_cluster_size = clip(round(sqrt(n) / 2),
  5, 500)`` and ``min_samples = clip(round(log2 n), 2, min_cluster_size)`` (200 tracks -> (7, 7)), kept for
  the scale bench. It left every track of a 222-track held-out store as noise; the clusterer now searches its
  parameters (:mod:`cluster_toolkit.clustering.hdbscan_search`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors

from cluster_toolkit.clustering.base import prepare
from cluster_toolkit.errors import ClusteringError


@dataclass(frozen=True)
class KChoice:
    """The chosen ``k`` and the curves it was read from (silhouette, its null reference and the excess)."""

    k: int
    k_values: tuple[int, ...]
    scores: tuple[float, ...]
    method: str
    sample_size: int
    null_scores: tuple[float, ...] = ()
    criterion: str = "silhouette excess over a Gaussian reference"
    fit_rows: int | None = None  # tracks the k search clustered (a sample of a large library)
    peak_k: int | None = None  # the excess peak; differs from k when the size prior was used
    prior_k: int | None = None  # round(sqrt(n / 2)) before clipping to the range, when the prior was used

    @property
    def excess(self) -> tuple[float, ...]:
        if not self.null_scores:
            return self.scores
        return tuple(s - r for s, r in zip(self.scores, self.null_scores, strict=True))

    @property
    def used_prior(self) -> bool:
        """True when the structure was too weak and k came from the library-size prior."""
        return self.prior_k is not None

    @property
    def at_edge(self) -> bool:
        """The chosen k is an end of a range of at least 3 values (the best k may lie outside it); with the
        size prior, only when the range clipped the prior."""
        if self.used_prior:
            return self.prior_k != self.k
        return len(self.k_values) >= 3 and self.k in (self.k_values[0], self.k_values[-1])

    def edge_warning(self) -> str | None:
        """A one-line warning when the choice is an end of the range, else None."""
        if not self.at_edge:
            return None
        low, high = self.k_values[0], self.k_values[-1]
        if self.used_prior:
            return (f"{self.method}: k auto found no clear structure and took the library-size prior "
                    f"sqrt(n / 2) = {self.prior_k}, clipped to the range {low}..{high}: k = {self.k}; widen "
                    "--k-min / --k-max or give a fixed --k")
        if self.k == high:
            return (f"{self.method}: k auto picked k = {self.k}, the top of the range {low}..{high}; the best k may "
                    f"be larger: try --k-max {2 * high}")
        return (f"{self.method}: k auto picked k = {self.k}, the bottom of the range {low}..{high}; the tracks "
                "show no finer structure than that (or try another --k-min / a fixed --k)")


@dataclass(frozen=True)
class EpsCandidate:
    """One (min_samples, quantile) setting tried by the eps search and what it gave on the searched tracks."""

    min_samples: int
    quantile: float
    eps: float
    n_clusters: int
    noise_fraction: float
    outside_largest: int  # tracks in a cluster other than the largest (the score)


@dataclass(frozen=True)
class EpsChoice:
    """The chosen ``eps`` (euclidean, in the clusterer's working space), ``min_samples``, and the sorted
    k-distance curve of all tracks for that ``min_samples``; ``index`` is the chosen point on it."""

    eps: float
    k_distances: np.ndarray
    index: int
    min_samples: int
    quantile: float = 1.0
    candidates: tuple[EpsCandidate, ...] = ()

    def as_dict(self) -> dict:
        return {"min_samples": self.min_samples, "quantile": self.quantile,
                "candidates": [c.__dict__ for c in self.candidates]}


@dataclass(frozen=True)
class HDBSCANDefaults:
    min_cluster_size: int
    min_samples: int


STRUCTURE_SILHOUETTE = 0.5  # below it Kaufman & Rousseeuw call a clustering's structure weak


def size_prior_k(n: int) -> int:
    """The library-size prior for k: ``round(sqrt(n / 2))``, at least 2 (222 tracks -> 11)."""
    return max(2, int(round(np.sqrt(n / 2))))


def default_k_range(n: int) -> range:
    """2 .. clip(sqrt(n / 2), 10, 40), never more than ``n - 1``."""
    high = int(np.clip(round(np.sqrt(n / 2)), 10, 40))
    return range(2, max(2, min(high, n - 1)) + 1)


def choose_k(
    X: Any,
    *,
    k_values: Sequence[int] | None = None,
    method: str = "kmeans",
    linkage: str = "ward",
    sample_size: int = 5_000,
    fit_sample_size: int = 50_000,
    random_state: int = 0,
    normalize: bool = True,
    **clusterer_params: Any,
) -> KChoice:
    """Cluster ``X`` ``(n, d)`` for every ``k`` in ``k_values`` and pick k by the silhouette excess over a
    Gaussian reference, or by the library-size prior when the structure is weak (module docstring).

    ``method`` is "kmeans" (a fit per k) or "hierarchical" (one tree, cut at every k; two-stage above its
    ``max_exact``). Above ``fit_sample_size`` tracks the k-means search runs on a random sample of that many
    tracks (``KChoice.fit_rows``), so choosing k costs about as much for a million tracks as for 50,000;
    the final clustering with the chosen k uses every track. Ties go to the smaller k. Raises
    :class:`ClusteringError` when no k in the range is possible.
    """
    data = prepare(X, normalize=normalize, min_rows=3, owner="k auto", dtype=np.float32)
    n = data.shape[0]
    ks = list(default_k_range(n) if k_values is None else k_values)
    ks = sorted({int(k) for k in ks if 2 <= int(k) <= n - 1})
    if not ks:
        raise ClusteringError(
            f"k auto: no k in {list(k_values or [])} fits {n} tracks (silhouette needs 2 <= k <= n - 1)"
        )
    rng = np.random.default_rng(random_state)
    fit_rows = n
    if method == "kmeans" and n > fit_sample_size:
        # one k-means per k on every track would cost (number of k) full fits: search k on a sample
        data = data[np.sort(np.random.default_rng(random_state + 1).choice(n, fit_sample_size, replace=False))]
        fit_rows = fit_sample_size
    sample = min(sample_size, fit_rows)
    reference = _gaussian_reference(data, sample, rng, normalize=normalize)
    metric = "cosine" if normalize else "euclidean"
    scores = _silhouette_curve(data, ks, method, linkage, sample, random_state, metric, clusterer_params)
    null_scores = _silhouette_curve(reference, ks, method, linkage, sample, random_state, metric, clusterer_params)
    peak = _pick_k(ks, [s - r for s, r in zip(scores, null_scores, strict=True)])
    k, prior, criterion = peak, None, KChoice.criterion
    if scores[ks.index(peak)] < STRUCTURE_SILHOUETTE:
        prior = size_prior_k(n)
        k = int(np.clip(prior, ks[0], ks[-1]))
        criterion = (f"library-size prior round(sqrt(n / 2)) = {prior}: the silhouette excess peak k = {peak} "
                     f"has silhouette {scores[ks.index(peak)]:.3f} < {STRUCTURE_SILHOUETTE} (weak structure)")
    return KChoice(k, tuple(ks), tuple(float(s) for s in scores), method, sample,
                   tuple(float(s) for s in null_scores), criterion=criterion, fit_rows=fit_rows, peak_k=peak,
                   prior_k=prior)


def _silhouette_curve(data, ks, method, linkage, sample, random_state, metric, clusterer_params) -> list[float]:
    from cluster_toolkit.clustering.hierarchical import HierarchicalClusterer
    from cluster_toolkit.clustering.kmeans import KMeansClusterer

    scores = []
    if method == "hierarchical":
        tree = HierarchicalClusterer(ks[-1], linkage=linkage, random_state=random_state, normalize=False,
                                     **clusterer_params).fit(data)
        for k in ks:
            cut = fcluster(tree.linkage_matrix_, t=k, criterion="maxclust")
            labels = cut[tree.micro_labels_] if tree.two_stage_ else cut
            scores.append(_silhouette(data, labels, sample, random_state, metric))
    elif method == "kmeans":
        for k in ks:
            labels = KMeansClusterer(k, random_state=random_state, normalize=False, **clusterer_params).fit(
                data
            ).labels_
            scores.append(_silhouette(data, labels, sample, random_state, metric))
    else:
        raise ClusteringError(f"k auto: method={method!r} is not one of 'kmeans', 'hierarchical'")
    return scores


def _gaussian_reference(data: np.ndarray, m: int, rng: np.random.Generator, *, normalize: bool) -> np.ndarray:
    """``m`` draws from a Gaussian with the mean and covariance of (a sample of ``m`` rows of) ``data``: the
    same spread with no cluster structure. Unit vectors stay unit vectors."""
    rows = data if data.shape[0] <= m else data[np.sort(rng.choice(data.shape[0], m, replace=False))]
    centred = rows - rows.mean(axis=0)
    scale = np.sqrt(max(rows.shape[0] - 1, 1))
    draws = np.empty((m, data.shape[1]), dtype=data.dtype)
    # (m, m) normal draws times the centred rows, made 1,000 rows at a time (the same numbers as one draw):
    # 8 MB instead of 200 MB at the default m = 5,000
    for start in range(0, m, 1_000):
        stop = min(m, start + 1_000)
        draws[start:stop] = rows.mean(axis=0) + rng.standard_normal((stop - start, rows.shape[0])) @ centred / scale
    if normalize:
        norms = np.linalg.norm(draws, axis=1, keepdims=True)
        draws = draws / np.where(norms > 0, norms, 1.0)
    return draws


def _pick_k(ks: list[int], excess: list[float]) -> int:
    """The highest interior peak of ``excess`` unless an end of the range is more than twice as high."""
    e = np.asarray(excess, dtype=np.float64)
    if len(ks) < 3:
        return ks[int(np.argmax(e))]
    peaks = [i for i in range(1, len(ks) - 1) if e[i] > e[i - 1] and e[i] >= e[i + 1]]
    edge = 0 if e[0] >= e[-1] else len(ks) - 1
    if not peaks:
        return ks[edge]
    peak = max(peaks, key=lambda i: (e[i], -i))
    bar = 2.0 * e[peak] if e[peak] > 0 else e[peak]
    return ks[edge] if e[edge] > bar else ks[peak]


def _silhouette(X: np.ndarray, labels: np.ndarray, sample: int, seed: int, metric: str) -> float:
    if len(np.unique(labels)) < 2:
        return -1.0
    return float(silhouette_score(X, labels, metric=metric, sample_size=sample, random_state=seed))


EPS_MIN_SAMPLES = (2, 3, 5)
EPS_QUANTILES = tuple(round(0.05 * i, 2) for i in range(1, 20))


def choose_eps(
    X: np.ndarray, *, min_samples: int | None = None, sample_size: int = 5_000, random_state: int = 0
) -> EpsChoice:
    """Search ``eps`` (and ``min_samples`` unless given) for DBSCAN on ``X`` ``(n, d)`` (euclidean, X used as
    given), as the module docstring says."""
    from sklearn.cluster import DBSCAN

    X = np.asarray(X)
    n = X.shape[0]
    tried_samples = EPS_MIN_SAMPLES if min_samples is None else (int(min_samples),)
    if n <= min(tried_samples):
        raise ClusteringError(f"eps auto: needs more than min_samples={min(tried_samples)} tracks, got {n}")
    rng = np.random.default_rng(random_state)
    rows = np.arange(n) if n <= sample_size else np.sort(rng.choice(n, sample_size, replace=False))
    searched = X[rows]
    candidates = []
    for ms in (m for m in tried_samples if m < searched.shape[0]):
        curve = _k_distance_curve(searched, searched, ms)
        for q in EPS_QUANTILES:
            eps = float(np.quantile(curve, q, method="nearest"))
            if eps <= 0.0:
                continue
            labels = DBSCAN(eps=eps, min_samples=ms).fit(searched).labels_
            sizes = np.bincount(labels[labels >= 0]) if np.any(labels >= 0) else np.zeros(1, dtype=np.int64)
            candidates.append(EpsCandidate(ms, q, eps, int(np.count_nonzero(sizes)), float(np.mean(labels < 0)),
                                           int(sizes.sum() - sizes.max())))
    if not candidates:
        raise ClusteringError(
            f"eps auto: every track has {max(tried_samples) - 1} identical neighbours (all k-distances are 0); "
            "the embeddings are degenerate"
        )
    best = max(candidates, key=lambda c: (c.outside_largest, c.quantile, c.min_samples))
    # the curve of all tracks (a sample of at most 10,000 queried against all): the same curve as searched
    # when the library was not sampled
    query = searched if n <= sample_size else X[np.sort(rng.choice(n, min(n, 10_000), replace=False))]
    curve = _k_distance_curve(X, query, best.min_samples)
    eps = float(np.quantile(curve, best.quantile, method="nearest"))
    index = min(curve.size - 1, int(np.searchsorted(curve, eps)))
    return EpsChoice(eps, curve, index, best.min_samples, best.quantile, tuple(candidates))


def _k_distance_curve(data: np.ndarray, query: np.ndarray, min_samples: int) -> np.ndarray:
    """Sorted distance of each ``query`` row to its ``min_samples``-th nearest row of ``data`` (itself
    included when it is one of them)."""
    dist, _ = NearestNeighbors(n_neighbors=min_samples).fit(data).kneighbors(query)
    return np.sort(dist[:, min_samples - 1])


def hdbscan_defaults(n: int) -> HDBSCANDefaults:
    """``min_cluster_size`` and ``min_samples`` for a library of ``n`` tracks (formula in the module doc)."""
    if n < 2:
        raise ClusteringError(f"hdbscan: needs at least 2 tracks, got {n}")
    size = int(np.clip(round(np.sqrt(n) / 2), 5, 500))
    samples = int(np.clip(round(np.log2(n)), 2, size))
    return HDBSCANDefaults(size, samples)


def k_distance_in(choice: EpsChoice, metric: str) -> tuple[np.ndarray, float]:
    """The k-distance curve and eps in ``metric`` units: cosine distances ``d^2 / 2`` of the unit-vector
    euclidean ones for "cosine", as computed otherwise."""
    if metric == "cosine":
        return choice.k_distances**2 / 2.0, choice.eps**2 / 2.0
    return choice.k_distances, choice.eps
