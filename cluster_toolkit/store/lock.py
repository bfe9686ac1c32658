"""One writer per library: an exclusive lock on ``<library>/.lock`` with the holder written inside.

The lock is the kernel's ``flock`` (``fcntl.flock``) on an open file, so it goes away with the process
that holds it, even after a ``kill -9``: a lock can never outlive its holder, and a record left behind
by a dead holder is simply overwritten by the next writer. The file itself records who holds the lock
(pid, host, command, start time) so that a second writer can say whom it is waiting for.

One case the kernel cannot settle: a process that inherited the open lock file and outlived the
writer that took it. A record naming a dead pid on this host while the lock is still held is such a
leftover; the lock is stale, and the next writer replaces the lock file (the leftover then holds a lock
on a file nobody else opens). Readers never take the lock: the store's files are written to a temp
name and renamed into place, ``tracks`` last, so a reader sees either the old or the new state.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cluster_toolkit.errors import StoreError

LOCK_NAME = ".lock"
_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) a lock."""

    pid: int
    host: str
    command: str
    started_at: str

    def describe(self) -> str:
        return f"`{self.command}` (pid {self.pid} on {self.host}, since {self.started_at})"

    def is_dead_here(self) -> bool:
        """True when the holder ran on this host and its pid no longer exists."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # another user's live process
            return False
        return False


def read_holder(path: Path) -> LockHolder | None:
    """The holder recorded in the lock file ``path`` (``None`` if missing or unreadable)."""
    try:
        data = json.loads(path.read_text())
        return LockHolder(int(data["pid"]), str(data["host"]), str(data["command"]), str(data["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class StoreLock:
    """An exclusive, non-reentrant lock on ``directory/.lock`` held by ``command`` (``what`` names the
    directory in messages: a library, a training run folder).

    ``acquire`` fails at once with a one-line :class:`StoreError` naming the holder when another
    process holds the lock, or after ``wait_s`` seconds of waiting for it.
    """

    def __init__(self, directory: Path, *, command: str, wait_s: float = 0.0, what: str = "library") -> None:
        self.directory = Path(directory)
        self.what = what
        self.path = self.directory / LOCK_NAME
        self.command = command
        self.wait_s = max(0.0, float(wait_s))
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            raise StoreError(f"{self.path}: already held by this process")
        deadline = time.monotonic() + self.wait_s
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise StoreError(f"{self.directory}: cannot lock the {self.what} ({exc.strerror or exc})") from exc
                holder = read_holder(self.path)
                if holder is not None and holder.is_dead_here():
                    self._break_stale(holder)
                    continue
                if time.monotonic() >= deadline:
                    raise StoreError(self._busy_message(holder)) from None
                time.sleep(_POLL_SECONDS)
                continue
            self._write_holder(fd)
            # a writer that judged the previous record stale may have replaced the file meanwhile;
            # checked after our record is in, so that such a writer either saw it or removed a file
            # we now notice is gone
            if not self._still_the_lock_file(fd):
                os.close(fd)
                continue
            self._fd = fd
            return

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # no record of a holder that is gone
        except OSError:
            pass
        # unlock before closing: a process forked by another thread meanwhile (ctk embed starts its workers
        # while it opens the library) holds a copy of this descriptor until it execs, and the lock would stay
        # until that copy is closed too
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # ------------------------------------------------------------------ helpers
    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(
                f"{self.directory}: {self.what} is not writable, cannot take its lock ({exc.strerror or exc})"
            ) from exc

    def _still_the_lock_file(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def _break_stale(self, holder: LockHolder) -> None:
        # re-read right before: only the record we judged dead is removed, never a live writer's
        if read_holder(self.path) == holder:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def _write_holder(self, fd: int) -> None:
        holder = LockHolder(
            pid=os.getpid(),
            host=socket.gethostname(),
            command=self.command,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        data = (json.dumps(asdict(holder)) + "\n").encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)

    def _busy_message(self, holder: LockHolder | None) -> str:
        return busy_message(self.directory, self.what, holder.describe() if holder else None, self.wait_s)


def busy_message(directory: object, what: str, who: str | None, wait_s: float) -> str:
    """The one line a second writer gets: the library (``directory``), the holder (``who``), what to do."""
    waited = f" after waiting {wait_s:g} s" if wait_s else ""
    return (
        f"{directory}: {what} is locked by {who or 'another process'}{waited}; "
        f"wait for it to finish (or pass --wait SECONDS where offered)"
    )
