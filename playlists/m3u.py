"""Extended M3U8 playlists: write (text first, for ``--dry-run``) and read.

The written format, UTF-8 with ``\\n`` line ends::

    #EXTM3U
    #PLAYLIST:Evening
    #EXTINF:245,Artist - Title
    ../Music/Artist/Title.flac

``#EXTINF`` carries the duration in whole seconds (``-1`` when unknown) and
``artist - title`` (the file name when both are missing). Paths are relative to the
playlist file's folder by default, so a music folder and its playlists can move together.
A path with a line break in it (legal on Linux, fatal to a line-based format) is written as an
absolute ``file://`` URI with the break percent-encoded; readers turn it back into the path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

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
        if "\n" in path or "\r" in path:
            lines.append(Path(os.path.abspath(path)).as_uri())
        else:
            lines.append(entry_path(path, playlist_path, relative=relative))
    return "\n".join(lines) + "\n"


def write_m3u8(text: str, path: Path) -> Path:
    """Write M3U8 ``text`` (from :func:`m3u8_text`) to ``path`` atomically."""
    return write_text_atomic(Path(path), text)


@dataclass(frozen=True)
class M3UEntry:
    """One entry of an M3U file: its path (absolute) or URL, and what its ``#EXTINF`` line said."""

    path: str
    duration_s: float | None = None
    label: str | None = None  # "artist - title" as written after the comma


def parse_m3u_entries(text: str, base_dir: Path) -> list[M3UEntry]:
    """The entries of an M3U/M3U8 text, in order, with their ``#EXTINF`` duration and label.

    Comment and directive lines (``#...``) and blank lines are skipped; relative entries are
    resolved against ``base_dir``; ``file://`` URLs are turned into paths. Other URLs are
    kept as they are.
    """
    out = []
    info: tuple[float | None, str | None] = (None, None)
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.strip()
        if line.upper().startswith("#EXTINF:"):
            seconds, _, label = line[len("#EXTINF:"):].partition(",")
            try:
                duration = float(seconds.split()[0]) if seconds.split() else None
            except ValueError:
                duration = None
            info = (duration if duration is not None and duration >= 0 else None, label.strip() or None)
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith("file://"):
            line = unquote(urlparse(line).path)
        elif "://" in line:
            out.append(M3UEntry(line, *info))
            info = (None, None)
            continue
        p = Path(line).expanduser()
        out.append(M3UEntry(str((p if p.is_absolute() else Path(base_dir) / p).resolve()), *info))
        info = (None, None)
    return out


def parse_m3u(text: str, base_dir: Path) -> list[str]:
    """Absolute paths (or URLs) of an M3U/M3U8 text's entries, in order (see :func:`parse_m3u_entries`)."""
    return [entry.path for entry in parse_m3u_entries(text, base_dir)]


def read_m3u_entries(path: Path) -> list[M3UEntry]:
    """:func:`parse_m3u_entries` of a file (UTF-8, else Latin-1; ExportError when unreadable)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExportError(f"cannot read playlist {path}: {exc}") from exc
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = raw.decode("utf-16")  # Windows tools write UTF-16 with a byte-order mark
        except UnicodeDecodeError as exc:
            raise ExportError(f"{path}: not a text playlist (bad UTF-16: {exc.reason})") from exc
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")  # plain .m3u files are often Latin-1
    if "\x00" in text:
        raise ExportError(f"{path}: not a text playlist (it holds NUL bytes; binary file or unmarked UTF-16?)")
    return parse_m3u_entries(text, path.parent)


def read_m3u(path: Path) -> list[str]:
    """Entries of an M3U/M3U8 file as absolute paths (ExportError when unreadable)."""
    return [entry.path for entry in read_m3u_entries(path)]
