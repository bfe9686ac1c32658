"""Process lifecycle: SIGTERM as an exception, commits that signals cannot cut, workers that die with
their parent, and stopping a worker pool without leaving processes behind.

- :class:`Terminated` is what SIGTERM raises in the main thread (a ``KeyboardInterrupt``, so every
  ``except KeyboardInterrupt`` that commits finished work on Ctrl-C does the same on SIGTERM).
- :func:`signals_deferred` holds SIGINT/SIGTERM while a store commit runs and delivers them after.
- :func:`die_with_parent` (run in each worker) ends the worker as soon as the process that started
  the pool is gone, even after a ``kill -9`` of that process: the worker's own parent is the
  forkserver, so the kernel's parent-death signal alone would not reach it, and a worker blocked on
  its task queue would otherwise wait forever and keep the forkserver and the resource tracker alive.
- :func:`stop_pool` terminates a ``ProcessPoolExecutor``'s workers and waits for them.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports this module on start-up; multiprocessing only where a pool is made
    from concurrent.futures import ProcessPoolExecutor
    from types import FrameType

#: Exit codes of a command stopped by a signal (128 + the signal number, as shells report it).
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread."""


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM."""
    return EXIT_SIGTERM if isinstance(interrupt, Terminated) else EXIT_SIGINT


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread."""
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the block runs; deliver the first one that came after it.

    For short critical sections (a batch commit): the block is never cut half-way by Ctrl-C.
    """
    if not _in_main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pending:
            sig = pending[0]
            handler = previous[sig]
            if callable(handler):
                handler(sig, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(sig)


def die_with_parent(parent_pid: int) -> None:
    """Start a daemon thread that ends this process (``os._exit``) when ``parent_pid`` is gone.

    Uses a pidfd (Linux 5.3+: readable when the process exits, no pid-reuse race); elsewhere it
    polls the pid once a second.
    """
    try:
        pidfd: int | None = os.pidfd_open(parent_pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):
        pidfd = None

    def watch() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])
        else:
            while True:
                time.sleep(1.0)
                try:
                    os.kill(parent_pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    continue
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def stop_pool(pool: ProcessPoolExecutor, *, timeout_s: float = 10.0) -> None:
    """Cancel what is queued, terminate the workers (SIGTERM, then SIGKILL) and wait for them."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # before shutdown clears it
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + timeout_s
    for proc in processes:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
