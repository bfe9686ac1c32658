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
from cluster_toolkit.store.protocol import Store
from cluster_toolkit.store.runs import LABELS_TABLE, resolve_run_id
from cluster_toolkit.track_lookup import PlaylistEntry, PlaylistLookup, TrackLocator
from embeddings.m3u import read_m3u_entries
from playlists.json_export import to_jsonable
from playlists.library import Library
from playlists.playlist import Playlist
from playlists.quality import playlist_metrics
from playlists.resolve import resolve_seed

PLAYLISTS_TABLE = "playlists"
PLAYLIST_COLUMNS = ["playlist_id", "name", "created_at", "method", "length", "requested_length", "track_ids",
                    "params", "metrics", "notices", "file"]


def load_library(store: Store) -> Library:
    """The store's ``ok`` tracks and pooled embeddings as a :class:`Library`."""
    tracks, embeddings = store.track_embeddings()
    if len(tracks) == 0:
        raise StoreError(f"{store.root}: no embedded tracks yet; run `ctk embed MUSIC_DIR` first")
    return Library(tracks, embeddings)


def load_fragments(store: Store, library: Library) -> tuple[pd.DataFrame, np.ndarray]:
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


def cluster_members(store: Store, spec: str) -> tuple[list[str], str]:
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


def read_playlist_entries(path: Path) -> list[PlaylistEntry]:
    """The entries of a playlist file (M3U/M3U8 with ``#EXTINF`` tags, or ctk JSON) for :class:`TrackLocator`."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        return [PlaylistEntry(path=e.path, label=e.label, duration_s=e.duration_s) for e in read_m3u_entries(path)]
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries = doc["tracks"]
        return [
            PlaylistEntry(
                path=str((path.parent / e["path"]).absolute()) if e.get("path") else None,
                track_id=str(e["track_id"]) if e.get("track_id") else None,
                artist=e.get("artist"), title=e.get("title"),
                duration_s=float(e["duration_s"]) if e.get("duration_s") is not None else None,
            )
            for e in entries
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path}: not a ctk JSON playlist ({exc})") from exc


def locate_playlist_file(path: Path, library: Library) -> PlaylistLookup:
    """Find the entries of a playlist file in the library: by path, then content, then tags (see track_lookup)."""
    return TrackLocator(library.tracks).lookup(read_playlist_entries(path))


def playlist_file_track_ids(path: Path, library: Library) -> tuple[list[str], list[str]]:
    """Track ids of a playlist file (M3U/M3U8 or ctk JSON) that are in the library, and the entries that are not."""
    found = locate_playlist_file(path, library)
    return found.track_ids, found.missing


def moved_music_hint(lookup: PlaylistLookup, store_root: Path) -> str:
    """What to do when a playlist's files are not where the library says (empty when nothing moved)."""
    if not lookup.moved and not (lookup.missing and not lookup.track_ids):
        return ""
    fix = (f"if the music moved, run `ctk embed NEW_MUSIC_FOLDER --library {store_root}`: files with unchanged "
           "content are re-linked to their new paths, not analysed again")
    if not lookup.track_ids:
        return fix
    how = ", ".join(f"{n} by {k}" for k, n in lookup.found_by.items() if n and k in ("content", "tags"))
    return f"{lookup.moved} entries were found by their content or tags, not their path ({how}); {fix}"


def resolve_track(spec: str, library: Library) -> str:
    """A seed given on the command line (``--seeds``, ``--path``, ``--liked``, ``ctk similar``): an existing
    file is looked up as a playlist entry is (:class:`~cluster_toolkit.track_lookup.TrackLocator`: its path,
    its real path through symlinks, then its content hash), so a symlinked, relative or moved path finds its
    track; anything else goes to :func:`playlists.resolve.resolve_seed`."""
    if os.path.isfile(os.path.expanduser(spec)):
        tid, _ = TrackLocator(library.tracks).locate(PlaylistEntry(path=os.path.abspath(os.path.expanduser(spec))))
        if tid:
            return tid
    return resolve_seed(spec, library.tracks)




def playlist_from_ids(library: Library, track_ids: list[str], *, method: str, params: dict) -> Playlist:
    """A :class:`Playlist` for existing track ids (a file read back), with its metrics measured."""
    idx = library.indices(track_ids)
    metrics = playlist_metrics(library.embeddings[idx], artists=library.column("artist", idx))
    return Playlist(track_ids=list(track_ids), method=method, params=params, metrics=metrics)


def playlist_id(playlist: Playlist) -> str:
    h = hashlib.sha256(json.dumps([playlist.method, to_jsonable(playlist.params), playlist.track_ids],
                                  sort_keys=True).encode())
    return f"{playlist.method}-{h.hexdigest()[:10]}"


def save_playlist(store: Store, playlist: Playlist, *, name: str | None, file: Path | None = None) -> str:
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


def list_playlists(store: Store) -> pd.DataFrame:
    """The saved playlists, oldest first (empty table when there is none)."""
    if not store.has_table(PLAYLISTS_TABLE):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PLAYLIST_COLUMNS})
    return store.read_table(PLAYLISTS_TABLE).sort_values("created_at", kind="stable").reset_index(drop=True)


def find_saved_playlist(store: Store, spec: str) -> pd.Series:
    """The saved playlist ``spec`` names: its id, a unique id prefix (4+ characters) or its name (the newest).

    Raises:
        UsageError: nothing matches (listing a few saved playlists) or a prefix is ambiguous.
    """
    table = list_playlists(store)
    if table.empty:
        raise UsageError(f"{spec!r} is neither a playlist file nor a saved playlist: {store.root} has no saved "
                         "playlists yet (`ctk playlist`, `ctk recommend` and `ctk similar` save theirs)")
    ids = table["playlist_id"].astype(str)
    for rows in (table[ids == spec], table[table["name"].astype(str) == spec]):
        if len(rows):
            return rows.iloc[-1]
    if len(spec) >= 4:
        rows = table[ids.str.startswith(spec)]
        if len(rows) == 1:
            return rows.iloc[0]
        if len(rows) > 1:
            raise UsageError(f"{spec!r} starts {len(rows)} saved playlist ids: {', '.join(rows['playlist_id'][:5])}")
    recent = ", ".join(f"{r.playlist_id} ({r.name})" for r in table.tail(5).itertuples())
    raise UsageError(f"{spec!r} is neither a playlist file nor a saved playlist; the newest saved ones are: "
                     f"{recent} (see `ctk playlists list`)")


def saved_playlist(row: pd.Series) -> Playlist:
    """The :class:`Playlist` a row of the ``playlists`` table holds."""
    return Playlist(track_ids=[str(t) for t in row["track_ids"]], method=str(row["method"]),
                    params=json.loads(row["params"] or "{}"), metrics=json.loads(row["metrics"] or "{}"),
                    notices=json.loads(row["notices"] or "[]"))
