"""Audio on object storage or any fsspec filesystem (``s3://bucket/audio``): listing it, and one object
downloaded to a temporary file for the local decoders.

The listing applies the local scan's rules (:func:`cluster_toolkit.scanning.iter_audio_files`): audio
extensions only (unsupported ones are listed so that they are reported), no hidden file or folder (a
name that starts with ``.`` anywhere below the root), sorted. It reads what the listing already gives for
each object, the **cheap key** that ``ctk embed`` compares with the store before downloading anything:
the size and the ETag (S3's, Azure's ``etag``, GCS's ``md5Hash``), else the modification time
(``LastModified``, ``mtime``, ``updated``, ``created``), for filesystems whose listing has no ETag. An
object whose size and ETag (or time) equal the stored ones is not downloaded; one whose listing has
neither is downloaded on every run.

Credentials and endpoints come from fsspec's and botocore's usual places (``AWS_*`` variables, the AWS
profile, ``FSSPEC_S3_*`` or ``~/.config/fsspec/*.json``); the filesystem made here from them is pickled to
the workers, which rebuild it with the same options.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from cluster_toolkit.embed_workers import WorkItem, _reason, attempt, failed_row, item_row
from cluster_toolkit.errors import CtkError, UsageError
from cluster_toolkit.scanning import content_hash, path_id
from embeddings.audio import is_audio_file

#: listing keys that hold a content version (the first present wins)
ETAG_KEYS = ("ETag", "etag", "md5Hash")
#: listing keys that hold a modification time, used when there is no ETag
TIME_KEYS = ("LastModified", "last_modified", "mtime", "updated", "created")


class DownloadError(CtkError):
    """An object that could not be downloaded (gone since listed, access denied, the network)."""


@dataclass(frozen=True)
class ListedObject:
    """One audio object as listed: its URL and cheap key."""

    url: str
    size: int
    mtime: float  # seconds since the epoch; NaN when the listing has no time
    etag: str | None


def _seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return math.nan
    return math.nan


def listed_object(fs: Any, info: dict[str, Any]) -> ListedObject:
    """The :class:`ListedObject` of one entry of an fsspec listing (``fs.find(..., detail=True)``)."""
    etag = next((str(info[k]) for k in ETAG_KEYS if info.get(k)), None)
    when = next((info[k] for k in TIME_KEYS if info.get(k) is not None), None)
    return ListedObject(url=fs.unstrip_protocol(info["name"]), size=int(info.get("size") or 0),
                        mtime=_seconds(when), etag=etag)


def same_version(size: float, mtime: float, etag: object, obj: ListedObject) -> bool:
    """Whether a stored ``(size, mtime, etag)`` is the listed object's cheap key: same size, and the same ETag
    when the listing has one, else the same modification time."""
    if size != obj.size:
        return False
    if obj.etag is not None:
        return etag == obj.etag
    return mtime == obj.mtime  # NaN (no time listed) never matches


def open_location(url: str) -> tuple[Any, str]:
    """``(filesystem, root path)`` of a folder URL; :class:`UsageError` naming the URL when it cannot be
    used (no filesystem package for the protocol, no such folder)."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise UsageError(f"{url}: no filesystem for this URL ({exc}); for s3:// pip install 'ctk[s3]'") from exc
    root = root.rstrip("/")
    fs.invalidate_cache(root)  # objects written since by another process
    try:
        is_dir = fs.isdir(root)
    except Exception as exc:  # noqa: BLE001 - botocore and friends raise their own types (no credentials...)
        raise UsageError(f"{url}: cannot list ({type(exc).__name__}: {exc})") from exc
    if not is_dir:
        raise UsageError(f"{url}: no such folder")
    return fs, root


def list_audio_objects(fs: Any, root: str, *, exclude: str | None = None) -> list[ListedObject]:
    """The audio objects under ``root`` of ``fs``, recursively, sorted by URL, hidden names skipped; objects
    under the URL ``exclude`` (a library inside the music folder) are left out."""
    try:
        found = fs.find(root, detail=True)
    except Exception as exc:  # noqa: BLE001 - as in open_location
        raise UsageError(f"{fs.unstrip_protocol(root)}: cannot list ({type(exc).__name__}: {exc})") from exc
    objects = []
    for name, info in found.items():
        relative = PurePosixPath(name[len(root):].lstrip("/"))
        if info.get("type", "file") != "file" or any(part.startswith(".") for part in relative.parts):
            continue
        if not is_audio_file(Path(relative.name)):
            continue
        obj = listed_object(fs, info)
        if exclude is not None and obj.url.startswith(exclude.rstrip("/") + "/"):
            continue
        objects.append(obj)
    return sorted(objects, key=lambda o: o.url)


def _why(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such object"
    if isinstance(exc, PermissionError):
        return f"access denied: {exc}" if str(exc) else "access denied"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextmanager
def local_copy(fs: Any, url: str) -> Iterator[tuple[Path, str]]:
    """Download the object at ``url`` to a temporary file of the same name (so that tag readers see its
    name) and yield ``(the file, its content hash)``; the file is deleted on exit. A failed download raises
    :class:`DownloadError` naming the URL and the reason."""
    name = PurePosixPath(fs._strip_protocol(url)).name or "object"
    with tempfile.TemporaryDirectory(prefix="ctk-object-") as folder:
        dest = Path(folder) / name
        try:
            fs.get_file(url, str(dest))
            digest = content_hash(dest)
        except Exception as exc:  # noqa: BLE001 - s3fs, aiohttp and botocore raise many types
            raise DownloadError(f"{url}: cannot download ({_why(exc)})") from exc
        yield dest, digest


# ---------------------------------------------------------------------------------- in the workers
def on_object_copy(item: WorkItem, fs: Any, work: Callable[[str, WorkItem], Any],
                   ) -> tuple[Any, dict[str, Any] | None, WorkItem]:
    """Download ``item``'s object, name it by its content hash, and run ``work(local path, item)`` on the
    copy. Returns ``(work's result, None, item)``, or ``(None, row, item)`` where ``row`` is a stored track
    recognised (``_known``) or the failed row (download or analysis); ``item`` carries the track id."""
    try:
        with local_copy(fs, item.path) as (local, digest):
            item = replace(item, track_id=digest if item.size > 0 else path_id(item.path))
            if item.track_id in item.candidates:
                return None, {**item_row(item), "_known": True}, item
            done, failed = attempt(item, lambda: work(str(local), item), local_path=str(local))
            return done, failed, item
    except DownloadError as exc:
        item = replace(item, track_id=path_id(item.path), mtime=math.nan, etag=None)  # tried again next run
        return None, failed_row(item, _reason(exc, item.path)), item
