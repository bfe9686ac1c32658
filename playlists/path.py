"""Song path: a smooth journey from track A to track B.

The two embeddings are L2-normalised and joined by spherical linear interpolation (slerp,
Shoemake 1985): ``slerp(a, b, t) = sin((1-t) w) / sin w * a + sin(t w) / sin w * b`` with
``cos w = a.b``, so the targets move along the great circle from A to B at a constant angular
speed. Step ``i`` of ``length - 2`` inner steps aims at ``t = i / (length - 1)`` and takes the
nearest (highest cosine) track not used yet that the rules admit. A and B are the first and
last tracks, and the path has exactly ``length`` tracks whenever the library holds enough
admissible ones.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from embeddings.errors import ConfigError
from playlists.assemble import finish_playlist
from playlists.errors import PlaylistError
from playlists.library import Library
from playlists.playlist import Playlist
from playlists.projection import l2_normalise
from playlists.rules import PlaylistRules, RuleChecker


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical interpolation between the directions of ``a`` and ``b``.

    Args:
        a, b: ``(dim,)`` vectors (normalised here).
        t: scalar or ``(k,)`` positions in ``[0, 1]``.

    Returns:
        ``(dim,)`` or ``(k, dim)`` unit vectors. Nearly parallel ends fall back to normalised
        linear interpolation; exactly opposite ends have no unique great circle and raise.
    """
    a = l2_normalise(np.asarray(a, dtype=np.float64)[None])[0].astype(np.float64)
    b = l2_normalise(np.asarray(b, dtype=np.float64)[None])[0].astype(np.float64)
    ts = np.atleast_1d(np.asarray(t, dtype=np.float64))[:, None]
    cos = float(np.clip(a @ b, -1.0, 1.0))
    omega = float(np.arccos(cos))
    if np.sin(omega) < 1e-6:
        if cos < 0:
            raise PlaylistError("the two ends point in opposite directions: no unique path between them")
        out = (1 - ts) * a + ts * b
    else:
        out = (np.sin((1 - ts) * omega) * a + np.sin(ts * omega) * b) / np.sin(omega)
    out = out / np.linalg.norm(out, axis=1, keepdims=True)
    return out[0] if np.ndim(t) == 0 else out


def song_path(
    library: Library,
    start_id: str,
    end_id: str,
    *,
    length: int,
    rules: PlaylistRules = PlaylistRules(),
) -> Playlist:
    """Tracks leading from ``start_id`` to ``end_id`` in ``length`` even steps.

    Args:
        library: tracks and embeddings.
        start_id, end_id: the first and last track.
        length: number of tracks including both ends (at least 2).
        rules: duplicate / near-duplicate / artist-window rules (the ends always stay).
    """
    if length < 2:
        raise ConfigError(f"length={length} must be at least 2 (a path includes both ends)")
    a, b = (int(i) for i in library.indices([start_id, end_id]))
    if a == b:
        raise PlaylistError(f"the path starts and ends on the same track {start_id!r}")
    emb = library.embeddings
    checker = RuleChecker(library.tracks, emb, rules)
    notices: list[str] = []
    rejected: dict[int, str] = {}
    if checker.duplicate_reason(b, [a]) is not None:
        notices.append("the two ends are near-duplicates of each other; kept both as asked")
    targets = slerp(emb[a], emb[b], np.arange(1, length - 1) / (length - 1)) if length > 2 else np.zeros((0,))
    chosen = [a]
    ends = [a, b]
    selection = checker.selection([a, b])
    for target in targets:
        scores = emb @ target.astype(np.float32)
        picked = None
        for idx in np.argsort(-scores, kind="stable"):
            idx = int(idx)
            if idx in ends:
                continue
            reason = selection.reason(idx)
            if reason is None and checker.window_ok(idx, chosen):
                picked = idx
                break
            if reason != "duplicate":
                rejected[idx] = reason or "artist window"
        if picked is None:
            break
        chosen.append(picked)
        selection.add(picked)
    reasons = Counter(reason for idx, reason in rejected.items() if idx not in chosen)
    order = chosen + [b]
    if len(order) < length:
        notices.append(f"the library ran out of admissible tracks after {len(order) - 2} inner steps")
    params = {"start": str(start_id), "end": str(end_id)}
    return finish_playlist(
        library, order, checker=checker, length=length, seeds=[a, b], method="path", params=params,
        notices=notices, reasons=reasons, what=f"{len(library)} library tracks", fixed_last=True,
    )
