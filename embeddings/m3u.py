"""Reading M3U/M3U8 playlists, and the key that makes two paths one file.

The one reader of the format, for training positives (``embeddings.positives``) and for the playlists a
user hands to ``ctk`` (``--liked``, ``export``); the writer is :mod:`playlists.m3u`. The rules:

- **Encoding**: UTF-16 when the file starts with a byte-order mark (Windows tools write it), else UTF-8
  (a leading byte-order mark dropped), else Latin-1: classic ``.m3u`` files are in a Windows code page, and
  an ``.m3u8`` that is not UTF-8 was mislabelled by its writer, not made unreadable. A NUL byte means a
  binary file or unmarked UTF-16: :class:`PlaylistFileError`.
- **Lines**: blank lines and ``#`` lines are skipped, except ``#EXTINF:SECONDS,LABEL``, whose duration
  (``None`` when negative or unreadable) and label go with the next entry.
- **Entries**: ``file://`` URLs are turned into paths (percent-decoded: the writer encodes line breaks and
  backslashes so); other URLs (``http://radio/stream``) are kept as written; a backslash separates folders
  (playlists written on Windows); ``~`` is expanded; relative paths start at the playlist's folder; every
  path is made absolute with symlinks resolved, as the operating system would open it (``..`` after a
  symlinked folder goes up from the link's target).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from embeddings.errors import PlaylistFileError


def file_key(path: str | os.PathLike) -> str:
    """What makes two paths the same file: absolute, symlinks resolved, case folded where the OS folds it.

    A track reached through a symlinked folder, a relative path or ``~`` has one key everywhere (a library's
    paths, M3U entries, ``--seeds``); the file need not exist (then the path is normalised as text).
    """
    return os.path.normcase(os.path.realpath(os.path.expanduser(str(path))))


@dataclass(frozen=True)
class M3UEntry:
    """One entry of an M3U file: its path (absolute) or URL, and what its ``#EXTINF`` line said."""

    path: str
    duration_s: float | None = None
    label: str | None = None  # "artist - title" as written after the comma

    @property
    def is_url(self) -> bool:
        """True for an entry that is not a local file (``http://...``)."""
        return "://" in self.path


def _extinf(line: str) -> tuple[float | None, str | None]:
    seconds, _, label = line[len("#EXTINF:"):].partition(",")
    try:
        duration = float(seconds.split()[0]) if seconds.split() else None
    except ValueError:
        duration = None
    return (duration if duration is not None and duration >= 0 else None), (label.strip() or None)


def _entry_path(line: str, base_dir: Path) -> str:
    url = urlparse(line) if "://" in line else None
    if url is not None and url.scheme.lower() != "file":
        return line
    text = unquote(url.path) if url is not None else line.replace("\\", "/")
    path = Path(text).expanduser()
    return str((path if path.is_absolute() else Path(base_dir) / path).resolve())


def parse_m3u_entries(text: str, base_dir: str | os.PathLike) -> list[M3UEntry]:
    """The entries of an M3U/M3U8 text, in order, with their ``#EXTINF`` duration and label.

    Relative entries start at ``base_dir`` (the playlist's folder); see the module docstring for the rules.
    """
    out = []
    info: tuple[float | None, str | None] = (None, None)
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.strip()
        if line.upper().startswith("#EXTINF:"):
            info = _extinf(line)
        elif line and not line.startswith("#"):
            out.append(M3UEntry(_entry_path(line, Path(base_dir)), *info))
            info = (None, None)
    return out


def _decode(raw: bytes, path: Path) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise PlaylistFileError(f"{path}: not a text playlist (bad UTF-16: {exc.reason})") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_m3u_entries(path: str | os.PathLike) -> list[M3UEntry]:
    """:func:`parse_m3u_entries` of a file (:class:`PlaylistFileError` when it cannot be read as text)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PlaylistFileError(f"cannot read playlist {path}: {exc}") from exc
    text = _decode(raw, path)
    if "\x00" in text:
        raise PlaylistFileError(
            f"{path}: not a text playlist (it holds NUL bytes; binary file or unmarked UTF-16?)"
        )
    return parse_m3u_entries(text, path.parent)


def read_m3u(path: str | os.PathLike) -> list[str]:
    """The entries of an M3U/M3U8 file as absolute paths (URLs as written), in order."""
    return [entry.path for entry in read_m3u_entries(path)]
