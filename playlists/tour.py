"""Order tracks so that each step is small: a nearest-neighbour tour improved by 2-opt.

The tour is an *open* path (a playlist does not return to its first song) with a fixed
first track (a seed). Nearest-neighbour gives a good start in ``O(m^2)``; 2-opt then
reverses segments while that shortens the path (Croes 1958, "A method for solving
traveling-salesman problems"). Each 2-opt pass is vectorised over one end of the segment.
"""

from __future__ import annotations

import numpy as np

from playlists.errors import PlaylistError


def _check(dist: np.ndarray, start: int) -> np.ndarray:
    d = np.asarray(dist, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise PlaylistError(f"distance matrix must be square (m, m), got shape {d.shape}")
    if d.shape[0] and not 0 <= start < d.shape[0]:
        raise PlaylistError(f"start={start} is outside 0..{d.shape[0] - 1}")
    return d


def cosine_distances(embeddings: np.ndarray) -> np.ndarray:
    """Pairwise cosine distances of L2-normalised rows, clipped to ``[0, 2]``. ``(m, dim) -> (m, m)``."""
    return np.clip(1.0 - (embeddings @ embeddings.T).astype(np.float64), 0.0, 2.0)


def path_length(order: np.ndarray, dist: np.ndarray) -> float:
    """Sum of the step distances ``dist[order[k], order[k + 1]]`` of an open path."""
    order = np.asarray(order, dtype=np.int64)
    if order.size < 2:
        return 0.0
    return float(np.asarray(dist)[order[:-1], order[1:]].sum())


def nearest_neighbour_tour(dist: np.ndarray, start: int = 0) -> np.ndarray:
    """Greedy open tour: from ``start``, always go to the closest unvisited point.

    Args:
        dist: ``(m, m)`` symmetric distance matrix.
        start: index of the first point.

    Returns:
        ``(m,)`` int64 permutation of ``0..m-1`` beginning with ``start``.
    """
    d = _check(dist, start)
    m = d.shape[0]
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    visited = np.zeros(m, dtype=bool)
    order = np.empty(m, dtype=np.int64)
    current = start
    for k in range(m):
        order[k] = current
        visited[current] = True
        if k == m - 1:
            break
        row = np.where(visited, np.inf, d[current])
        current = int(np.argmin(row))
    return order


def two_opt(order: np.ndarray, dist: np.ndarray, *, max_passes: int = 100) -> np.ndarray:
    """Improve an open path by 2-opt moves, keeping its first point in place.

    A move reverses ``order[i:j+1]`` (``1 <= i < j``); it replaces the edges ``(a, b)`` and
    ``(c, e)`` by ``(a, c)`` and ``(b, e)`` where ``a, b = order[i-1], order[i]`` and
    ``c, e = order[j], order[j+1]``; when ``j`` is the last position only ``(a, b)`` is
    replaced by ``(a, c)`` (the path's end is free). The best move for each ``i`` is applied
    while it shortens the path by more than ``1e-12``.

    Returns:
        A permutation of ``order`` with the same first element and a path length no longer
        than the input's.
    """
    d = np.asarray(dist, dtype=np.float64)
    route = np.array(order, dtype=np.int64, copy=True)
    m = route.size
    if m < 3:
        return route
    for _ in range(max_passes):
        improved = False
        for i in range(1, m - 1):
            a, b = route[i - 1], route[i]
            js = np.arange(i + 1, m)
            c = route[js]
            gain = d[a, b] - d[a, c]
            inner = js < m - 1
            e = route[js[inner] + 1]
            gain[inner] += d[c[inner], e] - d[b, e]
            best = int(np.argmax(gain))
            if gain[best] > 1e-12:
                j = int(js[best])
                route[i : j + 1] = route[i : j + 1][::-1].copy()
                improved = True
        if not improved:
            break
    return route


def tour(dist: np.ndarray, start: int = 0, *, max_passes: int = 100) -> np.ndarray:
    """Nearest-neighbour tour from ``start`` improved by 2-opt. ``(m, m) -> (m,)`` order."""
    return two_opt(nearest_neighbour_tour(dist, start), dist, max_passes=max_passes)
