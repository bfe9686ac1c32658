"""Agglomerative linkage of weighted points: the second stage of two-stage hierarchical clustering.

The two-stage method (:class:`cluster_toolkit.clustering.hierarchical.HierarchicalClusterer` above
``max_exact`` tracks) summarises the tracks by ``m`` k-means centroids, each standing for ``count`` tracks.
Linking the centroids as if each were one track lets a centroid of 3 tracks weigh as much as one of 3,000.
This module continues the agglomeration *from* that partition instead: each centroid starts as a cluster of
``count`` points, and merges follow the Lance-Williams recurrences with those sizes (Lance & Williams 1967;
Müllner 2011, "Modern hierarchical, agglomerative clustering algorithms", table 1):

- ``ward``: the initial dissimilarity of two micro-clusters of sizes ``a``, ``b`` is Ward's merge cost
  ``d^2 = 2ab / (a + b) * ||c_a - c_b||^2``, and ``d^2(k, i+j) = ((n_k + n_i) d^2(k, i) + (n_k + n_j)
  d^2(k, j) - n_k d^2(i, j)) / (n_k + n_i + n_j)``. Heights are ``d``, scipy's convention: with every count
  1 this is exactly ``scipy.cluster.hierarchy.linkage(method="ward")``, and with points repeated ``count``
  times scipy's tree above its zero-height merges of the duplicates equals this one.
- ``average`` (UPGMA): the distance between micro-clusters is the distance of their centroids (the mean
  distance between their members is not known from the centroids; it is exact when each micro-cluster is a
  point repeated), updated by ``d(k, i+j) = (n_i d(k, i) + n_j d(k, j)) / (n_i + n_j)``.

``complete`` and ``single`` do not depend on sizes; they are scipy's linkage on the centroids.

scipy's ``linkage`` has no weights, hence this small implementation: the nearest-neighbour chain algorithm
(valid for these reducible linkages, as in scipy's own ``nn_chain``) on a dense ``(m, m)`` float64 matrix
(``8 m^2`` bytes: 8 MB at 1,000 centroids, 200 MB at 5,000; O(m^2) time), then the merges sorted by
height and numbered as scipy numbers them, so the result is a linkage matrix ``Z`` that ``fcluster`` and
``dendrogram`` take.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import pdist, squareform

from cluster_toolkit.errors import ClusteringError

WEIGHTED = ("ward", "average")


def weighted_linkage(points: np.ndarray, counts: np.ndarray, *, method: str = "ward",
                     metric: str = "euclidean") -> np.ndarray:
    """scipy-style linkage matrix ``Z`` ``(m - 1, 4)`` of ``points`` ``(m, d)`` standing for ``counts`` ``(m,)``
    points each (module docstring). Column 3 of ``Z`` counts the points of ``points`` (the centroids) under
    each merge, as scipy's ``fcluster`` expects, not the tracks they stand for."""
    x = np.asarray(points, dtype=np.float64)
    w = np.asarray(counts, dtype=np.float64)
    m = x.shape[0]
    if x.ndim != 2 or m < 2 or w.shape != (m,) or np.any(w <= 0):
        raise ClusteringError(
            f"weighted linkage: needs (m >= 2, d) points and m positive counts, got {x.shape} and {w.shape}"
        )
    if method not in WEIGHTED:
        return linkage(x, method=method, metric=metric)
    if method == "ward" and metric != "euclidean":
        raise ClusteringError(f"weighted linkage: ward needs metric='euclidean', got {metric!r}")
    dist = squareform(pdist(x, metric=metric))
    if method == "ward":
        dist = dist**2 * (2.0 * np.outer(w, w) / np.add.outer(w, w))
    merges = _nn_chain(dist, w.copy(), method)
    return _number_merges(merges, m)


def _nn_chain(dist: np.ndarray, size: np.ndarray, method: str) -> list[tuple[int, int, float]]:
    """Merges ``(slot_a, slot_b, height)`` in the order the chain finds them; the merged cluster lives on in
    ``slot_b``. ``dist`` is overwritten."""
    m = dist.shape[0]
    np.fill_diagonal(dist, np.inf)
    active = np.ones(m, dtype=bool)
    merges: list[tuple[int, int, float]] = []
    chain: list[int] = []
    while len(merges) < m - 1:
        if not chain:
            chain.append(int(np.flatnonzero(active)[0]))
        a = chain[-1]
        row = np.where(active, dist[a], np.inf)
        b = int(np.argmin(row))
        if len(chain) > 1 and row[chain[-2]] <= row[b]:
            b = chain[-2]  # ties go to the previous link, so the chain cannot cycle
        if len(chain) < 2 or b != chain[-2]:
            chain.append(b)
            continue
        chain.pop()
        chain.pop()
        d_ab, na, nb = dist[a, b], size[a], size[b]
        if method == "ward":
            nk = size
            new = ((nk + na) * dist[a] + (nk + nb) * dist[b] - nk * d_ab) / (nk + na + nb)
            height = float(np.sqrt(max(d_ab, 0.0)))
        else:  # average
            new = (na * dist[a] + nb * dist[b]) / (na + nb)
            height = float(d_ab)
        merges.append((a, b, height))
        active[a] = False
        size[b] = na + nb
        new[~active] = np.inf
        new[b] = np.inf
        dist[b, :] = new
        dist[:, b] = new
        dist[a, :] = np.inf
        dist[:, a] = np.inf
    return merges


def _number_merges(merges: list[tuple[int, int, float]], m: int) -> np.ndarray:
    """The chain's merges sorted by height (stable) and numbered as scipy does: leaves ``0..m-1``, the
    cluster made by row ``i`` is ``m + i``."""
    parent = np.arange(m)
    cluster = np.arange(m)  # the current cluster id of each union-find root
    size = np.ones(m)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return int(i)

    z = np.empty((m - 1, 4), dtype=np.float64)
    for row, index in enumerate(sorted(range(len(merges)), key=lambda i: merges[i][2])):
        a, b, height = merges[index]
        ra, rb = find(a), find(b)
        ca, cb = sorted((cluster[ra], cluster[rb]))
        parent[ra] = rb
        size[rb] += size[ra]
        cluster[rb] = m + row
        z[row] = (ca, cb, height, size[rb])
    return z

