"""Which audio files the server may send: library tracks inside the music root, and nothing else.

A request names a file by its path relative to the music root (``/audio/Artist/Album/01.flac``). The path
is joined to the root and resolved with :func:`os.path.realpath` (``..``, symlinks and, since the server
decodes the URL first, encoded slashes and dots are all resolved); the file is sent only when the resolved
path lies inside the resolved root **and** is one of the library's tracks (their paths resolved the same
way). So a symlink inside the root that points out of it, an absolute path, a ``..`` that climbs out, or any
non-audio file in the folder (the store's own files included) is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from cluster_toolkit.errors import UsageError


class FileRefused(Exception):
    """A requested path that is not sent: ``status`` (403 outside the root, 404 not a track) and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def common_folder(paths: Iterable[str]) -> Path:
    """The deepest folder holding every path (the default music root); a filesystem root is refused."""
    folders = [os.path.dirname(os.path.abspath(p)) for p in paths if p]
    if not folders:
        raise UsageError("the library has no track paths: give --music-root")
    root = os.path.commonpath(folders)
    if os.path.dirname(root) == root:
        raise UsageError(f"the library's tracks share no folder but {root}: give --music-root (audio is served "
                         "only from inside it)")
    return Path(root)


class MusicRoot:
    """The folder audio is served from, and the library's track files in it."""

    def __init__(self, root: str | Path, track_paths: Iterable[str]) -> None:
        self.root = os.path.realpath(os.path.expanduser(str(root)))
        if not os.path.isdir(self.root):
            raise UsageError(f"--music-root {root}: no such folder")
        folders: dict[str, str] = {}  # each folder resolved once; a file only when it is a link itself

        def real(path: str) -> str:
            folder, name = os.path.split(os.path.abspath(path))
            if folder not in folders:
                folders[folder] = os.path.realpath(folder)
            full = os.path.join(folders[folder], name)
            return os.path.realpath(full) if os.path.islink(full) else full

        resolved = (real(p) for p in track_paths if p)
        self.tracks = {os.path.normcase(p) for p in resolved if _inside(p, self.root)}

    def url_path(self, track_path: str) -> str | None:
        """The ``/audio/...`` URL of a track file, or None when the server will not send it."""
        real = os.path.realpath(track_path)
        if os.path.normcase(real) not in self.tracks:
            return None
        return "/audio/" + quote(Path(os.path.relpath(real, self.root)).as_posix())

    def resolve(self, relative: str) -> Path:
        """The file a request names, or :class:`FileRefused`."""
        if "\x00" in relative:
            raise FileRefused(404, "bad path")
        if os.path.isabs(relative) or relative.startswith(("/", "\\")) or (len(relative) > 1 and relative[1] == ":"):
            raise FileRefused(403, "absolute paths are not served; give a path inside the music root")
        real = os.path.realpath(os.path.join(self.root, relative))
        if not _inside(real, self.root):
            raise FileRefused(403, "outside the music root")
        if os.path.normcase(real) not in self.tracks or not os.path.isfile(real):
            raise FileRefused(404, "not a track of the library")
        return Path(real)
