"""Recommendations from liked songs, with explanations; ``similar`` is the one-seed case.

Every fragment of every other track is scored by its summed cosine distance to a sample of
the liked songs' fragments; each track keeps its best (lowest) fragment; liked songs and
their near-duplicates are excluded; the ``n`` best tracks are returned.

On L2-normalised vectors the summed distance to the sample ``S`` is linear in the fragment:
``sum_{s in S} (1 - f.s) = |S| - f.(sum_{s in S} s)``, so ranking all fragments is a single
maximum-inner-product query with the sample's sum, answered by faiss
(:mod:`playlists.neighbours`: exact, approximate above a size threshold). The reported
``distance`` is the mean distance to the sample, ``1 - f.q / |S|``.

The explanation of each pick names the fragment that matched (its start time), the track's
tags, the distance, and the liked song whose fragments come closest to that fragment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from embeddings.errors import ConfigError
from playlists.assemble import finish_playlist
from playlists.errors import PlaylistError
from playlists.library import Library
from playlists.neighbours import IndexConfig, NeighbourIndex
from playlists.playlist import Playlist
from playlists.projection import l2_normalise
from playlists.rules import PlaylistRules, RuleChecker

TAGS = ("artist", "title", "album", "genre")


@dataclass(frozen=True)
class Recommendations:
    """Picks and the reasons for them.

    Attributes:
        playlist: the picks in rank order (method ``"recommend"`` or ``"similar"``).
        picks: one row per pick: ``rank``, ``track_id``, the tags (``artist``, ``title``,
            ``album``, ``genre``), ``distance`` (mean cosine distance of the matching fragment
            to the liked sample), ``fragment_index``, ``fragment_start_s``,
            ``closest_liked_id``, ``closest_liked`` ("artist - title"), ``closest_liked_start_s``
            (where that liked song's closest fragment starts) and ``closest_liked_distance``.
        liked: the liked songs with their tags and ``n_fragments`` / ``n_sampled``.
    """

    playlist: Playlist
    picks: pd.DataFrame
    liked: pd.DataFrame


def _label(library: Library, idx: int) -> str:
    artist, title = library.column("artist", [idx])[0], library.column("title", [idx])[0]
    parts = [str(v) for v in (artist, title) if v is not None and not pd.isna(v) and str(v)]
    return " - ".join(parts) if parts else library.ids([idx])[0]


def sample_fragments(
    fragment_track_ids: Sequence[str], liked_ids: Sequence[str], *, sample_size: int, seed: int = 0
) -> np.ndarray:
    """Rows of the liked songs' fragments to score against, balanced across songs.

    Each liked song contributes in turn (a random fragment each round) until ``sample_size``
    rows are taken or every liked fragment is, so a long song does not outweigh short ones.

    Returns:
        Sorted row indices into the fragment table.
    """
    if sample_size < 1:
        raise ConfigError(f"sample_size={sample_size} must be at least 1")
    ids = np.asarray([str(t) for t in fragment_track_ids])
    rng = np.random.default_rng(seed)
    pools = []
    for tid in dict.fromkeys(str(t) for t in liked_ids):
        rows = np.flatnonzero(ids == tid)
        if rows.size:
            pools.append(list(rng.permutation(rows)))
    taken: list[int] = []
    while len(taken) < sample_size and any(pools):
        for pool in pools:
            if pool and len(taken) < sample_size:
                taken.append(int(pool.pop()))
    return np.sort(np.array(taken, dtype=np.int64))


def recommend(
    library: Library,
    fragments: pd.DataFrame,
    fragment_embeddings: np.ndarray,
    liked_ids: Sequence[str],
    *,
    n: int = 10,
    sample_size: int = 256,
    rules: PlaylistRules = PlaylistRules(),
    index: NeighbourIndex | None = None,
    index_config: IndexConfig = IndexConfig(),
    seed: int = 0,
    method: str = "recommend",
) -> Recommendations:
    """The ``n`` tracks whose best fragment lies closest to the liked songs' fragments.

    Args:
        library: tracks and track embeddings (tags, near-duplicate and artist rules).
        fragments: fragment table with ``track_id``, ``fragment_index``, ``start_s``, rows
            aligned with ``fragment_embeddings``.
        fragment_embeddings: ``(m, dim)`` fragment vectors.
        liked_ids: the liked tracks.
        n: number of recommendations.
        sample_size: liked fragments scored against (see :func:`sample_fragments`).
        rules: near-duplicates of liked songs are always excluded unless allowed; the artist
            window applies to the ranked list.
        index: a prebuilt index over ``fragment_embeddings`` (normalised); built when None.
        index_config: how to build it.
        seed: sampling seed.
        method: recorded on the playlist.
    """
    if n < 1:
        raise ConfigError(f"n={n} must be at least 1")
    if not len(liked_ids):
        raise PlaylistError("no liked songs given")
    frag = np.asarray(fragment_embeddings)
    if frag.ndim != 2 or frag.shape[0] != len(fragments):
        raise PlaylistError(f"fragment embeddings {frag.shape} do not align with {len(fragments)} fragments")
    liked = [int(i) for i in dict.fromkeys(library.indices(liked_ids).tolist())]
    liked_set = set(library.ids(liked))
    frag_tracks = fragments["track_id"].astype(str).to_numpy()
    sample = sample_fragments(frag_tracks, library.ids(liked), sample_size=sample_size, seed=seed)
    if sample.size == 0:
        raise PlaylistError(f"the {len(liked)} liked songs have no fragments in the store: {sorted(liked_set)[:5]}")
    # only the rows this call reads are normalised: with a ready index (a library of 160k fragments, every
    # request of `ctk serve`) normalising the whole matrix per call was most of the call's time
    query = l2_normalise(frag[sample]).sum(axis=0)
    if index is None:
        index = NeighbourIndex(l2_normalise(frag), index_config)
    elif index.ntotal != len(fragments):
        raise PlaylistError(f"the index holds {index.ntotal} vectors, the fragment table {len(fragments)}")

    checker = RuleChecker(library.tracks, library.embeddings, rules)
    position = {tid: i for i, tid in enumerate(library.track_ids)}
    selection = checker.selection(liked)  # liked songs and the picks so far: no near-duplicates of them
    excluded: dict[int, str] = {}
    best_row: dict[int, int] = {}
    candidates: list[int] = []
    k = min(index.ntotal, max(256, 16 * (n + len(liked))))
    while True:
        scores, rows = index.search(query, k)
        for row in rows[0]:
            if row < 0:
                continue
            idx = position.get(frag_tracks[row])
            if idx is None or idx in best_row or idx in excluded:
                continue
            if frag_tracks[row] in liked_set:
                excluded[idx] = "liked"
                continue
            reason = selection.reason(idx)
            if reason is not None:
                excluded[idx] = reason
                continue
            best_row[idx] = int(row)
            candidates.append(idx)
            selection.add(idx)
        arranged, _ = checker.arrange(candidates, fixed_first=False)
        if len(arranged) >= n or k >= index.ntotal:
            break
        k = min(index.ntotal, 4 * k)
    picks_idx = arranged[:n]

    liked_rows = np.flatnonzero(np.isin(frag_tracks, list(liked_set)))
    liked_vectors = l2_normalise(frag[liked_rows])
    records = []
    for rank, idx in enumerate(picks_idx, start=1):
        row = best_row[idx]
        vector = l2_normalise(frag[[row]])[0]
        sims = liked_vectors @ vector
        closest = int(liked_rows[int(np.argmax(sims))])
        closest_idx = position[frag_tracks[closest]]
        record = {"rank": rank, "track_id": library.ids([idx])[0]}
        for tag in TAGS:
            record[tag] = library.column(tag, [idx])[0]
        record.update(
            distance=float(1.0 - vector @ query / sample.size),
            fragment_index=int(fragments["fragment_index"].iat[row]) if "fragment_index" in fragments else 0,
            fragment_start_s=float(fragments["start_s"].iat[row]) if "start_s" in fragments else float("nan"),
            closest_liked_id=frag_tracks[closest],
            closest_liked=_label(library, closest_idx),
            closest_liked_start_s=float(fragments["start_s"].iat[closest]) if "start_s" in fragments else float("nan"),
            closest_liked_distance=float(1.0 - sims.max()),
        )
        records.append(record)
    picks = pd.DataFrame.from_records(
        records,
        columns=["rank", "track_id", *TAGS, "distance", "fragment_index", "fragment_start_s",
                 "closest_liked_id", "closest_liked", "closest_liked_start_s", "closest_liked_distance"],
    )
    liked_table = pd.DataFrame(
        {
            "track_id": library.ids(liked),
            **{tag: library.column(tag, liked) for tag in TAGS},
            "n_fragments": [int((frag_tracks == t).sum()) for t in library.ids(liked)],
            "n_sampled": [int((frag_tracks[sample] == t).sum()) for t in library.ids(liked)],
        }
    )
    reasons = {}
    for reason in excluded.values():
        if reason != "liked":
            reasons[reason] = reasons.get(reason, 0) + 1
    params = {
        "liked": library.ids(liked),
        "sample_size": int(sample.size),
        "index": index.kind,
        "n_fragments": int(index.ntotal),
    }
    notices = []
    if any(reasons.values()):
        notices.append(
            "excluded near-duplicates of liked songs or of better picks: "
            + ", ".join(f"{v} {k}" for k, v in sorted(reasons.items()))
        )
    playlist = finish_playlist(
        library, picks_idx, checker=checker, length=n, seeds=liked, method=method, params=params,
        notices=notices, what=f"{len(position) - len(liked)} candidate tracks", fixed_first=False,
    )
    return Recommendations(playlist=playlist, picks=picks, liked=liked_table)


def similar(
    library: Library,
    fragments: pd.DataFrame,
    fragment_embeddings: np.ndarray,
    seed_id: str,
    **kwargs: Any,
) -> Recommendations:
    """Tracks similar to one song: :func:`recommend` with a single liked song."""
    return recommend(library, fragments, fragment_embeddings, [seed_id], method="similar", **kwargs)
