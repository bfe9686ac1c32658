"""The seed hull walk: a playlist from the region a few seed songs span.

**Hull space.** By default the hull is built in the seeds' own affine span (:func:`seed_span_distances`):
k seeds are the vertices of a real hull there (a segment, a triangle...), and a track's distance to it is
its exact full-space distance to the seeds' convex set. ``space="projection"`` builds it instead in a
low-dimensional projection of the whole library (:mod:`playlists.projection`), where Qhull
(``scipy.spatial.ConvexHull``) gives facets: a track is inside when ``n.x + b <= margin`` for every facet
(unit outward normal ``n``); fewer seeds than ``d + 1``, or flat seeds, fall back to the distance to the
seeds' convex set (non-negative least squares): one seed gives a ball, two a capsule.

**Selection.** ``selection="core"`` (the default in the seeds' span): the tracks nearest the hull's core,
the hull shrunk to ``core`` of its size about the seeds' centroid. In a high-dimensional embedding no track
but the seeds lies within any useful margin of the hull, so the distance to the hull is in practice the
distance to its nearest point, often beside one seed at the edge of the seeds' region; the core keeps the
tracks nearest the middle of that region first (``core=1``: the hull itself; ``core=0``: the centroid,
i.e. nearest-to-centroid). ``selection="cover"`` (the former default): the tracks inside the hull grown by
the margin, k-means representatives of them when there are more than the length (every seed is kept),
then the tracks nearest the hull.

**Order.** The chosen tracks are walked from the first seed, through every seed, with a nearest-neighbour
tour improved by 2-opt on full-dimensional cosine distances (:mod:`playlists.tour`). Every fallback is a
notice, never an exception. The cluster onion walk is :mod:`playlists.onion`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy.optimize import nnls
from scipy.spatial import ConvexHull, QhullError

from embeddings.errors import ConfigError
from playlists.assemble import finish_playlist
from playlists.errors import PlaylistError
from playlists.library import Library
from playlists.playlist import Playlist
from playlists.projection import ProjectionConfig, project
from playlists.rules import PlaylistRules, RuleChecker, Selection
from playlists.tour import cosine_distances, tour

_EXACT_DISTANCES = 20_000  # above this many tracks, exact hull distances only for the nearest


def affine_span(points: np.ndarray, *, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Origin and orthonormal basis of the affine span of ``points``.

    Returns:
        ``origin`` ``(d,)`` (the centroid) and ``basis`` ``(r, d)``, ``r`` the affine rank
        (0 for a single point or identical points). Singular values below ``tol`` times the
        largest (or below ``tol`` when all are tiny) count as zero.
    """
    p = np.asarray(points, dtype=np.float64)
    origin = p.mean(axis=0)
    if p.shape[0] < 2:
        return origin, np.zeros((0, p.shape[1]))
    _, s, vt = np.linalg.svd(p - origin, full_matrices=False)
    cutoff = tol * max(float(s[0]), 1.0)
    return origin, vt[s > cutoff]


def library_scale(points: np.ndarray) -> float:
    """RMS distance of the points to their centroid: the unit of the hull margin."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape[0] < 2:
        return 1.0
    scale = float(np.sqrt(((p - p.mean(axis=0)) ** 2).sum(axis=1).mean()))
    return scale if scale > 0 else 1.0


def distance_to_convex_set(points: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Euclidean distance of each point to the convex hull of ``vertices`` (any rank).

    Solves ``min ||V^T w - x||`` with ``w >= 0``, ``sum w = 1`` as a non-negative least
    squares problem (``scipy.optimize.nnls``) with the sum constraint as a heavily weighted
    extra row. ``(n, d), (k, d) -> (n,)``.
    """
    p = np.asarray(points, dtype=np.float64)
    v = np.asarray(vertices, dtype=np.float64)
    if v.shape[0] == 1:
        return np.linalg.norm(p - v[0], axis=1)
    weight = 1e3 * max(library_scale(np.vstack([v, p[: min(len(p), 1000)]])), 1e-9)
    a = np.vstack([v.T, np.full((1, v.shape[0]), weight)])
    out = np.empty(p.shape[0])
    for i, x in enumerate(p):
        w, _ = nnls(a, np.concatenate([x, [weight]]))
        w = w / w.sum() if w.sum() > 0 else np.full_like(w, 1.0 / len(w))
        out[i] = np.linalg.norm(v.T @ w - x)
    return out


def seed_hull_distances(points: np.ndarray, seeds: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    """How far each point lies outside the seeds' convex hull (0 inside).

    Args:
        points: ``(n, d)`` projected library.
        seeds: row indices of the seeds.

    Returns:
        ``(distances (n,), notices)``. With a full-dimensional seed hull the distance is the
        largest facet offset ``max(n.x + b)`` (exact across a facet, a lower bound near
        corners); with a flat one (see the module docstring) it is the exact distance to the
        seeds' convex set, computed for the nearest tracks only when the library is large
        (the others get a lower bound).
    """
    p = np.asarray(points, dtype=np.float64)
    seed_pts = p[list(seeds)]
    n, d = p.shape
    k = len(seed_pts)
    _, basis = affine_span(seed_pts)
    rank = basis.shape[0]
    notices: list[str] = []
    if k >= d + 1 and rank == d:
        try:
            hull = ConvexHull(seed_pts)
            offsets = p @ hull.equations[:, :-1].T + hull.equations[:, -1]
            return np.clip(offsets.max(axis=1), 0.0, None), notices
        except QhullError as exc:  # numerically flat after all
            notices.append(f"Qhull could not build the seed hull: {str(exc).splitlines()[0]}")
    if k < d + 1:
        why = f"{k} seed{'s' if k != 1 else ''} cannot span a hull in d={d} (needs at least {d + 1})"
    else:
        why = f"the {k} seeds are flat (they span only {rank} of d={d} dimensions)"
    shape = {0: "a ball around the seed", 1: "a capsule around the segment between the seeds"}.get(
        rank, f"the {rank}-dimensional convex set of the seeds"
    )
    notices.append(f"{why}; selecting tracks within the margin of {shape} instead")
    centre = seed_pts.mean(axis=0)
    radius = float(np.linalg.norm(seed_pts - centre, axis=1).max())
    lower = np.clip(np.linalg.norm(p - centre, axis=1) - radius, 0.0, None)
    if n <= _EXACT_DISTANCES:
        return distance_to_convex_set(p, seed_pts), notices
    nearest = np.argsort(lower, kind="stable")[:_EXACT_DISTANCES]
    out = lower.copy()
    out[nearest] = distance_to_convex_set(p[nearest], seed_pts)
    return out, notices


SPACES = ("seeds", "projection")
_MAX_SPAN_DIMS = 8  # Qhull stays exact and fast up to here; more seeds span the top 8 directions of the seeds


def seed_span_distances(
    embeddings: np.ndarray, seeds: Sequence[int], *, shrink: float = 1.0
) -> tuple[np.ndarray, np.ndarray, dict, list[str]]:
    """Distances to the hull of the seeds built in the seeds' own affine span (or to its core).

    ``k`` seeds span ``k - 1`` dimensions (at most 8): there they are the vertices of a real hull (a segment,
    a triangle, a tetrahedron...), whatever the embedding's dimension. Every track is split into its
    coordinates in that span and its residual orthogonal to it; its distance to the hull is
    ``sqrt(outside^2 + residual^2)``, ``outside`` the exact distance of its coordinates to the seeds' hull
    in the span (0 inside; non-negative least squares, :func:`distance_to_convex_set`). That is the exact
    full-space distance to the seeds' convex set, so no projection of the library bends it.

    With ``shrink < 1`` the distances are to the hull's **core**: the hull scaled by ``shrink`` about the
    seeds' centroid (vertices ``c + shrink (s_i - c)``; 0 leaves the centroid alone, so the ranking is
    nearest-to-centroid).

    Args:
        embeddings: ``(n, dim)`` L2-normalised library.
        seeds: row indices of the seeds (at least one).
        shrink: size of the core relative to the hull, in ``[0, 1]``.

    Returns:
        ``(distances (n,), coords (n, r), info, notices)``: ``coords`` are the tracks in the span, ``info``
        says which space was used (``dims``, ``of``, ``vertices``: the seeds Qhull finds on the hull).
    """
    if not 0.0 <= shrink <= 1.0:
        raise ConfigError(f"shrink={shrink} must be in [0, 1] (1 = the whole hull, 0 = the seeds' centroid)")
    x = np.asarray(embeddings, dtype=np.float64)
    seed_pts = x[list(seeds)]
    k = len(seed_pts)
    origin, basis = affine_span(seed_pts, tol=1e-6)
    notices: list[str] = []
    if basis.shape[0] > _MAX_SPAN_DIMS:
        basis = basis[:_MAX_SPAN_DIMS]
        notices.append(f"{k} seeds span {k - 1} dimensions; the hull uses their top {_MAX_SPAN_DIMS} directions")
    r = basis.shape[0]
    if r < min(k - 1, _MAX_SPAN_DIMS):
        notices.append(f"the {k} seeds are flat: they span only {r} of {k - 1} dimensions")
    centred = x - origin
    coords = centred @ basis.T
    residual = np.linalg.norm(centred - coords @ basis, axis=1)
    seed_coords = coords[list(seeds)]
    n = x.shape[0]
    if r == 0:
        outside = np.zeros(n)
        vertices = [0]
    else:
        core = shrink * seed_coords  # the span's origin is the seeds' centroid
        lower = np.clip(np.linalg.norm(coords, axis=1) - np.linalg.norm(core, axis=1).max(), 0.0, None)
        outside = lower.copy()
        rows = np.arange(n)
        if n > _EXACT_DISTANCES:  # the others keep the lower bound
            rows = np.argsort(lower + residual, kind="stable")[:_EXACT_DISTANCES]
        if shrink > 0:  # a zero core is the centroid itself: the lower bound is exact
            outside[rows] = distance_to_convex_set(coords[rows], core)
        vertices = _hull_vertices(seed_coords)
    info = {"space": "seeds", "dims": int(r), "of": int(x.shape[1]), "vertices": len(vertices)}
    shape = {0: "a point", 1: "a segment", 2: "a triangle", 3: "a tetrahedron"}.get(r, f"a {r}-dimensional simplex")
    if k > r + 1:
        shape = f"a {r}-dimensional hull with {len(vertices)} of the {k} seeds as vertices"
    notices.append(
        f"hull space: the seeds' own span, {r} of {x.shape[1]} dimensions, where the {k} seeds form {shape}; "
        "distances to it are measured in the full embedding space"
    )
    return np.sqrt(outside**2 + residual**2), coords, info, notices


def _hull_vertices(points: np.ndarray) -> list[int]:
    """Indices of ``points`` ``(k, r)`` on their convex hull (Qhull for r >= 2; the ends for r = 1)."""
    k, r = points.shape
    if r == 1:
        return sorted({int(np.argmin(points[:, 0])), int(np.argmax(points[:, 0]))})
    if k <= r + 1:
        return list(range(k))
    try:
        return sorted(int(v) for v in ConvexHull(points).vertices)
    except QhullError:
        return list(range(k))


def _representatives(points: np.ndarray, pool: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` members of ``pool`` that cover it evenly: the member nearest each k-means centre."""
    from sklearn.cluster import KMeans

    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= len(pool):
        return pool
    x = points[pool]
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x)
    chosen = []
    for c in range(k):
        members = np.flatnonzero(km.labels_ == c)
        dist = np.linalg.norm(x[members] - km.cluster_centers_[c], axis=1)
        chosen.append(pool[members[int(np.argmin(dist))]])
    return np.array(chosen, dtype=np.int64)


def count_within_hull(embeddings: np.ndarray, seeds: Sequence[int], coords: np.ndarray, radius: float) -> int:
    """How many tracks lie within ``radius`` of the seeds' hull itself (full-space distance).

    ``coords`` are the tracks in the seeds' span (:func:`seed_span_distances`). Only a track whose residual
    off the span is at most ``radius`` can qualify, so the exact distance is computed for those alone (in a
    high-dimensional embedding hardly any but the seeds)."""
    x = np.asarray(embeddings, dtype=np.float64)
    centred = x - x[list(seeds)].mean(axis=0)
    residual = np.sqrt(np.clip((centred**2).sum(axis=1) - (coords**2).sum(axis=1), 0.0, None))
    rows = np.flatnonzero(residual <= radius)
    if coords.shape[1] == 0 or rows.size == 0:
        return int(rows.size)
    outside = distance_to_convex_set(coords[rows], coords[list(seeds)])
    return int(np.count_nonzero(np.hypot(outside, residual[rows]) <= radius))


def _admit(selection: Selection, candidates: Sequence[int], reasons: Counter, *, limit: int | None = None) -> int:
    """Add ``candidates`` in order while the rules allow (up to ``limit`` members); the number examined."""
    examined = 0
    for i in candidates:
        if limit is not None and len(selection) >= limit:
            break
        examined += 1
        reason = selection.reason(i)
        if reason is None:
            selection.add(i)
        else:
            reasons[reason] += 1
    return examined


SELECTIONS = ("core", "cover")
CORE = 0.3  # the default size of the hull's core, chosen on the held-out stores (docs/BENCHMARKS.md)


def hull_walk(
    library: Library,
    seed_ids: Sequence[str],
    *,
    length: int,
    projection: ProjectionConfig = ProjectionConfig(),
    margin: float = 0.05,
    rules: PlaylistRules = PlaylistRules(),
    points: np.ndarray | None = None,
    seed: int = 0,
    space: str | None = None,
    selection: str | None = None,
    core: float = CORE,
) -> Playlist:
    """A playlist from the seeds' hull, walked in small steps from the first seed.

    Args:
        library: tracks and embeddings.
        seed_ids: the seed tracks (at least one); the walk starts at the first.
        length: number of tracks wanted (seeds included).
        projection: how to project the library before computing the hull (``space="projection"``).
        margin: how far outside the hull a track may lie and still count as inside it, as a fraction of
            the library's RMS radius (:func:`library_scale`) in the space the hull lives in.
        rules: duplicate / near-duplicate / artist-window rules.
        points: a precomputed ``(n, d)`` projection of the library (skips ``projection``).
        seed: random seed of the k-means selection (``selection="cover"``).
        space: ``"seeds"`` (the default unless ``points`` are given): the hull of the seeds in
            their own span, distances in the full space (:func:`seed_span_distances`; k seeds
            always make a real hull); ``"projection"``:
            the hull in a ``d``-dimensional projection of the whole library (``projection`` or
            ``points``; fewer than ``d + 1`` seeds fall back to a ball/capsule there).
        selection: ``"core"`` (the default in the seeds' span): the tracks nearest the hull's core, the
            hull shrunk to ``core`` of its size about the seeds' centroid; ``"cover"`` (the former
            default, and the only one in a projection): the tracks inside the hull grown by ``margin``,
            k-means representatives of them when they are too many, the tracks nearest the hull when
            too few.
        core: size of the core relative to the hull, in ``[0, 1]`` (1: rank by the distance to the hull
            itself; 0: by the distance to the seeds' centroid, i.e. nearest-to-centroid).
    """
    if space is None:
        space = "projection" if points is not None else "seeds"
    if space not in SPACES:
        raise ConfigError(f"space={space!r} must be one of {SPACES}")
    if selection is None:
        selection = "core" if space == "seeds" else "cover"
    if selection not in SELECTIONS:
        raise ConfigError(f"selection={selection!r} must be one of {SELECTIONS}")
    if selection == "core" and space != "seeds":
        raise ConfigError("selection='core' needs the hull in the seeds' span (space='seeds'); "
                          "use selection='cover' with a projection")
    if not 0.0 <= core <= 1.0:
        raise ConfigError(f"core={core} must be in [0, 1] (1 = the whole hull, 0 = the seeds' centroid)")
    if length < 1:
        raise ConfigError(f"length={length} must be at least 1")
    if margin < 0:
        raise ConfigError(f"margin={margin} must be >= 0")
    if not seed_ids:
        raise PlaylistError("a hull walk needs at least one seed track")
    seeds = list(dict.fromkeys(int(i) for i in library.indices(seed_ids)))
    notices: list[str] = []
    if len(seeds) < len(seed_ids):
        notices.append(f"{len(seed_ids) - len(seeds)} repeated seeds ignored")
    if space == "seeds":
        shrink = core if selection == "core" else 1.0
        dist, coords, info, hull_notices = seed_span_distances(library.embeddings, seeds, shrink=shrink)
        points = library.embeddings
        method_used = "seed span"
    else:
        if points is None:
            proj = project(library.embeddings, projection)
            points, method_used = proj.points, proj.method
            notices.extend(proj.notices)
        else:
            method_used = "given"
            if points.shape[0] != len(library):
                raise PlaylistError(f"points of shape {points.shape} do not align with {len(library)} tracks")
        dist, hull_notices = seed_hull_distances(points, seeds)
        info = {"space": "projection", "dims": int(points.shape[1]), "of": int(library.embeddings.shape[1])}
        hull_notices.append(
            f"hull space: a {points.shape[1]}-dimensional {method_used} projection of the whole library"
        )
    notices.extend(hull_notices)
    margin_abs = margin * library_scale(points)
    checker = RuleChecker(library.tracks, library.embeddings, rules)
    all_seeds = seeds
    if len(seeds) > length:
        notices.append(f"{len(seeds)} seeds but length {length}: keeping the first {length} seeds")
        seeds = seeds[:length]
    seed_set = set(seeds)
    by_distance = [int(i) for i in np.argsort(dist, kind="stable") if int(i) not in seed_set]
    reasons: Counter = Counter()
    if selection == "core":
        # best first: nearest the core; the walk below orders them across the hull
        n_inside = count_within_hull(library.embeddings, all_seeds, coords, margin_abs)
        chosen = checker.selection(seeds)
        examined = _admit(chosen, by_distance, reasons, limit=length)
        selected, spare = list(chosen.members), by_distance[examined:]
        notices.append(
            f"selection: the tracks nearest the hull's core (the seed hull shrunk to {core:g} of its size about "
            f"the seeds' centre); {n_inside} library tracks lie within the margin of the hull itself"
        )
    else:
        # inside the hull (nearest its interior first), then outside by distance
        inside = [i for i in by_distance if dist[i] <= margin_abs]
        outside = [i for i in by_distance if dist[i] > margin_abs]
        n_inside = len(seeds) + len(inside)
        if n_inside > length:
            # k-means representatives; near-duplicates among them are replaced later from the spare ones
            reps = _representatives(points, np.array(inside, dtype=np.int64), length - len(seeds), seed).tolist()
            selected, picked = seeds + reps, set(reps)
            spare = [i for i in inside if i not in picked] + outside
        else:
            # few candidates: admit all that the rules allow, then the nearest tracks outside the hull
            chosen = checker.selection(seeds)
            _admit(chosen, inside, reasons)
            admissible = len(chosen)
            examined = _admit(chosen, outside, reasons, limit=length)
            selected, spare = list(chosen.members), outside[examined:]
            if len(selected) > admissible:
                notices.append(
                    f"only {admissible} tracks inside the seed hull (margin {margin}); added the "
                    f"{len(selected) - admissible} nearest tracks outside it"
                )
    emb = library.embeddings[selected]
    order = [selected[i] for i in tour(cosine_distances(emb), 0)]
    params = {
        "seeds": [str(s) for s in seed_ids],
        "margin": margin,
        "selection": selection,
        "projection": method_used,
        "n_components": int(info["dims"]),
        "hull_space": info,
        "inside_hull": n_inside,
    }
    if selection == "core":
        params["core"] = core
    return finish_playlist(
        library, order, checker=checker, length=length, seeds=seeds, method="hull", params=params,
        notices=notices, spare=spare, reasons=reasons,
        what=f"{len(library)} library tracks, {n_inside} inside the seed hull",
    )
