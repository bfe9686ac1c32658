"""``ctk embed s3://bucket/audio``: the scan of a listing against the store, and what the run does with tracks
it only recognises once a worker downloaded them (:func:`cluster_toolkit.object_audio.on_object_copy`).

The driver only lists (:mod:`cluster_toolkit.object_audio`). An object whose cheap key (size + ETag, else
size + modification time) equals the stored one is skipped without a download, like a local file of the
same path, size and mtime. Every other object goes to a worker as a work item without a track id: the
worker downloads it to a temporary file, hashes the bytes (the track id, the same BLAKE2b as of a local
file) and, unless the hash is one of the stored tracks of the same size (its ``candidates``: an object
moved, copied or re-uploaded unchanged), analyses the file with the local code, then deletes it. The
track's ``path`` is the object's URL.

Back in the driver, :class:`ObjectResults` turns a recognised track into its stored row at the new URL
(moved, or back from ``gone``) and drops a second object with the content of one already taken this run
(a duplicate); the local engine does both in its scan, where it hashes. A failed download (the object
vanished since listed, access denied, the network) is a failed row, keyed by the URL, tried again on the
next run; a file that downloads but does not decode is a failed row like a local one, skipped until it
changes or ``--retry-failed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cluster_toolkit.embed_workers import WorkItem
from cluster_toolkit.ingest import EmbedConfig, EmbedSummary
from cluster_toolkit.object_audio import ListedObject, same_version
from cluster_toolkit.store.library_store import LibraryStore
from cluster_toolkit.store.location import is_remote
from cluster_toolkit.track_status import STATUS_FAILED, STATUS_GONE, STATUS_OK


def scan_objects(
    objects: list[ListedObject], fs: Any, root: str, store: LibraryStore, config: EmbedConfig,
    summary: EmbedSummary, reanalyse: frozenset[str] = frozenset(),
) -> tuple[pd.DataFrame, list[WorkItem], bool, ObjectResults]:
    """Compare a listing of folder ``root`` of ``fs`` with the store: the updated tracks table, the work,
    whether a stored row changed, and the :class:`ObjectResults` that takes the workers' rows. Stored tracks
    under the folder that are not listed with their cheap key are marked ``gone`` (until a worker recognises
    them at a new URL)."""
    tracks = store.all_tracks()
    ids = tracks["track_id"].to_numpy(dtype=object)
    status = tracks["status"].to_numpy(dtype=object).copy()
    by_path: dict[str, int] = {}  # a URL's live row over its gone ones (the old content of a changed object)
    for i, p in enumerate(tracks["path"]):
        if p not in by_path or status[by_path[p]] == STATUS_GONE:
            by_path[p] = i
    paths = tracks["path"].to_numpy(dtype=object)
    sizes = tracks["size"].to_numpy(dtype=np.float64)
    mtimes = tracks["mtime"].to_numpy(dtype=np.float64)
    etags = tracks["etag"].to_numpy(dtype=object)
    seen: set[str] = set()
    queued: set[str] = set()
    work: list[WorkItem] = []
    fetch: list[ListedObject] = []
    for obj in objects:
        summary.found += 1
        i = by_path.get(obj.url)
        if i is not None and status[i] != STATUS_GONE and same_version(sizes[i], mtimes[i], etags[i], obj):
            seen.add(ids[i])
            if status[i] == STATUS_FAILED and config.retry_failed or ids[i] in reanalyse:
                work.append(WorkItem(ids[i], obj.url, obj.size, obj.mtime, obj.etag))
                queued.add(ids[i])
            elif status[i] == STATUS_FAILED:
                summary.skipped_failed += 1
            else:
                summary.skipped += 1
            continue
        fetch.append(obj)
    # a downloaded object whose hash is a stored track's is not analysed again: those of the same size
    again = set(reanalyse) | (set(ids[status == STATUS_FAILED]) if config.retry_failed else set())
    by_size: dict[int, list[str]] = {}
    wanted = {obj.size for obj in fetch}
    for tid, size in zip(ids, sizes):
        if size in wanted and tid not in again:
            by_size.setdefault(int(size), []).append(tid)
    work += [WorkItem("", obj.url, obj.size, obj.mtime, obj.etag, tuple(by_size.get(obj.size, ())))
             for obj in fetch]
    gone_now: set[str] = set()
    prefix = fs.unstrip_protocol(root).rstrip("/") + "/"
    for i, tid in enumerate(ids):
        if tid in seen or status[i] == STATUS_GONE:
            continue
        path = str(paths[i])
        if path.startswith(prefix) or not is_remote(path) and not Path(path).exists():
            status[i] = STATUS_GONE
            gone_now.add(tid)
            summary.gone += 1
    tracks = tracks.assign(status=status)
    results = ObjectResults(fs=fs, tracks=tracks, gone_now=gone_now, taken=seen - queued, summary=summary)
    return tracks, work, bool(gone_now), results


@dataclass
class ObjectResults:
    """Takes the rows the workers send back for downloaded objects (see the module docstring): returns the row
    to commit, ``None`` for a duplicate. A row to commit without vectors (a recognised track) is marked
    ``_restored``: it is neither analysed nor failed in the summary."""

    fs: Any  # the filesystem the workers download from (pickled to them)
    tracks: pd.DataFrame
    gone_now: set[str]
    taken: set[str]
    summary: EmbedSummary
    _by_id: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_id = {t: i for i, t in enumerate(self.tracks["track_id"])}

    def __call__(self, result: dict[str, Any]) -> dict[str, Any] | None:
        tid = result["track_id"]
        if tid in self.taken:
            self.summary.duplicates += 1
            return None
        self.taken.add(tid)
        if not result.get("_known"):
            return result
        row = self.tracks.iloc[self._by_id[tid]].to_dict()
        if row["path"] != result["path"]:
            self.summary.moved += 1
        if tid in self.gone_now:
            self.summary.gone -= 1
        failed = pd.notna(row["error"])
        if failed:
            self.summary.skipped_failed += 1
        else:
            self.summary.skipped += 1
        row.update(path=result["path"], size=result["size"], mtime=result["mtime"], etag=result["etag"],
                   status=STATUS_FAILED if failed else STATUS_OK)
        return {**row, "_restored": True}
