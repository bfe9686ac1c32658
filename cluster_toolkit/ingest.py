"""``embed_library``: analyse a music folder into a library store, incrementally.

The functional core of ``ctk embed``. It walks the folder, recognises files it has seen
(same path, size and mtime: no work; same content hash at a new path: moved, no work),
marks vanished files ``gone``, and analyses the rest in worker processes, committing each
batch to the store so that an interrupted run loses at most the batch in flight. The run holds
the library's writer lock from start to end, checks the store cheaply first and analyses again
tracks whose vectors were lost (see :mod:`cluster_toolkit.store.check`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from cluster_toolkit.errors import StoreError, UsageError
from cluster_toolkit.processes import die_with_parent, signals_deferred, stop_pool
from cluster_toolkit.scanning import content_hash, iter_audio_files, path_id
from cluster_toolkit.store.check import CheckReport, check_store, quarantine_unreadable, repair_store_files
from cluster_toolkit.store.library_store import (
    STATUS_FAILED,
    STATUS_GONE,
    STATUS_OK,
    TRACK_COLUMNS,
    LibraryStore,
    now_iso,
)
from embeddings.backends import DEFAULT_BACKEND, load_backend, model_id
from embeddings.config import CoverageConfig, FragmentConfig
from embeddings.errors import CtkError


@dataclass(frozen=True)
class EmbedConfig:
    """Options of :func:`embed_library` (``ctk embed`` flags map onto these)."""

    model: str = DEFAULT_BACKEND
    workers: int = field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 8)))
    batch_size: int = 32
    commit_seconds: float = 20.0
    fragment: FragmentConfig = field(default_factory=FragmentConfig)
    coverage: CoverageConfig = field(default_factory=CoverageConfig)
    reembed: bool = False
    retry_failed: bool = False
    lock_wait_s: float = 0.0
    #: ``local``: worker processes on this machine; ``ray``: a Ray Data pipeline (:mod:`cluster_toolkit.ray_engine`,
    #: ``ctk[ray]``), ``workers`` being its pool of encoder actors
    engine: str = "local"


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
    repaired: int = 0
    quarantined: list[str] = field(default_factory=list)
    #: when each phase of the run ended, in seconds from its start (``scanned``, ``model ready``, ``first
    #: track``, ``last track``, ``done``), and the seconds spent writing batches to the store
    phases: dict[str, float] = field(default_factory=dict)
    commit_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic, repr=False)

    @property
    def to_analyse(self) -> int:
        return self.analysed + len(self.failed)

    def mark(self, phase: str) -> None:
        """Record that ``phase`` ended now."""
        self.phases[phase] = time.monotonic() - self.started


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


@dataclass(frozen=True)
class _WorkItem:
    track_id: str
    path: str
    size: int
    mtime: float


# ---------------------------------------------------------------------------------- workers
_WORKER_BACKENDS: dict[str, Any] = {}
#: Imported once by the workers' forkserver, so that each worker, forked from it, starts with them: our
#: modules, the default model's (``embeddings.models`` imports its torch modules on first use), librosa's
#: submodules (lazy_loader imports them, and numba with them, on first use) and the tag readers that
#: ``mutagen.File`` imports on its first call. Each of these, imported in every worker instead, cost
#: ~0.7 CPU s per worker on the 2-core dev machine (docs/BENCHMARKS.md); a name that is missing is skipped.
_PRELOAD = [
    "cluster_toolkit.ingest", "embeddings.inference", "embeddings.tags", "embeddings.backends.features",
    "embeddings.backends.encoder", "embeddings.backends.hybrid", "embeddings.models.transformer",
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


def _analyse(item: _WorkItem, model: str, fragment: FragmentConfig, coverage: CoverageConfig) -> dict[str, Any]:
    """Analyse one file; never raises for bad input (returns the reason instead)."""
    from embeddings.inference import analyse_file
    from embeddings.tags import read_tags

    def analyse() -> tuple[Any, dict[str, Any]]:
        backend = worker_backend(model)
        analysis = analyse_file(
            item.path, backend=backend, fragment_config=fragment, track_id=item.track_id, coverage=coverage
        )
        return analysis, read_tags(item.path)

    done, failed = attempt(item, analyse)
    return failed or analysed_row(item, *done)


def worker_backend(model: str) -> Any:
    """Backend ``model``, loaded once per process."""
    backend = _WORKER_BACKENDS.get(model)
    if backend is None:
        backend = _WORKER_BACKENDS[model] = load_backend(model)
    return backend


def attempt(item: _WorkItem, work: Any) -> tuple[Any, dict[str, Any] | None]:
    """``(work(), None)``, or ``(None, the failed row of item)`` when it raises: one bad file must not stop
    the run, and its reason is recorded."""
    try:
        return work(), None
    except CtkError as exc:
        return None, _failed(item, _reason(exc, item.path))
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the run
        return None, _failed(item, f"unexpected {type(exc).__name__}: {exc}")


def analysed_row(item: _WorkItem, analysis: Any, tags: dict[str, Any]) -> dict[str, Any]:
    """The result of a track analysed: its ``tracks`` row and (underscored) its fragments and vectors."""
    return {
        "track_id": item.track_id,
        "path": item.path,
        "size": item.size,
        "mtime": item.mtime,
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


def _describe(model: str) -> tuple[dict[str, Any], int]:
    """The description and vector size of backend ``model``, loaded (and kept) in this process."""
    backend = worker_backend(model)
    return backend.describe(), backend.dim


def _forkserver_context() -> Any:
    """Worker processes fork from a forkserver that imports torch, librosa and the backends once; the
    server computes nothing, so no thread pool is forked in a bad state."""
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def _new_pool(config: EmbedConfig) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(config.workers, mp_context=_forkserver_context(), initializer=_worker_init,
                               initargs=(os.getpid(), config.model))


class WorkerPool:
    """The run's worker processes, started in a background thread as the run begins.

    Starting them waits for the forkserver to import torch, librosa and the backends, then each worker
    loads the model; all of it overlaps with the store checks and the scan of the folder in this process,
    which never imports torch or the model. :meth:`description` blocks for ``(description, dim)`` of the
    backend (computed in a worker) and raises the error of a bad model; :meth:`take` hands the started pool
    to the analysis; :meth:`stop` ends the workers unless they were taken (at once if the run ends first).
    """

    def __init__(self, config: EmbedConfig) -> None:
        self.config = config
        self._pool: ProcessPoolExecutor | None = None
        self._described: list[Future] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="ctk-start-workers")
        self._thread.start()

    def _start(self) -> None:
        try:
            self._pool = _new_pool(self.config)
            # one task per worker: each submit while no worker is idle starts one more, so all of them load
            # the model now
            self._described = [self._pool.submit(_describe, self.config.model) for _ in range(self.config.workers)]
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
        with signals_deferred():  # Ctrl-C waits for the batch's parts to be written, tracks last
            self._write(store)

    def _write(self, store: LibraryStore) -> None:
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
def _check_usable(store: LibraryStore) -> None:
    """Refuse an unwritable library or one holding an imported feature table; clean up an interrupted run."""
    store.check_writable()
    store.recover()
    if store.meta.get("source") == "tabular":
        raise StoreError(f"{store.root}: holds an imported feature table, not audio; use another --library")


def _adopt_model(store: LibraryStore, description: dict[str, Any], dim: int, config: EmbedConfig) -> bool:
    """Record the model and fragment size in the store, refusing a store made by another model or with
    other fragments unless ``config.reembed``; returns whether the store's analyses were cleared for it."""
    mid = model_id(description)
    cleared = False
    if store.model_id is not None and store.model_id != mid:
        if not config.reembed:
            raise StoreError(
                f"{store.root}: was embedded with model {store.model_id}, this run uses {mid}; "
                "pass --reembed to replace its embeddings, or use another --library"
            )
        store.clear_embeddings()
        cleared = True
    fragment = asdict(config.fragment)
    stored = store.meta.get("fragment")
    if stored is not None and stored != fragment and store.model_id == mid:
        if not config.reembed:
            raise StoreError(
                f"{store.root}: holds fragments of {stored['n_seconds']:g} s every {stored['step']:g} s, this run asks "
                f"for {fragment['n_seconds']:g} s every {fragment['step']:g} s; use the same --n-seconds/--step, "
                "pass --reembed to analyse everything again, or use another --library"
            )
        store.clear_embeddings()
        cleared = True
    if store.model_id != mid:
        store.set_model(description, mid, dim)
    if store.meta.get("fragment") != fragment or store.meta.get("model_spec") != config.model:
        store.update_meta(fragment=fragment, model_spec=config.model)
    return cleared


def _scan(
    music_dir: Path, store: LibraryStore, config: EmbedConfig, summary: EmbedSummary,
    reanalyse: frozenset[str] = frozenset(),
) -> tuple[pd.DataFrame, list[_WorkItem], bool]:
    """Compare the folder with the store: returns the updated tracks table, the work, and
    whether any stored row changed. Tracks in ``reanalyse`` (ok tracks that lost their vectors)
    are analysed again."""
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
    unreadable: list[dict[str, Any]] = []
    for path in iter_audio_files(music_dir, exclude=store.root if isinstance(store.root, Path) else None):
        summary.found += 1
        spath = str(path.absolute())
        try:
            st = path.stat()
            i = by_path.get(spath)
            if i is not None and status[i] != STATUS_GONE and sizes[i] == st.st_size and mtimes[i] == st.st_mtime:
                seen_ids.add(tracks.at[i, "track_id"])
                if status[i] == STATUS_FAILED and config.retry_failed or tracks.at[i, "track_id"] in reanalyse:
                    work.append(_WorkItem(tracks.at[i, "track_id"], spath, st.st_size, st.st_mtime))
                elif status[i] == STATUS_FAILED:
                    summary.skipped_failed += 1
                else:
                    summary.skipped += 1
                continue
            # an empty file has no content to stand for it (every empty file would be one track)
            tid = content_hash(path) if st.st_size > 0 else path_id(spath)
        except OSError as exc:
            reason = f"cannot read ({exc.strerror or exc})"
            i = by_path.get(spath)
            if i is not None and status[i] == STATUS_FAILED and tracks.at[i, "error"] == reason:
                seen_ids.add(tracks.at[i, "track_id"])
                summary.skipped_failed += 1
                continue
            summary.failed.append((spath, reason))
            row = _failed(_WorkItem(path_id(spath), spath, 0, 0.0), reason)
            seen_ids.add(row["track_id"])
            unreadable.append(row)
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
        if status[j] == STATUS_FAILED and config.retry_failed or tid in reanalyse:
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
    if unreadable:
        recorded = pd.DataFrame([{k: r.get(k) for k in TRACK_COLUMNS} for r in unreadable])
        tracks = pd.concat([tracks[~tracks["track_id"].isin(recorded["track_id"])], recorded], ignore_index=True)
        changed = True
    return tracks, work, changed


def embed_library(
    music_dir: str | Path,
    library: str | Path,
    config: EmbedConfig | None = None,
    reporter: EmbedReporter | None = None,
) -> EmbedSummary:
    """Analyse ``music_dir`` into the store at ``library`` and return what was done.

    Raises :class:`UsageError` for a missing folder, :class:`StoreError` for an unusable
    library, one made by another model or one another process is writing (the run holds the
    library's lock, waiting up to ``config.lock_wait_s`` for it), :class:`CheckpointError` for a
    bad model. A ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM as :class:`~cluster_toolkit.processes.Terminated`)
    commits what is finished, stops the workers, then propagates.
    """
    config = config or EmbedConfig()
    music_dir = Path(music_dir).expanduser()
    if not music_dir.is_dir():
        raise UsageError(f"{music_dir}: no such folder")
    if config.engine == "ray":
        from cluster_toolkit.ray_engine import require_ray

        require_ray()  # before any work
    elif config.engine != "local":
        raise UsageError(f"unknown engine {config.engine!r}: use 'local' or 'ray'")
    t0 = time.monotonic()
    # the local pool starts while the folder is scanned; the Ray engine runs its own actors
    pool = WorkerPool(config) if config.workers > 0 and config.engine == "local" else None
    try:
        store = LibraryStore.open(library, create=True, lock_wait_s=config.lock_wait_s)
        with store.writing(wait_s=config.lock_wait_s):
            _check_usable(store)
            summary, tracks, work, changed = _survey(music_dir, store, config)  # sets aside damaged parts only
            summary.started = t0
            summary.mark("scanned")
            description = pool.description() if pool is not None else _describe(config.model)
            if _adopt_model(store, *description, config):  # another model's analyses cleared: again
                summary, tracks, work, changed = _survey(music_dir, store, config)
                summary.started = t0
            summary.mark("model ready")
            summary.model_id = store.model_id or ""
            _analyse_work(store, tracks if changed else None, work, config, reporter or _NullReporter(), summary,
                          pool=pool)
            summary.seconds = time.monotonic() - t0
    finally:
        if pool is not None:
            pool.stop()
    return summary


def _survey(
    music_dir: Path, store: LibraryStore, config: EmbedConfig
) -> tuple[EmbedSummary, pd.DataFrame, list[_WorkItem], bool]:
    """The cheap store checks (unreadable parts are set aside, tracks that lost their vectors are
    analysed again) and the scan of the folder against the store."""
    summary = EmbedSummary(music_dir=str(music_dir), library=str(store.root), model_id=store.model_id or "")
    report = check_store(store, deep=False)
    summary.quarantined = [str(p) for p in quarantine_unreadable(store, report)]
    lost = frozenset(report.tracks_without_vectors)
    tracks, work, changed = _scan(music_dir, store, config, summary, reanalyse=lost)
    summary.repaired = sum(item.track_id in lost for item in work)
    return summary, tracks, work, changed


@dataclass
class RepairSummary:
    """What :func:`repair_library` found and did."""

    check: CheckReport
    files: dict[str, int]
    embed: EmbedSummary | None = None
    not_repaired: list[tuple[str, str]] = field(default_factory=list)


def repair_library(
    library: str | Path,
    *,
    model: str | None = None,
    workers: int | None = None,
    lock_wait_s: float = 0.0,
    reporter: EmbedReporter | None = None,
) -> RepairSummary:
    """``ctk check --repair``: check the store deeply, repair its files and analyse again the tracks
    that lost their vectors, from the paths the store recorded.

    ``model`` defaults to the one recorded in the store; a model whose vectors differ from the
    store's is refused with a :class:`StoreError`. A track whose file is gone or changed since it was
    analysed is listed in ``not_repaired`` (run ``ctk embed`` on its folder).
    """
    store = LibraryStore.open(library)
    with store.writing(wait_s=lock_wait_s):
        store.recover()
        report = check_store(store, deep=True)
        files = repair_store_files(store, report)
        result = RepairSummary(check=report, files=files)
        if not report.tracks_without_vectors:
            return result
        spec = model or store.meta.get("model_spec") or DEFAULT_BACKEND
        backend = load_backend(spec)
        if model_id(backend.describe()) != store.model_id:
            raise StoreError(
                f"{store.root}: its vectors were made by {store.model_id}, not by --model {spec}; "
                "pass the model that made them"
            )
        fragment = FragmentConfig(**store.meta["fragment"]) if store.meta.get("fragment") else FragmentConfig()
        config = EmbedConfig(model=spec, fragment=fragment)
        if workers is not None:
            config = EmbedConfig(model=spec, fragment=fragment, workers=workers)
        tracks = store.all_tracks().set_index("track_id")
        work = []
        for tid in report.tracks_without_vectors:
            row = tracks.loc[tid]
            try:
                st = os.stat(row["path"])
            except OSError as exc:
                result.not_repaired.append((row["path"], f"cannot read ({exc.strerror or exc})"))
                continue
            if st.st_size != row["size"] or st.st_mtime != row["mtime"]:
                result.not_repaired.append((row["path"], "changed since analysed: run `ctk embed` on its folder"))
                continue
            work.append(_WorkItem(tid, row["path"], st.st_size, st.st_mtime))
        result.embed = EmbedSummary(music_dir="", library=str(store.root), model_id=store.model_id or "")
        result.embed.found = len(work)
        _analyse_work(store, None, work, config, reporter or _NullReporter(), result.embed)
    return result


def _analyse_work(
    store: LibraryStore,
    changed_tracks: pd.DataFrame | None,
    work: list[_WorkItem],
    config: EmbedConfig,
    reporter: EmbedReporter,
    summary: EmbedSummary,
    pool: WorkerPool | None = None,
) -> None:
    """Analyse ``work`` into the store (the caller holds the lock), committing in batches (in the workers
    of ``pool`` if given, already started, else in new ones or, with ``config.workers`` 0, in this process)."""
    reporter.scanned(summary.found)
    if changed_tracks is not None:
        store.replace_tracks(changed_tracks)
    reporter.start(len(work))
    batch = _Batch()

    def take(result: dict[str, Any]) -> None:
        if "first track" not in summary.phases:
            summary.mark("first track")
        if result["status"] == STATUS_OK:
            summary.analysed += 1
            summary.audio_seconds += float(result["duration_s"])
        else:
            summary.failed.append((result["path"], result["error"]))
        batch.add(result)
        reporter.track_done(result["path"], result.get("error"))
        if len(batch.rows) >= config.batch_size or time.monotonic() - batch.started >= config.commit_seconds:
            commit()

    def commit() -> None:
        t = time.monotonic()
        batch.commit(store)
        summary.commit_seconds += time.monotonic() - t

    try:
        if config.engine == "ray" and work:
            from cluster_toolkit.ray_engine import run_ray

            run_ray(work, config, take)
        elif work and pool is not None:
            _run_pool(work, config, take, pool.take())
        elif config.workers <= 0 or len(work) <= 1:
            for item in work:
                take(_analyse(item, config.model, config.fragment, config.coverage))
        else:
            _run_pool(work, config, take)
        summary.mark("last track")
    except KeyboardInterrupt:
        summary.interrupted = True
        raise
    finally:
        commit()
        with signals_deferred():
            store.compact()
        summary.mark("done")


def _run_pool(work: list[_WorkItem], config: EmbedConfig, take: Any, started: ProcessPoolExecutor | None = None,
              ) -> None:
    """Run :func:`_analyse` over ``work`` in worker processes (``started``, else new ones), a bounded
    number in flight.

    A worker that dies (a decoder crash, the OOM killer) fails only the tracks in flight; the
    pool is restarted and the run goes on.
    """
    queue = list(reversed(work))
    while queue:
        pool, started = started or _new_pool(config), None
        in_flight: dict[Future, _WorkItem] = {}
        try:
            while queue or in_flight:
                while queue and len(in_flight) < 2 * config.workers:
                    item = queue.pop()
                    in_flight[pool.submit(_analyse, item, config.model, config.fragment, config.coverage)] = item
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for fut in done:
                    result = fut.result()  # raises BrokenProcessPool if a worker died
                    del in_flight[fut]
                    take(result)
        except BrokenProcessPool:
            for item in in_flight.values():
                take(_failed(item, "worker process died while analysing this file"))
            stop_pool(pool)
            continue
        except BaseException:  # Ctrl-C, SIGTERM, an error while committing: no worker is left behind
            stop_pool(pool)
            raise
        pool.shutdown(wait=True)


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
