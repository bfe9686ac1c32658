"""``embed_library``: analyse a music folder into a library store, incrementally.

The functional core of ``ctk embed``. It walks the folder, recognises files it has seen
(same path, size and mtime: no work; same content hash at a new path: moved, no work),
marks vanished files ``gone``, and analyses the rest in worker processes, committing each
batch to the store so that an interrupted run loses at most the batch in flight.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from cluster_toolkit.errors import StoreError, UsageError
from cluster_toolkit.store import (
    STATUS_FAILED,
    STATUS_GONE,
    STATUS_OK,
    TRACK_COLUMNS,
    LibraryStore,
    now_iso,
)
from embeddings.audio import is_audio_file
from embeddings.backends import DEFAULT_BACKEND, load_backend, model_id
from embeddings.config import FragmentConfig
from embeddings.errors import CtkError

HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class EmbedConfig:
    """Options of :func:`embed_library` (``ctk embed`` flags map onto these)."""

    model: str = DEFAULT_BACKEND
    workers: int = field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 8)))
    batch_size: int = 32
    commit_seconds: float = 20.0
    fragment: FragmentConfig = field(default_factory=FragmentConfig)
    reembed: bool = False
    retry_failed: bool = False


@dataclass
class EmbedSummary:
    """What one run did."""

    music_dir: str
    library: str
    model_id: str
    found: int = 0
    analysed: int = 0
    skipped: int = 0
    moved: int = 0
    gone: int = 0
    duplicates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped_failed: int = 0
    seconds: float = 0.0
    audio_seconds: float = 0.0
    interrupted: bool = False

    @property
    def to_analyse(self) -> int:
        return self.analysed + len(self.failed)


class EmbedReporter(Protocol):
    """Progress callbacks (the CLI draws a progress bar with them; library code never prints)."""

    def scanned(self, n_files: int) -> None: ...
    def start(self, total: int) -> None: ...
    def track_done(self, path: str, error: str | None) -> None: ...


class _NullReporter:
    def scanned(self, n_files: int) -> None:
        pass

    def start(self, total: int) -> None:
        pass

    def track_done(self, path: str, error: str | None) -> None:
        pass


# ---------------------------------------------------------------------------------- scanning
def iter_audio_files(music_dir: Path, *, exclude: Path | None = None) -> Iterator[Path]:
    """Audio files under ``music_dir``, recursively, sorted, skipping hidden files and folders."""
    for dirpath, dirnames, filenames in os.walk(music_dir, followlinks=True):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and (exclude is None or (here / d) != exclude)
        )
        for name in sorted(filenames):
            if not name.startswith(".") and is_audio_file(Path(name)):
                yield here / name


def content_hash(path: Path) -> str:
    """The track id: BLAKE2b-128 of the file's bytes, as 32 hex digits."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class _WorkItem:
    track_id: str
    path: str
    size: int
    mtime: float


# ---------------------------------------------------------------------------------- workers
_WORKER_BACKENDS: dict[str, Any] = {}
_PRELOAD = ["cluster_toolkit.library", "embeddings.inference", "embeddings.tags", "embeddings.backends.features",
            "embeddings.backends.encoder"]


def _worker_init() -> None:
    """One thread per worker process: parallelism comes from the processes themselves."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and flushes
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


def _analyse(item: _WorkItem, model: str, fragment: FragmentConfig) -> dict[str, Any]:
    """Analyse one file; never raises for bad input (returns the reason instead)."""
    from embeddings.inference import analyse_file
    from embeddings.tags import read_tags

    row: dict[str, Any] = {
        "track_id": item.track_id,
        "path": item.path,
        "size": item.size,
        "mtime": item.mtime,
        "analysed_at": now_iso(),
    }
    try:
        backend = _WORKER_BACKENDS.get(model)
        if backend is None:
            backend = _WORKER_BACKENDS[model] = load_backend(model)
        analysis = analyse_file(item.path, backend=backend, fragment_config=fragment, track_id=item.track_id)
        tags = read_tags(item.path)
    except CtkError as exc:
        return {**row, "status": STATUS_FAILED, "error": _reason(exc, item.path)}
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the run
        return {**row, "status": STATUS_FAILED, "error": f"unexpected {type(exc).__name__}: {exc}"}
    tags["duration_s"] = analysis.duration_s
    return {
        **row,
        **tags,
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


def _reason(exc: Exception, path: str) -> str:
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


# ---------------------------------------------------------------------------------- batches
class _Batch:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.started = time.monotonic()

    def add(self, result: dict[str, Any]) -> None:
        self.rows.append(result)

    def commit(self, store: LibraryStore) -> None:
        if not self.rows:
            return
        tracks = pd.DataFrame([{k: r.get(k) for k in TRACK_COLUMNS} for r in self.rows])
        ok = [r for r in self.rows if r["status"] == STATUS_OK]
        track_emb = np.stack([r["_embedding"] for r in ok]) if ok else None
        frag_df, frag_emb = None, None
        if ok:
            frag_df = pd.DataFrame(
                {
                    "track_id": np.concatenate([[r["track_id"]] * len(r["_starts"]) for r in ok]),
                    "fragment_index": np.concatenate([np.arange(len(r["_starts"]), dtype=np.int32) for r in ok]),
                    "start_s": np.concatenate([r["_starts"] for r in ok]),
                    "split": np.concatenate([r["_splits"] for r in ok]),
                }
            )
            frag_emb = np.concatenate([r["_fragments"] for r in ok])
        store.commit_batch(tracks, track_emb, frag_df, frag_emb)
        self.rows = []
        self.started = time.monotonic()


# ---------------------------------------------------------------------------------- main entry
def _prepare_store(library: Path, backend: Any, config: EmbedConfig) -> LibraryStore:
    store = LibraryStore.open(library, create=True)
    store.check_writable()
    store.recover()
    description = backend.describe()
    mid = model_id(description)
    if store.meta.get("source") == "tabular":
        raise StoreError(f"{store.root}: holds an imported feature table, not audio; use another --library")
    if store.model_id is not None and store.model_id != mid:
        if not config.reembed:
            raise StoreError(
                f"{store.root}: was embedded with model {store.model_id}, this run uses {mid}; "
                "pass --reembed to replace its embeddings, or use another --library"
            )
        store.clear_embeddings()
    if store.model_id != mid:
        store.set_model(description, mid, backend.dim)
    return store


def _scan(
    music_dir: Path, store: LibraryStore, config: EmbedConfig, summary: EmbedSummary
) -> tuple[pd.DataFrame, list[_WorkItem], bool]:
    """Compare the folder with the store: returns the updated tracks table, the work, and
    whether any stored row changed."""
    tracks = store.all_tracks()
    by_path = {p: i for i, p in enumerate(tracks["path"])}
    by_id = {t: i for i, t in enumerate(tracks["track_id"])}
    seen_ids: set[str] = set()
    work: list[_WorkItem] = []
    changed = False
    status = tracks["status"].to_numpy(dtype=object).copy()
    paths = tracks["path"].to_numpy(dtype=object).copy()
    sizes = tracks["size"].to_numpy(dtype=np.float64).copy()
    mtimes = tracks["mtime"].to_numpy(dtype=np.float64).copy()
    for path in iter_audio_files(music_dir, exclude=store.root):
        summary.found += 1
        try:
            st = path.stat()
            spath = str(path.absolute())
            i = by_path.get(spath)
            if i is not None and status[i] != STATUS_GONE and sizes[i] == st.st_size and mtimes[i] == st.st_mtime:
                seen_ids.add(tracks.at[i, "track_id"])
                if status[i] == STATUS_FAILED and config.retry_failed:
                    work.append(_WorkItem(tracks.at[i, "track_id"], spath, st.st_size, st.st_mtime))
                elif status[i] == STATUS_FAILED:
                    summary.skipped_failed += 1
                else:
                    summary.skipped += 1
                continue
            tid = content_hash(path)
        except OSError as exc:
            summary.failed.append((str(path), f"cannot read ({exc.strerror or exc})"))
            continue
        if tid in seen_ids:
            summary.duplicates += 1
            continue
        seen_ids.add(tid)
        j = by_id.get(tid)
        if j is None:
            work.append(_WorkItem(tid, spath, st.st_size, st.st_mtime))
            continue
        if paths[j] != spath:
            summary.moved += 1
        if status[j] == STATUS_GONE:
            status[j] = STATUS_FAILED if pd.notna(tracks.at[j, "error"]) else STATUS_OK
        paths[j], sizes[j], mtimes[j] = spath, st.st_size, st.st_mtime
        changed = True
        if status[j] == STATUS_FAILED and config.retry_failed:
            work.append(_WorkItem(tid, spath, st.st_size, st.st_mtime))
        else:
            summary.skipped += 1
    root = str(music_dir.absolute()) + os.sep
    for i, tid in enumerate(tracks["track_id"]):
        if tid in seen_ids or status[i] == STATUS_GONE:
            continue
        if str(paths[i]).startswith(root) or not Path(paths[i]).exists():
            status[i] = STATUS_GONE
            summary.gone += 1
            changed = True
    tracks = tracks.assign(status=status, path=paths, size=sizes.astype(np.int64), mtime=mtimes)
    return tracks, work, changed


def embed_library(
    music_dir: str | Path,
    library: str | Path,
    config: EmbedConfig | None = None,
    reporter: EmbedReporter | None = None,
) -> EmbedSummary:
    """Analyse ``music_dir`` into the store at ``library`` and return what was done.

    Raises :class:`UsageError` for a missing folder, :class:`StoreError` for an unusable
    library or one made by another model, :class:`CheckpointError` for a bad model.
    A ``KeyboardInterrupt`` commits what is finished, then propagates.
    """
    config = config or EmbedConfig()
    reporter = reporter or _NullReporter()
    music_dir = Path(music_dir).expanduser()
    if not music_dir.is_dir():
        raise UsageError(f"{music_dir}: no such folder")
    t0 = time.monotonic()
    backend = load_backend(config.model)
    store = _prepare_store(Path(library).expanduser(), backend, config)
    summary = EmbedSummary(music_dir=str(music_dir), library=str(store.root), model_id=store.model_id or "")
    tracks, work, changed = _scan(music_dir, store, config, summary)
    reporter.scanned(summary.found)
    if changed:
        store.replace_tracks(tracks)
    reporter.start(len(work))
    batch = _Batch()

    def take(result: dict[str, Any]) -> None:
        if result["status"] == STATUS_OK:
            summary.analysed += 1
            summary.audio_seconds += float(result["duration_s"])
        else:
            summary.failed.append((result["path"], result["error"]))
        batch.add(result)
        reporter.track_done(result["path"], result.get("error"))
        if len(batch.rows) >= config.batch_size or time.monotonic() - batch.started >= config.commit_seconds:
            batch.commit(store)

    try:
        if config.workers <= 0 or len(work) <= 1:
            for item in work:
                take(_analyse(item, config.model, config.fragment))
        else:
            _run_pool(work, config, take)
    except KeyboardInterrupt:
        summary.interrupted = True
        raise
    finally:
        batch.commit(store)
        store.compact()
        summary.seconds = time.monotonic() - t0
    return summary


def _run_pool(work: list[_WorkItem], config: EmbedConfig, take: Any) -> None:
    """Run :func:`_analyse` over ``work`` in worker processes, a bounded number in flight.

    A worker that dies (a decoder crash, the OOM killer) fails only the tracks in flight; the
    pool is restarted and the run goes on.
    """
    queue = list(reversed(work))
    # forkserver: the heavy imports (torch, librosa, the backends) happen once in the server and every
    # worker forks from it, instead of each spawned worker importing them again; the server computes
    # nothing, so no thread pool is forked in a bad state.
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    while queue:
        with ProcessPoolExecutor(config.workers, mp_context=context, initializer=_worker_init) as pool:
            in_flight: dict[Future, _WorkItem] = {}
            try:
                while queue or in_flight:
                    while queue and len(in_flight) < 2 * config.workers:
                        item = queue.pop()
                        in_flight[pool.submit(_analyse, item, config.model, config.fragment)] = item
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for fut in done:
                        result = fut.result()  # raises BrokenProcessPool if a worker died
                        del in_flight[fut]
                        take(result)
            except BrokenProcessPool:
                for item in in_flight.values():
                    take(_failed(item, "worker process died while analysing this file"))
                continue
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.terminate()
                raise


def _failed(item: _WorkItem, reason: str) -> dict[str, Any]:
    return {
        "track_id": item.track_id,
        "path": item.path,
        "size": item.size,
        "mtime": item.mtime,
        "analysed_at": now_iso(),
        "status": STATUS_FAILED,
        "error": reason,
    }
