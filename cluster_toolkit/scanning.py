"""Finding a library's audio files and naming them: the walk (symbolic links followed once), the content hash."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from embeddings.audio import is_audio_file

HASH_CHUNK = 1 << 20


def iter_audio_files(music_dir: Path, *, exclude: Path | None = None) -> Iterator[Path]:
    """Audio files under ``music_dir``, recursively, sorted, skipping hidden files and folders.

    Symbolic links are followed at most once by their real path: a link to a folder outside the
    tree is walked once, a link into the tree or to one of its ancestors (a loop) is not followed,
    and a file reached through several links is listed once. A link that cannot be resolved (a
    loop of file links, a dangling link) is listed, so that the caller reports it.
    """
    top_real = os.path.realpath(music_dir)
    visited_dirs = {top_real}
    seen_files: set[str] = set()

    def loops_or_inside(real: str) -> bool:
        return real == top_real or real.startswith(top_real + os.sep) or top_real.startswith(real + os.sep)

    for dirpath, dirnames, filenames in os.walk(music_dir, followlinks=True):
        here = Path(dirpath)
        here_real = os.path.realpath(dirpath)
        keep = []
        for d in sorted(dirnames):
            if d.startswith(".") or (exclude is not None and (here / d) == exclude):
                continue
            if os.path.islink(here / d):
                real = os.path.realpath(here / d)
                if loops_or_inside(real) or real in visited_dirs:
                    continue
            else:
                real = os.path.join(here_real, d)
                if real in visited_dirs:
                    continue
            visited_dirs.add(real)
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            if name.startswith(".") or not is_audio_file(Path(name)):
                continue
            path = here / name
            real = os.path.realpath(path) if os.path.islink(path) else os.path.join(here_real, name)
            if real in seen_files:
                continue
            seen_files.add(real)
            yield path


def path_id(path: str) -> str:
    """The id of a file whose content cannot stand for it (empty or unreadable): a hash of its path."""
    data = b"path:" + path.encode("utf-8", "surrogateescape")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def content_hash(path: Path) -> str:
    """The track id: BLAKE2b-128 of the file's bytes, as 32 hex digits."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()
