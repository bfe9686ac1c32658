"""The worker side of ``ctk embed``: the processes that decode, fragment and embed one file each.

Kept apart from :mod:`cluster_toolkit.ingest` so that the workers' forkserver, which imports this module
to run its functions, never imports pandas, pyarrow or the store (about 0.8 CPU s on the 2-core dev
machine, on the critical path of every run's start-up), and so that ``ctk embed`` can start the workers
(:class:`WorkerPool`) before it imports those itself.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from cluster_toolkit.processes import die_with_parent, stop_pool
from cluster_toolkit.scanning import path_id
from cluster_toolkit.track_status import STATUS_FAILED, STATUS_OK, now_iso
from embeddings.backends import load_backend
from embeddings.config import CoverageConfig, FragmentConfig
from embeddings.errors import CtkError


@dataclass(frozen=True)
class WorkItem:
    track_id: str  # "" for an object not downloaded yet: the worker hashes it (cluster_toolkit.object_audio)
    path: str  # a local path, or an object's URL
    size: int
    mtime: float
    etag: str | None = None
    #: of an object: the stored tracks of its size, which the worker does not analyse again if it is one of them
    candidates: tuple[str, ...] = ()


_WORKER_BACKENDS: dict[str, Any] = {}
#: Imported once by the workers' forkserver, so that each worker, forked from it, starts with them: our
#: modules, the default model's (``embeddings.models`` imports its torch modules on first use), librosa's
#: submodules (lazy_loader imports them, and numba with them, on first use) and the tag readers that
#: ``mutagen.File`` imports on its first call. Each of these, imported in every worker instead, cost
#: ~0.7 CPU s per worker on the 2-core dev machine (docs/BENCHMARKS.md); a name that is missing is skipped.
_PRELOAD = [
    "cluster_toolkit.embed_workers", "cluster_toolkit.object_audio", "embeddings.inference", "embeddings.tags",
    "embeddings.backends.features", "embeddings.backends.encoder", "embeddings.backends.hybrid",
    "embeddings.models.transformer",
    "embeddings.checkpoint", "librosa.core", "librosa.feature", "librosa.filters", "librosa.onset",
    "librosa.util", *(f"mutagen.{name}" for name in (
        "aac", "ac3", "aiff", "apev2", "asf", "dsdiff", "dsf", "easyid3", "flac", "id3", "monkeysaudio", "mp3",
        "mp4", "musepack", "oggflac", "oggopus", "oggspeex", "oggtheora", "oggvorbis", "optimfrog", "smf",
        "tak", "trueaudio", "wave", "wavpack")),
]


def _worker_init(parent_pid: int, model: str | None = None) -> None:
    """One thread per worker process (parallelism comes from the processes themselves); with ``model``,
    the backend is loaded now, once per worker, while the parent is still scanning."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and flushes
    die_with_parent(parent_pid)  # even after a kill -9 of the parent
    # decoders (libmpg123) print warnings on the C stderr; the reason of a failure comes back as its result
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    if model is not None:
        try:
            worker_backend(model)
        except Exception:  # noqa: BLE001 - a bad model is reported by the first task, which loads it again
            pass


def analyse_item(item: WorkItem, model: str, fragment: FragmentConfig, coverage: CoverageConfig, fs: Any = None,
                 ) -> dict[str, Any]:
    """Analyse one file (with ``fs``, the object at ``item.path``, downloaded to a temporary file); never raises
    for bad input (returns the reason instead)."""
    from embeddings.inference import analyse_file
    from embeddings.tags import read_tags

    def analyse(path: str, item: WorkItem) -> tuple[Any, dict[str, Any]]:
        backend = worker_backend(model)
        analysis = analyse_file(
            path, backend=backend, fragment_config=fragment, track_id=item.track_id, coverage=coverage
        )
        return analysis, read_tags(path)

    if fs is not None:
        from cluster_toolkit.object_audio import on_object_copy

        done, row, item = on_object_copy(item, fs, analyse)
        return row or analysed_row(item, *done)
    done, failed = attempt(item, lambda: analyse(item.path, item))
    return failed or analysed_row(item, *done)


def worker_backend(model: str) -> Any:
    """Backend ``model``, loaded once per process."""
    backend = _WORKER_BACKENDS.get(model)
    if backend is None:
        backend = _WORKER_BACKENDS[model] = load_backend(model)
    return backend


def attempt(item: WorkItem, work: Any, *, local_path: str | None = None) -> tuple[Any, dict[str, Any] | None]:
    """``(work(), None)``, or ``(None, the failed row of item)`` when it raises: one bad file must not stop
    the run, and its reason is recorded. ``local_path``: the temporary copy ``work`` reads, which the reason
    names as ``item.path``."""
    named = local_path or item.path
    try:
        return work(), None
    except CtkError as exc:
        return None, failed_row(item, _reason(exc, named).replace(named, item.path))
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the run
        return None, failed_row(item, f"unexpected {type(exc).__name__}: {exc}".replace(named, item.path))


def analysed_row(item: WorkItem, analysis: Any, tags: dict[str, Any]) -> dict[str, Any]:
    """The result of a track analysed: its ``tracks`` row and (underscored) its fragments and vectors."""
    return {
        **item_row(item),
        "analysed_at": now_iso(),
        **tags,
        "duration_s": analysis.duration_s,
        "source_sr": analysis.source_sr,
        "channels": analysis.channels,
        "status": STATUS_OK,
        "error": None,
        "n_fragments": len(analysis.plan.starts),
        "_starts": analysis.plan.starts.astype(np.float32),
        "_splits": list(analysis.plan.splits),
        "_fragments": analysis.fragment_embeddings,
        "_embedding": analysis.embedding,
    }


def describe_backend(model: str) -> tuple[dict[str, Any], int]:
    """The description and vector size of backend ``model``, loaded (and kept) in this process."""
    backend = worker_backend(model)
    return backend.describe(), backend.dim


def _forkserver_context() -> Any:
    """Worker processes fork from a forkserver that imports torch, librosa and the backends once; the
    server computes nothing, so no thread pool is forked in a bad state."""
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def new_pool(model: str, workers: int) -> ProcessPoolExecutor:
    """``workers`` processes forked from the forkserver, each loading backend ``model`` as it starts."""
    return ProcessPoolExecutor(workers, mp_context=_forkserver_context(), initializer=_worker_init,
                               initargs=(os.getpid(), model))


class WorkerPool:
    """The run's worker processes, started in a background thread as the run begins.

    Starting them waits for the forkserver to import torch, librosa and the backends, then each worker
    loads the model; all of it overlaps with the store checks and the scan of the folder in this process,
    which never imports torch or the model. :meth:`description` blocks for ``(description, dim)`` of the
    backend (computed in a worker) and raises the error of a bad model; :meth:`take` hands the started pool
    to the analysis; :meth:`stop` ends the workers unless they were taken (at once if the run ends first).
    """

    def __init__(self, model: str, workers: int) -> None:
        self.model, self.workers = model, workers
        self.started = time.monotonic()
        self._pool: ProcessPoolExecutor | None = None
        self._described: list[Future] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="ctk-start-workers")
        self._thread.start()

    def _start(self) -> None:
        try:
            self._pool = new_pool(self.model, self.workers)
            # one task per worker: each submit while no worker is idle starts one more, so all of them load
            # the model now
            self._described = [self._pool.submit(describe_backend, self.model) for _ in range(self.workers)]
        except BaseException as exc:  # noqa: BLE001 - raised again in the main thread by description()
            self._error = exc

    def _started(self) -> ProcessPoolExecutor:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._pool is not None
        return self._pool

    def description(self) -> tuple[dict[str, Any], int]:
        self._started()
        return self._described[0].result()

    def take(self) -> ProcessPoolExecutor:
        pool = self._started()
        self._pool = None
        return pool

    def stop(self) -> None:
        self._thread.join()
        if self._pool is not None:
            stop_pool(self._pool)
            self._pool = None


def _reason(exc: Exception, path: str) -> str:
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def item_row(item: WorkItem) -> dict[str, Any]:
    """The ``tracks`` columns that come from the work item itself: the key of the file and its cheap key."""
    return {"track_id": item.track_id, "path": item.path, "size": item.size, "mtime": item.mtime, "etag": item.etag}


def failed_row(item: WorkItem, reason: str) -> dict[str, Any]:
    return {
        **item_row(item),
        "track_id": item.track_id or path_id(item.path),  # an object not hashed yet: keyed by its URL
        "analysed_at": now_iso(),
        "status": STATUS_FAILED,
        "error": reason,
    }
