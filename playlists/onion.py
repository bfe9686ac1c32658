"""The cluster onion walk: a cluster peeled into convex-hull layers, walked from its edge to its core.

The cluster's members are projected (PCA fitted on the cluster itself) and
peeled: the vertices of the hull are the outer layer, the hull of what remains the next, and
so on. Layers are walked from the outside in (``outward=True``: from the core out), each as a
short tour that starts next to where the previous layer ended; when the cluster has more
members than the length, each layer contributes in proportion to its size, spaced evenly
along its tour. Points that have become flat (collinear, coplanar) are peeled in their own
affine span (two end points of a line, the hull of a plane); a tiny cluster (fewer than
``d + 2`` members) is a single layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from embeddings.errors import ConfigError
from playlists.assemble import finish_playlist
from playlists.errors import PlaylistError
from playlists.hull import affine_span
from playlists.library import Library
from playlists.playlist import Playlist
from playlists.projection import ProjectionConfig, project
from playlists.rules import PlaylistRules, RuleChecker
from playlists.tour import cosine_distances, tour


def onion_layers(points: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
    """Peel convex-hull layers, outermost first.

    Args:
        points: ``(m, d)`` coordinates.

    Returns:
        ``(layers, notices)``: the layers are arrays of row indices into ``points`` that
        partition ``0..m-1``; the first holds the vertices of the hull of all points, the next
        those of the hull of the rest, and so on. Flat remainders are peeled in their own
        affine span (a line: its two end points; identical points: one last layer).
    """
    p = np.asarray(points, dtype=np.float64)
    m, d = p.shape
    remaining = np.arange(m)
    layers: list[np.ndarray] = []
    notices: list[str] = []
    if 0 < m < d + 2:
        notices.append(f"{m} tracks are fewer than d + 2 = {d + 2}: the hull has no interior, one layer")
        return [remaining], notices
    flat_noted = False
    while remaining.size:
        sub = p[remaining]
        origin, basis = affine_span(sub)
        r = basis.shape[0]
        if r == 0:
            layers.append(remaining)
            break
        if r < d and not flat_noted:
            notices.append(
                f"layer {len(layers) + 1}: the remaining {remaining.size} tracks span only {r} of "
                f"d={d} dimensions; peeled in their {r}-dimensional span"
            )
            flat_noted = True
        coords = (sub - origin) @ basis.T
        if r == 1:
            vertices = np.unique([int(np.argmin(coords[:, 0])), int(np.argmax(coords[:, 0]))])
        elif remaining.size <= r + 1:
            vertices = np.arange(remaining.size)
        else:
            try:
                vertices = ConvexHull(coords).vertices
            except QhullError as exc:
                notices.append(
                    f"Qhull failed on layer {len(layers) + 1} ({str(exc).splitlines()[0]}); "
                    f"its {remaining.size} tracks form the last layer"
                )
                layers.append(remaining)
                break
        layers.append(remaining[np.sort(vertices)])
        keep = np.ones(remaining.size, dtype=bool)
        keep[vertices] = False
        remaining = remaining[keep]
    return layers, notices


def _quotas(sizes: Sequence[int], total: int) -> list[int]:
    """Split ``total`` over layers in proportion to their sizes (largest remainder, capped)."""
    sizes = np.asarray(sizes, dtype=np.float64)
    share = sizes * total / sizes.sum()
    q = np.minimum(np.floor(share).astype(int), sizes.astype(int))
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    k = 0
    while q.sum() < total:
        i = order[k % len(order)]
        if q[i] < sizes[i]:
            q[i] += 1
        k += 1
    return q.tolist()


def onion_walk(
    library: Library,
    member_ids: Sequence[str],
    *,
    length: int,
    outward: bool = False,
    projection: ProjectionConfig = ProjectionConfig(),
    rules: PlaylistRules = PlaylistRules(),
    points: np.ndarray | None = None,
    label: str = "cluster",
) -> Playlist:
    """Walk a cluster from its edge to its core (or core to edge with ``outward``).

    Args:
        library: tracks and embeddings.
        member_ids: the cluster's tracks.
        length: number of tracks wanted.
        outward: walk from the innermost layer outwards.
        projection: projection fitted on the cluster's members.
        rules: duplicate / near-duplicate / artist-window rules.
        points: precomputed ``(m, d)`` coordinates of the members (skips ``projection``).
        label: how the cluster is named in notices (``"cluster 3 of run r1"``).
    """
    if length < 1:
        raise ConfigError(f"length={length} must be at least 1")
    if not member_ids:
        raise PlaylistError(f"{label} has no tracks")
    members = np.array(list(dict.fromkeys(library.indices(member_ids).tolist())), dtype=np.int64)
    checker = RuleChecker(library.tracks, library.embeddings, rules)
    centre = library.embeddings[members].mean(axis=0)
    kept = members
    notices: list[str] = []
    if points is None:
        proj = project(library.embeddings[kept], projection)
        pts, method_used = proj.points, proj.method
    else:
        if points.shape[0] != len(members):
            raise PlaylistError(f"points of shape {points.shape} do not align with {len(members)} members")
        pts, method_used = np.asarray(points, dtype=np.float64), "given"
    layers, layer_notices = onion_layers(pts)
    notices.extend(layer_notices)
    if outward:
        layers = layers[::-1]
    want = min(length, len(kept))
    quotas = _quotas([len(layer) for layer in layers], want)
    order: list[int] = []
    spare: list[int] = []
    for layer, q in zip(layers, quotas, strict=True):
        rows = kept[layer]
        emb = library.embeddings[rows]
        if order:
            start = int(np.argmax(emb @ library.embeddings[order[-1]]))
        else:  # the track farthest from (outward: nearest to) the cluster's centre
            sims = emb @ centre
            start = int(np.argmax(sims) if outward else np.argmin(sims))
        walk = rows[tour(cosine_distances(emb), start)]
        picks = np.floor(np.arange(q) * len(walk) / q).astype(int) if q else np.zeros(0, dtype=int)
        order.extend(int(i) for i in walk[picks])
        spare.extend(int(i) for i in np.delete(walk, picks))
    params = {
        "cluster": label,
        "outward": outward,
        "projection": method_used,
        "n_components": int(pts.shape[1]),
        "n_layers": len(layers),
        "layer_sizes": [len(layer) for layer in layers],
    }
    return finish_playlist(
        library, order, checker=checker, length=length, seeds=[], method="onion", params=params,
        notices=notices, spare=spare, what=f"{label} has {len(members)} tracks", fixed_first=True,
    )
