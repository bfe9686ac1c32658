"""Find the library's track for a playlist entry even after the music moved.

Entries are tried, in order,

1. **by path**: the entry's absolute path, or its real path (symlinks and ``..`` resolved on
   both sides, so a track reached through a symlink or a relative path is the same track);
2. **by content**: when the entry's file exists, its content hash is the library's track id
   (a moved or copied file with the same bytes);
3. **by tags**: the entry's ``artist - title`` (from ``#EXTINF`` or the JSON entry) against the
   library's tags, normalised (:func:`playlists.rules.recording_key`); several tracks with those
   tags go to the one with the closest duration.

A lookup counts how each entry was found, so that a command can say "3 entries found by
content: the music moved; `ctk embed NEW_FOLDER` updates the paths".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from embeddings.m3u import file_key
from playlists.rules import recording_key

HOW = ("track_id", "path", "content", "tags")


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(os.path.expanduser(path)))


@dataclass(frozen=True)
class PlaylistEntry:
    """What a playlist file says about one track (any of these may be missing)."""

    path: str | None = None
    track_id: str | None = None
    artist: str | None = None
    title: str | None = None
    label: str | None = None  # "artist - title" when artist and title are not apart (M3U #EXTINF)
    duration_s: float | None = None

    def describe(self) -> str:
        return self.track_id or self.path or self.label or f"{self.artist} - {self.title}"


@dataclass
class PlaylistLookup:
    """Track ids found (in order), entries not found, and how many were found each way."""

    track_ids: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    found_by: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HOW, 0))

    @property
    def moved(self) -> int:
        """Entries found only by content or tags: their files are not where the library says."""
        return self.found_by["content"] + self.found_by["tags"]


class TrackLocator:
    """Index of a track table (``track_id``, ``path``, tags) for :meth:`locate`."""

    def __init__(self, tracks: pd.DataFrame) -> None:
        ids = tracks["track_id"].astype(str).tolist()
        self.ids = set(ids)
        paths = tracks["path"].astype(str).tolist() if "path" in tracks else [""] * len(ids)
        self.by_path = {_norm(p): t for p, t in zip(paths, ids) if p}
        self.by_real: dict[str, str] | None = None  # built on first need (one stat per track)
        self._paths = list(zip(paths, ids))
        self.by_key: dict[str, list[tuple[str, float | None]]] = {}
        artists = tracks["artist"] if "artist" in tracks else pd.Series([None] * len(ids))
        titles = tracks["title"] if "title" in tracks else pd.Series([None] * len(ids))
        durations = tracks["duration_s"] if "duration_s" in tracks else pd.Series([None] * len(ids))
        for tid, artist, title, duration in zip(ids, artists, titles, durations):
            key = recording_key(artist, title)
            if key:
                seconds = float(duration) if duration is not None and pd.notna(duration) else None
                self.by_key.setdefault(key, []).append((tid, seconds))

    def _by_tags(self, entry: PlaylistEntry) -> str | None:
        keys = []
        if entry.title:
            keys.append(recording_key(entry.artist, entry.title))
        elif entry.label and " - " in entry.label:
            pieces = entry.label.split(" - ")  # artists and titles may themselves contain " - "
            keys += [recording_key(" - ".join(pieces[:cut]), " - ".join(pieces[cut:])) for cut in range(1, len(pieces))]
        for key in keys:
            hits = self.by_key.get(key) if key else None
            if hits:
                if entry.duration_s is None or len(hits) == 1:
                    return hits[0][0]
                return min(hits, key=lambda h: abs((h[1] if h[1] is not None else 1e9) - entry.duration_s))[0]
        return None

    def locate(self, entry: PlaylistEntry) -> tuple[str | None, str | None]:
        """``(track_id, how)`` for ``entry``; ``(None, None)`` when nothing matches."""
        if entry.track_id and entry.track_id in self.ids:
            return entry.track_id, "track_id"
        if entry.path and "://" not in entry.path:
            hit = self.by_path.get(_norm(entry.path))
            if hit is None:
                if self.by_real is None:
                    self.by_real = {file_key(p): t for p, t in self._paths if p}
                hit = self.by_real.get(file_key(entry.path))
            if hit is not None:
                return hit, "path"
            if os.path.isfile(entry.path):
                from cluster_toolkit.scanning import content_hash

                try:
                    digest = content_hash(Path(entry.path))
                except OSError:
                    digest = ""
                if digest in self.ids:
                    return digest, "content"
        hit = self._by_tags(entry)
        return (hit, "tags") if hit else (None, None)

    def lookup(self, entries: list[PlaylistEntry]) -> PlaylistLookup:
        result = PlaylistLookup()
        for entry in entries:
            tid, how = self.locate(entry)
            if tid is None:
                result.missing.append(entry.describe())
            else:
                result.track_ids.append(tid)
                result.found_by[how] += 1  # type: ignore[index]
        return result
