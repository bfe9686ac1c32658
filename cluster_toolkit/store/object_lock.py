"""One writer per library on S3: a lock object created with a conditional put, held by a lease.

Object stores have no ``flock`` and no rename, but S3 (and moto, MinIO...) has conditional writes: a
``PutObject`` with ``If-None-Match: *`` creates ``<library>/.lock`` only when no such object exists, and one
with ``If-Match: <etag>`` replaces it only when it is still the version we read. So:

- **take**: create the lock object, create-only, with the holder's record (pid, host, command, start time,
  a random owner id and the lease's end). Exactly one of two writers racing for it succeeds;
- **hold**: a background thread renews the lease every third of its length, each time replacing the object
  only if it is still ours (``If-Match``). A writer whose renewal finds another record has lost the lock:
  its next write raises :class:`StoreError` and nothing more is written;
- **refuse**: a second writer reads the record and stops with one line naming the library and the holder;
- **break**: a holder is stale when its lease ran out (it stopped renewing: crashed, killed, cut off) or it
  ran on this host and its pid is gone. The next writer replaces a stale record with ``If-Match`` on the
  version it judged stale, so two writers breaking the same stale lock cannot both win;
- **release**: delete the object, only if it is still ours.

The lease is what the kernel's ``flock`` gives for free locally: a writer killed with ``kill -9`` on another
host keeps the library locked until its lease ends (:data:`LEASE_SECONDS`).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cluster_toolkit.errors import StoreError
from cluster_toolkit.store.lock import LOCK_NAME, LockHolder, busy_message

#: a lease not renewed for this long is stale (``CTK_LOCK_LEASE_S`` sets another length)
LEASE_SECONDS = 60.0
_POLL_SECONDS = 0.25


def lease_seconds() -> float:
    value = os.environ.get("CTK_LOCK_LEASE_S")
    try:
        return max(1.0, float(value)) if value else LEASE_SECONDS
    except ValueError:
        return LEASE_SECONDS


@dataclass(frozen=True)
class LeaseRecord:
    """The lock object's content: who holds the library, until when unless renewed."""

    holder: LockHolder
    owner: str
    expires_at: datetime

    def to_bytes(self) -> bytes:
        doc = {
            "pid": self.holder.pid,
            "host": self.holder.host,
            "command": self.holder.command,
            "started_at": self.holder.started_at,
            "owner": self.owner,
            "expires_at": self.expires_at.isoformat(timespec="seconds"),
        }
        return (json.dumps(doc) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> LeaseRecord | None:
        try:
            doc = json.loads(data)
            holder = LockHolder(int(doc["pid"]), str(doc["host"]), str(doc["command"]), str(doc["started_at"]))
            return cls(holder, str(doc["owner"]), datetime.fromisoformat(doc["expires_at"]))
        except (ValueError, KeyError, TypeError):
            return None

    def stale_reason(self, now: datetime) -> str | None:
        if now > self.expires_at:
            return f"its lease ended at {self.expires_at.isoformat(timespec='seconds')}"
        if self.holder.is_dead_here():
            return f"pid {self.holder.pid} is gone"
        return None


def _precondition_failed(exc: BaseException) -> bool:
    """A conditional write refused (412, or 409 for a concurrent conditional write), as s3fs reports it."""
    if isinstance(exc, FileExistsError):
        return True
    for err in (exc, exc.__cause__, exc.__context__):
        response = getattr(err, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                return True
    return "pre-condition" in str(exc).lower() or "precondition" in str(exc).lower()


class ObjectStoreLock:
    """An exclusive lock on ``<root>/.lock`` of an S3 library (``root`` a ``UPath``), with
    :class:`~cluster_toolkit.store.lock.StoreLock`'s interface: ``acquire`` fails at once with a one-line
    :class:`StoreError` naming the holder, or after ``wait_s`` seconds of waiting."""

    def __init__(self, root: Any, *, command: str, wait_s: float = 0.0, what: str = "library",
                 lease_s: float | None = None) -> None:
        self.directory = root
        self.path = root / LOCK_NAME
        self.what = what
        self.command = command
        self.wait_s = max(0.0, float(wait_s))
        self.lease_s = float(lease_s) if lease_s is not None else lease_seconds()
        self._fs = root.fs
        self._bucket, self._key, _ = self._fs.split_path(root.path + "/" + LOCK_NAME)
        self._owner = uuid.uuid4().hex
        self._started = datetime.now(UTC).isoformat(timespec="seconds")
        self._etag: str | None = None
        self._lost: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._state = threading.Lock()

    # ------------------------------------------------------------------ taking and giving back
    def acquire(self) -> None:
        if self._etag is not None:
            raise StoreError(f"{self.path}: already held by this process")
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                self._etag = self._put(IfNoneMatch="*")
                break
            except FileNotFoundError as exc:
                raise StoreError(f"{self.directory}: no bucket {self._bucket!r} (ctk makes no buckets)") from exc
            except OSError as exc:
                if not _precondition_failed(exc):
                    raise self._cannot(exc) from exc
            record, etag = self._read()
            if etag is None:  # released between our put and our read: try again at once
                continue
            reason = "its record is unreadable" if record is None else record.stale_reason(datetime.now(UTC))
            if reason is not None:
                try:
                    self._etag = self._put(IfMatch=etag)  # only the version we judged stale is replaced
                    break
                except OSError as exc:
                    if not _precondition_failed(exc):
                        raise self._cannot(exc) from exc
                    continue  # another writer broke it first: look again
            if time.monotonic() >= deadline:
                raise StoreError(self._busy_message(record)) from None
            time.sleep(_POLL_SECONDS)
        self._lost = None
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_loop, name="ctk-lock-lease", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        if self._etag is None:
            return
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        etag, self._etag = self._etag, None
        if self._lost is not None:
            return  # someone else holds it now: theirs to delete
        try:
            self._fs.call_s3("delete_object", Bucket=self._bucket, Key=self._key, IfMatch=etag)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if not _precondition_failed(exc):
                raise self._cannot(exc) from exc
        self._fs.invalidate_cache(self.path.path)

    def check(self) -> None:
        """Raise :class:`StoreError` if the lease was lost (not renewed in time, or broken by another writer)."""
        if self._lost is not None:
            raise StoreError(f"{self.directory}: lost the {self.what}'s lock ({self._lost}); nothing more is written")

    def __enter__(self) -> ObjectStoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # ------------------------------------------------------------------ the lease
    def _renew_loop(self) -> None:
        last_renewed = time.monotonic()
        while not self._stop.wait(self.lease_s / 3):
            with self._state:
                try:
                    self._etag = self._put(IfMatch=self._etag)
                    last_renewed = time.monotonic()
                except OSError as exc:
                    if _precondition_failed(exc):
                        self._lost = "another writer replaced the lock object"
                        return
                    if time.monotonic() - last_renewed > self.lease_s:
                        self._lost = f"its lease could not be renewed ({exc})"
                        return

    # ------------------------------------------------------------------ S3 calls (s3fs's client)
    def _record(self) -> LeaseRecord:
        holder = LockHolder(os.getpid(), socket.gethostname(), self.command, self._started)
        return LeaseRecord(holder, self._owner, datetime.now(UTC) + timedelta(seconds=self.lease_s))

    def _put(self, **condition: str | None) -> str:
        out = self._fs.call_s3("put_object", Bucket=self._bucket, Key=self._key, Body=self._record().to_bytes(),
                               ContentType="application/json", **condition)
        self._fs.invalidate_cache(self.path.path)
        return out["ETag"]

    def _read(self) -> tuple[LeaseRecord | None, str | None]:
        """The lock object's record and version (``(None, None)`` when there is none)."""
        from fsspec.asyn import sync

        try:
            out = self._fs.call_s3("get_object", Bucket=self._bucket, Key=self._key)
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            raise self._cannot(exc) from exc
        body = out["Body"]
        try:
            data = sync(self._fs.loop, body.read)
        finally:
            body.close()
        return LeaseRecord.from_bytes(data), out["ETag"]

    def _cannot(self, exc: BaseException) -> StoreError:
        return StoreError(f"{self.directory}: cannot take the {self.what}'s lock {self.path} ({exc})")

    def _busy_message(self, record: LeaseRecord | None) -> str:
        who = None
        if record is not None:  # "... since <start>, lease until <end>)"
            who = record.holder.describe()[:-1] + f", lease until {record.expires_at.isoformat(timespec='seconds')})"
        return busy_message(self.directory, self.what, who, self.wait_s)
