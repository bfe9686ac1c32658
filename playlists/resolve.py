"""Resolve a seed given on the command line to a track of the library.

A seed may be a ``track_id`` (or a unique prefix of at least 6 characters), a file path
(absolute, relative to the working directory, or a unique file name), or ``"artist - title"``
compared after normalisation (case, accents, punctuation, remaster tags). An unknown seed
raises :class:`PlaylistError` listing the closest matches; an ambiguous one lists the tracks
it could mean.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from embeddings.m3u import file_key
from embeddings.tags import normalise_text
from playlists.errors import PlaylistError
from playlists.rules import normalise_artist, normalise_title

_MIN_PREFIX = 6


def _labels(tracks: pd.DataFrame) -> list[str]:
    out = []
    for row in tracks.itertuples(index=False):
        artist, title = getattr(row, "artist", None), getattr(row, "title", None)
        parts = [str(v) for v in (artist, title) if v is not None and not pd.isna(v) and str(v)]
        out.append(" - ".join(parts) if parts else Path(str(getattr(row, "path", row.track_id))).name)
    return out


def _describe(tracks: pd.DataFrame, rows: Sequence[int]) -> str:
    labels = _labels(tracks.iloc[list(rows)])
    paths = tracks["path"].iloc[list(rows)].tolist() if "path" in tracks else [""] * len(rows)
    return "; ".join(f"{label} ({path})" for label, path in zip(labels, paths, strict=True))


def resolve_seed(spec: str, tracks: pd.DataFrame) -> str:
    """The ``track_id`` of the track ``spec`` names.

    Args:
        spec: a track id (or unique prefix), a path, or ``"artist - title"``.
        tracks: the library's track table.

    Raises:
        PlaylistError: nothing matches (with the closest matches) or several tracks match.
    """
    spec = str(spec).strip()
    if not spec:
        raise PlaylistError("empty seed: give 'artist - title', a path or a track id")
    ids = tracks["track_id"].astype(str)
    hit = ids.index[ids == spec]
    if len(hit):
        return spec
    if len(spec) >= _MIN_PREFIX:
        hit = ids.index[ids.str.startswith(spec)]
        if len(hit) == 1:
            return str(ids.loc[hit[0]])
    if "path" in tracks:
        paths = tracks["path"].astype(str)
        candidate = os.path.normcase(os.path.abspath(os.path.expanduser(spec)))
        norm = paths.map(lambda p: os.path.normcase(os.path.abspath(p)))
        hit = norm.index[norm == candidate]
        if not len(hit):  # the same file through a symlink, or a link to it
            key = file_key(spec)
            keys = paths.map(file_key)
            hit = keys.index[keys == key]
        if not len(hit):
            names = paths.map(lambda p: Path(p).name)
            hit = names.index[names == Path(spec).name] if Path(spec).name == spec else hit
        if len(hit) == 1:
            return str(ids.loc[hit[0]])
        if len(hit) > 1:
            raise PlaylistError(
                f"seed {spec!r} matches {len(hit)} files: {_describe(tracks, hit.tolist())}; give the full path"
            )
    artists = tracks["artist"] if "artist" in tracks else pd.Series([""] * len(tracks), index=tracks.index)
    titles = tracks["title"] if "title" in tracks else pd.Series([""] * len(tracks), index=tracks.index)
    keys = [f"{normalise_artist(a)} - {normalise_title(t)}" for a, t in zip(artists, titles, strict=True)]
    matches: list[int] = []
    if " - " in spec:
        pieces = spec.split(" - ")
        for cut in range(1, len(pieces)):  # artists and titles may themselves contain " - "
            key = f"{normalise_artist(' - '.join(pieces[:cut]))} - {normalise_title(' - '.join(pieces[cut:]))}"
            matches = [i for i, k in enumerate(keys) if k == key]
            if matches:
                break
    else:
        wanted = normalise_title(spec)
        matches = [i for i, t in enumerate(titles) if wanted and normalise_title(t) == wanted]
    if len(matches) == 1:
        return str(ids.iat[matches[0]])
    if len(matches) > 1:
        raise PlaylistError(
            f"seed {spec!r} matches {len(matches)} tracks: {_describe(tracks, matches)}; "
            "give a path or a track id"
        )
    labels = _labels(tracks)
    normalised = [normalise_text(label) for label in labels]
    close = difflib.get_close_matches(normalise_text(spec), normalised, n=5, cutoff=0.5)
    suggestions = [labels[normalised.index(c)] for c in dict.fromkeys(close)]
    hint = f"; close matches: {', '.join(repr(s) for s in suggestions)}" if suggestions else ""
    raise PlaylistError(
        f"no track in the library ({len(tracks)} tracks) matches seed {spec!r}{hint}. "
        "Give 'artist - title', a path or a track id"
    )
