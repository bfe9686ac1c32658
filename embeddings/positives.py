"""Which tracks count as positives of each other while training.

A :class:`PositiveGroups` is a list of groups of track indices (into the training track list).
Items sampled from one group are positives, items from different groups negatives:

- ``track`` (default, label-free): each track is its own group; positives are fragments of one track.
- ``playlist``: each playlist is a group; read from M3U/M3U8 files (:mod:`embeddings.m3u`; matched to the
  library by path) and Million Playlist Dataset JSON slices (matched by artist and title, normalised by
  :func:`embeddings.tags.normalise_text`).
- ``tag``: each tag (genre) with at least ``min_size`` tracks is a group.
- ``folder``: each folder holding at least ``min_size`` tracks is a group: in a library laid out as
  ``Artist/Album/track``, the tracks of one album (one production) are positives. No tags needed.

Groups may overlap (a track in two playlists); the sampler never puts one track in two groups of
the same batch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.errors import ConfigError
from embeddings.m3u import file_key, read_m3u_entries
from embeddings.tags import normalise_text

PLAYLIST_EXTENSIONS = (".m3u", ".m3u8", ".json")


@dataclass(frozen=True)
class PositiveGroups:
    """``groups[g]`` are the indices of the tracks of group ``g``, called ``names[g]``."""

    kind: str
    groups: tuple[tuple[int, ...], ...]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.groups) != len(self.names):
            raise ConfigError(f"{len(self.groups)} groups but {len(self.names)} names")

    def summary(self) -> dict[str, object]:
        sizes = [len(g) for g in self.groups]
        covered = len({t for g in self.groups for t in g})
        return {
            "kind": self.kind,
            "n_groups": len(self.groups),
            "tracks_covered": covered,
            "median_group_size": float(np.median(sizes)) if sizes else 0.0,
        }


def track_positives(n_tracks: int) -> PositiveGroups:
    """Every track its own group (positives = fragments of the same track)."""
    return PositiveGroups("track", tuple((i,) for i in range(n_tracks)), tuple(str(i) for i in range(n_tracks)))


def split_tags(genre: str) -> tuple[str, ...]:
    """``"Rock; Indie Pop"`` -> ``("rock", "indie pop")`` (lower-cased, de-duplicated, order kept)."""
    tags = (t.strip().lower() for t in re.split(r"[;/,]", genre or ""))
    return tuple(dict.fromkeys(t for t in tags if t))


def tag_positives(genres: Sequence[str], *, min_size: int = 2) -> PositiveGroups:
    """One group per tag carried by at least ``min_size`` tracks (``genres`` as stored: ``"a; b"``)."""
    members: dict[str, list[int]] = {}
    for i, genre in enumerate(genres):
        for tag in split_tags(genre):
            members.setdefault(tag, []).append(i)
    kept = sorted((tag, tuple(m)) for tag, m in members.items() if len(m) >= min_size)
    if not kept:
        raise ConfigError(
            f"no tag is shared by {min_size} or more of the {len(genres)} tracks; "
            "tag the files (genre) or use --positives track"
        )
    return PositiveGroups("tag", tuple(m for _, m in kept), tuple(t for t, _ in kept))


def folder_positives(track_paths: Sequence[str | Path], *, min_size: int = 2) -> PositiveGroups:
    """One group per folder with at least ``min_size`` of the tracks (the folder a file sits in, so
    ``Artist/Album/01.flac`` groups by album); groups named by folder, in sorted order."""
    members: dict[str, list[int]] = {}
    for i, path in enumerate(track_paths):
        members.setdefault(str(Path(path).parent), []).append(i)
    kept = sorted((folder, tuple(m)) for folder, m in members.items() if len(m) >= min_size)
    if len(kept) < 2:
        raise ConfigError(
            f"--positives folder needs 2 or more folders holding {min_size} or more tracks each; found "
            f"{len(kept)} among {len(members)} folders of {len(track_paths)} tracks (use --positives track)"
        )
    return PositiveGroups("folder", tuple(m for _, m in kept), tuple(f for f, _ in kept))


def tag_similarity(genres: Sequence[str]) -> np.ndarray:
    """Jaccard similarity of the tag sets of the tracks, ``(n, n)`` float32 in [0, 1] (0 without tags)."""
    sets = [set(split_tags(g)) for g in genres]
    n = len(sets)
    out = np.zeros((n, n), dtype=np.float32)
    for i in range(n):
        for j in range(i, n):
            union = sets[i] | sets[j]
            if union:
                out[i, j] = out[j, i] = len(sets[i] & sets[j]) / len(union)
    return out


def read_mpd_slice(path: str | Path) -> list[tuple[str, list[tuple[str, str]]]]:
    """Playlists of a Million Playlist Dataset slice: ``[(name, [(artist, title), ...]), ...]``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        playlists = data["playlists"]
        return [
            (
                f"{p.get('name', 'playlist')} [{p.get('pid', i)}]",
                [(t["artist_name"], t["track_name"]) for t in p["tracks"]],
            )
            for i, p in enumerate(playlists)
        ]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a JSON file ({exc})") from exc
    except (KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a Million Playlist Dataset slice (missing {exc}); expected "
            '{"playlists": [{"name", "pid", "tracks": [{"artist_name", "track_name"}]}]}'
        ) from exc


def playlist_positives(
    track_paths: Sequence[str | Path],
    playlists_dir: str | Path,
    *,
    artists: Sequence[str] | None = None,
    titles: Sequence[str] | None = None,
    min_size: int = 2,
) -> PositiveGroups:
    """One group per playlist under ``playlists_dir`` (recursively) with ``min_size`` or more library tracks.

    M3U/M3U8 entries match by path; MPD JSON slices match by normalised (artist, title), which needs
    ``artists`` and ``titles`` aligned with ``track_paths``.
    """
    root = Path(playlists_dir)
    if not root.is_dir():
        raise ConfigError(f"--playlists {root}: not a folder")
    by_path = {file_key(p): i for i, p in enumerate(track_paths)}
    by_name: dict[tuple[str, str], int] = {}
    if artists is not None and titles is not None:
        for i, (a, t) in enumerate(zip(artists, titles, strict=True)):
            by_name.setdefault((normalise_text(a), normalise_text(t)), i)
    groups: list[tuple[int, ...]] = []
    names: list[str] = []
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in PLAYLIST_EXTENSIONS and p.is_file())
    if not files:
        raise ConfigError(f"--playlists {root}: no .m3u, .m3u8 or .json playlist found")
    for file in files:
        if file.suffix.lower() == ".json":
            found = [
                (name, [by_name.get((normalise_text(a), normalise_text(t))) for a, t in tracks])
                for name, tracks in read_mpd_slice(file)
            ]
        else:
            entries = read_m3u_entries(file)
            found = [(file.stem, [by_path.get(file_key(e.path)) for e in entries if not e.is_url])]
        for name, indices in found:
            members = tuple(dict.fromkeys(i for i in indices if i is not None))
            if len(members) >= min_size:
                groups.append(members)
                names.append(name)
    if not groups:
        raise ConfigError(
            f"no playlist under {root} has {min_size} or more tracks of the library "
            f"({len(files)} playlist file(s) read); check that its entries point at the training folder"
        )
    return PositiveGroups("playlist", tuple(groups), tuple(names))
