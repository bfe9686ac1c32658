"""Extended M3U8 playlists: write (text first, for ``--dry-run``); :mod:`embeddings.m3u` reads them.

The written format, UTF-8 with ``\\n`` line ends::

    #EXTM3U
    #PLAYLIST:Evening
    #EXTINF:245,Artist - Title
    ../Music/Artist/Title.flac

``#EXTINF`` carries the duration in whole seconds (``-1`` when unknown) and
``artist - title`` (the file name when both are missing). Paths are relative to the
playlist file's folder by default, so a music folder and its playlists can move together.
A path with a line break in it (legal on Linux, fatal to a line-based format) or a backslash (which
readers take for a Windows folder separator) is written as an absolute ``file://`` URI with the
character percent-encoded; readers turn it back into the path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from playlists._io import entry_path, present, tracks_in_order, write_text_atomic
from playlists.errors import ExportError


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _duration(value: object) -> int:
    if not present(value):
        return -1
    seconds = float(value)  # type: ignore[arg-type]
    return int(math.floor(seconds + 0.5)) if math.isfinite(seconds) and seconds >= 0 else -1


def m3u8_text(
    tracks: pd.DataFrame,
    track_ids: Sequence[str],
    *,
    playlist_path: Path | None = None,
    relative: bool = True,
    name: str | None = None,
) -> str:
    """The M3U8 text of a playlist (nothing is written).

    Args:
        tracks: track table with ``track_id``, ``path`` and, when known, ``artist``,
            ``title``, ``duration_s``.
        track_ids: the playlist in play order.
        playlist_path: where the playlist will be written (relative paths start there).
        relative: write paths relative to ``playlist_path``'s folder (absolute when False or
            when there is no ``playlist_path``).
        name: written as ``#PLAYLIST:`` when given.
    """
    table = tracks_in_order(tracks, track_ids)
    if "path" not in table:
        raise ExportError("the track table has no 'path' column: cannot write an M3U8 playlist")
    lines = ["#EXTM3U"]
    if name:
        lines.append(f"#PLAYLIST:{_one_line(name)}")
    for row in table.itertuples(index=False):
        path = str(row.path)
        artist = getattr(row, "artist", None)
        title = getattr(row, "title", None)
        shown = [_one_line(v) for v in (artist, title) if present(v)]
        label = " - ".join(shown) if shown else Path(path).stem
        lines.append(f"#EXTINF:{_duration(getattr(row, 'duration_s', None))},{label}")
        if "\n" in path or "\r" in path or "\\" in path:
            lines.append(Path(os.path.abspath(path)).as_uri())
        else:
            lines.append(entry_path(path, playlist_path, relative=relative))
    return "\n".join(lines) + "\n"


def write_m3u8(text: str, path: Path) -> Path:
    """Write M3U8 ``text`` (from :func:`m3u8_text`) to ``path`` atomically."""
    return write_text_atomic(Path(path), text)
