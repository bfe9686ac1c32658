"""The last step every generator shares: apply the artist window, refill, measure, wrap up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from playlists.library import Library
from playlists.playlist import Playlist
from playlists.quality import playlist_metrics
from playlists.rules import RuleChecker, shortfall_notice


def cheapest_insertion(route: Sequence[int], idx: int, embeddings: np.ndarray, positions: Sequence[int]) -> int:
    """Position (among ``positions``) where inserting ``idx`` lengthens the path least.

    Inserting before ``route[p]`` costs ``d(route[p-1], idx) + d(idx, route[p]) - d(route[p-1], route[p])``
    (cosine distances); inserting at the end (``p == len(route)``) costs ``d(route[-1], idx)``.
    """
    r = np.asarray(route, dtype=np.int64)
    x = embeddings[idx]
    d_new = 1.0 - embeddings[r] @ x  # distance of idx to every route member
    best, best_cost = -1, np.inf
    for p in positions:
        if p == 0:
            cost = d_new[0]
        elif p == len(r):
            cost = d_new[-1]
        else:
            cost = d_new[p - 1] + d_new[p] - (1.0 - float(embeddings[r[p - 1]] @ embeddings[r[p]]))
        if cost < best_cost:
            best, best_cost = int(p), float(cost)
    return best


def finish_playlist(
    library: Library,
    order: Sequence[int],
    *,
    checker: RuleChecker,
    length: int,
    seeds: Sequence[int],
    method: str,
    params: dict[str, Any],
    notices: list[str],
    spare: Sequence[int] = (),
    what: str,
    reasons: Counter | None = None,
    fixed_first: bool = True,
    fixed_last: bool = False,
) -> Playlist:
    """Turn an ordered candidate list into a :class:`Playlist` that obeys the rules.

    Args:
        library: the library the indices refer to.
        order: row indices in play order; duplicates and near-duplicates are dropped here (the
            seeds and fixed ends always stay) and replaced from ``spare``.
        checker: the rules.
        length: the length asked for (``order`` is cut to it).
        seeds: row indices of the seeds, for the coherence metric.
        method, params: recorded on the playlist (``length`` is added to ``params``).
        notices: fallbacks already taken; shortfalls and window moves are appended.
        spare: further admissible candidates, best first, used to refill gaps left by the
            artist window (inserted where they lengthen the path least).
        what: how the candidates were found, for the shortfall notice ("12 tracks in cluster 3").
        reasons: rejection counts so far (near-duplicates...), for the shortfall notice.
        fixed_first, fixed_last: keep the first / last track in place (a seed, a path's end).
    """
    notices = list(notices)
    reasons = Counter(reasons or {})
    ends = [int(order[0])] if fixed_first and len(order) else []
    if fixed_last and len(order) >= 2:
        ends.append(int(order[-1]))
    route, rejected = checker.filter([int(i) for i in order], keep=list(seeds) + ends)
    reasons.update(rejected)
    last = route.pop() if fixed_last and len(route) >= 2 else None
    route = route[: length - (1 if last is not None else 0)]
    arranged, dropped = checker.arrange(route, fixed_first=fixed_first)
    if last is not None:
        if not checker.window_ok(last, arranged):
            # the end is fixed: drop tracks before it until the window holds
            while arranged[1:] and not checker.window_ok(last, arranged):
                dropped.append(arranged.pop())
        arranged.append(last)
    if dropped:
        reasons["artist window"] += len(dropped)
    if len(arranged) < length and spare:
        used = set(arranged) | set(dropped)
        selection = checker.selection(arranged)
        added = 0
        for idx in spare:
            if len(arranged) >= length:
                break
            idx = int(idx)
            if idx in used or selection.reason(idx) is not None:
                continue
            start = 1 if fixed_first else 0
            end = len(arranged) - (1 if last is not None else 0)
            positions = [p for p in range(start, end + 1) if checker.insertion_ok(idx, arranged, p)]
            if not positions:
                continue
            arranged.insert(cheapest_insertion(arranged, idx, library.embeddings, positions), idx)
            selection.add(idx)
            used.add(idx)
            added += 1
        if added:
            notices.append(f"added {added} further candidates to keep the length after applying the rules")
    if len(arranged) < length:
        notices.append(shortfall_notice(len(arranged), length, what, reasons))
    metrics = playlist_metrics(
        library.embeddings[arranged] if arranged else np.zeros((0, library.embeddings.shape[1])),
        seed_embeddings=library.embeddings[list(seeds)] if len(seeds) else None,
        artists=library.column("artist", arranged),
    )
    return Playlist(
        track_ids=library.ids(arranged),
        method=method,
        params={**params, "length": int(length)},
        metrics=metrics,
        notices=notices,
    )
