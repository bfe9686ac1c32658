"""Small helpers the file exporters share: ordering a track table, relative paths, atomic writes."""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from playlists.errors import ExportError

#: a track path that is a URL (an object on S3...): written as it is, never made relative
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def tracks_in_order(tracks: pd.DataFrame, track_ids: Sequence[str]) -> pd.DataFrame:
    """Rows of ``tracks`` for ``track_ids``, in that order (ExportError naming unknown ids)."""
    table = tracks.assign(track_id=tracks["track_id"].astype(str)).drop_duplicates("track_id")
    table = table.set_index("track_id", drop=False)
    ids = [str(t) for t in track_ids]
    missing = [t for t in ids if t not in table.index]
    if missing:
        raise ExportError(f"{len(missing)} playlist tracks are not in the track table: {missing[:5]}")
    return table.loc[ids].reset_index(drop=True)


def present(value: object) -> bool:
    """False for None, NaN, pandas NA and empty strings."""
    if value is None or value is pd.NA:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return str(value) != ""


def entry_path(track_path: str, playlist_path: Path | None, *, relative: bool) -> str:
    """The path to write for a track: relative to the playlist's folder when asked and possible.

    The relative path is the plain one (symlinked folders kept as they are) when the operating system,
    which resolves ``..`` after following links, opens the track through it; otherwise (``..`` out of a
    symlinked playlist folder) it is computed between the real, symlink-resolved locations. Paths are
    written with forward slashes when relative; a track on another drive (Windows) keeps its absolute path.
    """
    if not relative or playlist_path is None or _URL.match(str(track_path)):  # an object's URL (s3://...)
        return str(track_path)
    base = os.path.dirname(os.path.abspath(playlist_path))
    try:
        rel = os.path.relpath(os.path.abspath(track_path), base)
        if os.path.realpath(os.path.join(base, rel)) != os.path.realpath(track_path):
            rel = os.path.relpath(os.path.realpath(track_path), os.path.realpath(base))
    except ValueError:
        return str(track_path)
    return Path(rel).as_posix()


def _new_file_mode(path: Path) -> int:
    """The mode a plain ``open(path, "w")`` would give: the existing file's, else 0666 less the umask
    (``mkstemp`` makes 0600 files, which a media server running as another user cannot read)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` via a temporary file and a rename; returns the path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = _new_file_mode(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise ExportError(f"cannot write playlist file {path}: {exc}") from exc
    return path
