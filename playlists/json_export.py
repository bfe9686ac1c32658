"""JSON export of a playlist: its tracks with tags, and how it was made.

The document (UTF-8, two-space indent, keys in a fixed order, ``\\n`` at the end)::

    {
      "format": "ctk-playlist",
      "version": 1,
      "name": "Evening",
      "method": "hull",
      "params": {...},
      "metrics": {...},
      "notices": [...],
      "tracks": [
        {"position": 1, "track_id": "...", "artist": "...", "title": "...", "album": "...",
         "isrc": "...", "duration_s": 245.2, "path": "..."}
      ]
    }

Missing tags are ``null``; floats are rounded to 6 decimals so the bytes are stable.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from playlists._io import entry_path, present, tracks_in_order, write_text_atomic
from playlists.playlist import Playlist

FORMAT = "ctk-playlist"
VERSION = 1
TRACK_FIELDS = ("track_id", "artist", "title", "album", "isrc", "duration_s")


def to_jsonable(value: Any) -> Any:
    """JSON-able version of ``value``: numpy scalars unwrapped, NaN -> None, floats rounded."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


def playlist_json(
    playlist: Playlist,
    tracks: pd.DataFrame,
    *,
    name: str | None = None,
    playlist_path: Path | None = None,
    relative: bool = True,
) -> str:
    """The JSON text of a playlist (nothing is written).

    Args:
        playlist: the playlist.
        tracks: track table holding its tracks.
        name: the playlist's name.
        playlist_path: where the file will be written (relative paths start there).
        relative: write track paths relative to ``playlist_path``'s folder.
    """
    table = tracks_in_order(tracks, playlist.track_ids)
    entries = []
    for position, row in enumerate(table.to_dict("records"), start=1):
        entry: dict[str, Any] = {"position": position}
        for field in TRACK_FIELDS:
            value = row.get(field)
            entry[field] = to_jsonable(value) if present(value) else None
        path = row.get("path")
        entry["path"] = entry_path(str(path), playlist_path, relative=relative) if present(path) else None
        entries.append(entry)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "method": playlist.method,
        "params": to_jsonable(playlist.params),
        "metrics": to_jsonable(playlist.metrics),
        "notices": list(playlist.notices),
        "tracks": entries,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(text: str, path: Path) -> Path:
    """Write JSON ``text`` (from :func:`playlist_json`) to ``path`` atomically."""
    return write_text_atomic(Path(path), text)
