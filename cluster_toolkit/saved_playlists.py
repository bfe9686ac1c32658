"""Playlists and the library store: loading what the generators need, saving what they make.

The ``playlists`` table (one row per playlist): ``playlist_id`` (``<method>-<10 hex>``, hashed
from the method, parameters and tracks, so the same playlist saved twice is stored once),
``name``, ``created_at`` (ISO 8601, UTC), ``method``, ``length`` (tracks in it),
``requested_length``, ``track_ids`` (list of strings, in order), ``params``, ``metrics`` and
``notices`` (JSON), ``file`` (where it was written, if anywhere).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from cluster_toolkit.errors import StoreError, UsageError
from cluster_toolkit.runs import LABELS_TABLE, resolve_run_id
from cluster_toolkit.store import LibraryStore
from playlists.json_export import to_jsonable
from playlists.library import Library
from playlists.m3u import read_m3u
from playlists.playlist import Playlist
from playlists.quality import playlist_metrics

PLAYLISTS_TABLE = "playlists"
PLAYLIST_COLUMNS = ["playlist_id", "name", "created_at", "method", "length", "requested_length", "track_ids",
                    "params", "metrics", "notices", "file"]


def load_library(store: LibraryStore) -> Library:
    """The store's ``ok`` tracks and pooled embeddings as a :class:`Library`."""
    tracks, embeddings = store.track_embeddings()
    if len(tracks) == 0:
        raise StoreError(f"{store.root}: no embedded tracks yet; run `ctk embed MUSIC_DIR` first")
    return Library(tracks, embeddings)


def load_fragments(store: LibraryStore, library: Library) -> tuple[pd.DataFrame, np.ndarray]:
    """Fragment table and vectors of the library's tracks.

    Stores made from feature tables (``source = "tabular"``) or without fragments fall back to
    one pseudo-fragment per track (its pooled vector, ``start_s`` NaN).
    """
    frags, vectors = store.fragment_embeddings()
    if len(frags):
        keep = frags["track_id"].isin(set(library.track_ids)).to_numpy()
        return frags[keep].reset_index(drop=True), vectors[keep]
    pseudo = pd.DataFrame({"track_id": library.track_ids, "fragment_index": 0, "start_s": np.nan})
    return pseudo, library.embeddings


def cluster_members(store: LibraryStore, spec: str) -> tuple[list[str], str]:
    """Track ids of cluster ``RUN:LABEL`` (run id, unique prefix or ``latest``) and a label for notices."""
    run, sep, label = spec.rpartition(":")
    if not sep or not run:
        raise UsageError(f"--cluster {spec!r} must be RUN:LABEL, e.g. latest:3 (see `ctk clusters list`)")
    try:
        number = int(label)
    except ValueError:
        raise UsageError(f"--cluster {spec!r}: the label {label!r} is not a cluster number") from None
    run_id = resolve_run_id(store, run)
    labels = store.read_table(LABELS_TABLE)
    rows = labels[labels["run_id"] == run_id]
    members = rows.loc[rows["label"] == number, "track_id"].astype(str).tolist()
    if not members:
        found = sorted(int(x) for x in rows["label"].unique() if int(x) >= 0)
        raise UsageError(f"run {run_id} has no cluster {number}; its clusters are {found[:30]}")
    return members, f"cluster {number} of run {run_id}"


def playlist_file_track_ids(path: Path, library: Library) -> tuple[list[str], list[str]]:
    """Track ids of a playlist file (M3U/M3U8 or ctk JSON) that are in the library, and the entries that are not.

    M3U entries are matched on their absolute path; JSON entries on ``track_id``, else on ``path``.
    """
    path = Path(path)
    by_path = {os.path.normcase(os.path.abspath(str(p))): str(t)
               for p, t in zip(library.tracks["path"], library.tracks["track_id"], strict=True)}
    known = set(library.track_ids)
    found: list[str] = []
    missing: list[str] = []
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            entries = doc["tracks"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}: not a ctk JSON playlist ({exc})") from exc
        for entry in entries:
            tid = str(entry.get("track_id") or "")
            file = entry.get("path")
            if tid in known:
                found.append(tid)
            elif file and os.path.normcase(os.path.abspath(path.parent / file)) in by_path:
                found.append(by_path[os.path.normcase(os.path.abspath(path.parent / file))])
            else:
                missing.append(tid or str(file))
        return found, missing
    for entry in read_m3u(path):
        tid = by_path.get(os.path.normcase(os.path.abspath(entry)))
        (found if tid else missing).append(tid or entry)
    return found, missing


def playlist_from_ids(library: Library, track_ids: list[str], *, method: str, params: dict) -> Playlist:
    """A :class:`Playlist` for existing track ids (a file read back), with its metrics measured."""
    idx = library.indices(track_ids)
    metrics = playlist_metrics(library.embeddings[idx], artists=library.column("artist", idx))
    return Playlist(track_ids=list(track_ids), method=method, params=params, metrics=metrics)


def playlist_id(playlist: Playlist) -> str:
    h = hashlib.sha256(json.dumps([playlist.method, to_jsonable(playlist.params), playlist.track_ids],
                                  sort_keys=True).encode())
    return f"{playlist.method}-{h.hexdigest()[:10]}"


def save_playlist(store: LibraryStore, playlist: Playlist, *, name: str | None, file: Path | None = None) -> str:
    """Add ``playlist`` (with its metrics) to the store's ``playlists`` table; returns its id."""
    pid = playlist_id(playlist)
    row = {
        "playlist_id": pid,
        "name": name or pid,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "method": playlist.method,
        "length": len(playlist.track_ids),
        "requested_length": playlist.requested_length if playlist.requested_length is not None else -1,
        "track_ids": [str(t) for t in playlist.track_ids],
        "params": json.dumps(to_jsonable(playlist.params), sort_keys=True),
        "metrics": json.dumps(to_jsonable(playlist.metrics), sort_keys=True),
        "notices": json.dumps(list(playlist.notices)),
        "file": str(Path(file).resolve()) if file else None,
    }
    with store.writing():  # read, add, write back: one writer at a time
        table = list_playlists(store)
        table = pd.concat([table[table["playlist_id"] != pid], pd.DataFrame([row])], ignore_index=True)
        store.write_table(PLAYLISTS_TABLE, table[PLAYLIST_COLUMNS])
    return pid


def list_playlists(store: LibraryStore) -> pd.DataFrame:
    """The saved playlists, oldest first (empty table when there is none)."""
    if not store.has_table(PLAYLISTS_TABLE):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PLAYLIST_COLUMNS})
    return store.read_table(PLAYLISTS_TABLE).sort_values("created_at", kind="stable").reset_index(drop=True)
