"""``embed_library``: analyse a music folder into a library store, incrementally.

The functional core of ``ctk embed``. It walks the folder, recognises files it has seen
(same path, size and mtime: no work; same content hash at a new path: moved, no work),
marks vanished files ``gone``, and analyses the rest in worker processes, committing each
batch to the store so that an interrupted run loses at most the batch in flight. The run holds
the library's writer lock from start to end, checks the store cheaply first and analyses again
tracks whose vectors were lost (see :mod:`cluster_toolkit.store.check`).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from cluster_toolkit.embed_workers import (
    WorkerPool,
    WorkItem,
    analyse_item,
    describe_backend,
    failed_row,
    new_pool,
)
from cluster_toolkit.errors import StoreError, UsageError
from cluster_toolkit.processes import signals_deferred, stop_pool
from cluster_toolkit.scanning import content_hash, iter_audio_files, path_id
from cluster_toolkit.store.check import CheckReport, check_store, quarantine_unreadable, repair_store_files
from cluster_toolkit.store.library_store import (
    STATUS_FAILED,
    STATUS_GONE,
    STATUS_OK,
    TRACK_COLUMNS,
    LibraryStore,
)
from cluster_toolkit.store.location import is_remote, library_location
from embeddings.backends import DEFAULT_BACKEND, load_backend, model_id
from embeddings.config import (
    EMBED_COVERAGE,
    EMBED_FRAGMENTS,
    LEGACY_COVERAGE,
    CoverageConfig,
    FragmentConfig,
    config_from_dict,
)


@dataclass(frozen=True)
class EmbedConfig:
    """Options of :func:`embed_library` (``ctk embed`` flags map onto these)."""

    model: str = DEFAULT_BACKEND
    workers: int = field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 8)))
    batch_size: int = 32
    commit_seconds: float = 20.0
    fragment: FragmentConfig = EMBED_FRAGMENTS
    coverage: CoverageConfig = EMBED_COVERAGE
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



# ---------------------------------------------------------------------------------- workers


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
        restored = [r for r in self.rows if r.get("_restored")]  # stored tracks recognised at a new URL
        if restored:  # their rows only: their vectors are in the store
            store.commit_batch(pd.DataFrame([{k: r.get(k) for k in TRACK_COLUMNS} for r in restored]))
        rows = [r for r in self.rows if not r.get("_restored")]
        if rows:
            self._write_analysed(store, rows)
        self.rows = []
        self.started = time.monotonic()

    @staticmethod
    def _write_analysed(store: LibraryStore, rows: list[dict[str, Any]]) -> None:
        tracks = pd.DataFrame([{k: r.get(k) for k in TRACK_COLUMNS} for r in rows])
        ok = [r for r in rows if r["status"] == STATUS_OK]
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
            made_by = store.meta.get("model_spec")
            keep = f"pass --model {made_by} to add to it, " if made_by and made_by != config.model else "pass "
            raise StoreError(
                f"{store.root}: was embedded with model {store.model_id}, this run uses {mid}; "
                f"{keep}--reembed to replace its embeddings, or use another --library"
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
    coverage = asdict(config.coverage)  # the latest run's, so `ctk embed` without options keeps it
    if (store.meta.get("fragment") != fragment or store.meta.get("model_spec") != config.model
            or store.meta.get("coverage") != coverage):
        store.update_meta(fragment=fragment, model_spec=config.model, coverage=coverage)
    return cleared


def _scan(
    music_dir: Path, store: LibraryStore, config: EmbedConfig, summary: EmbedSummary,
    reanalyse: frozenset[str] = frozenset(),
) -> tuple[pd.DataFrame, list[WorkItem], bool]:
    """Compare the folder with the store: returns the updated tracks table, the work, and
    whether any stored row changed. Tracks in ``reanalyse`` (ok tracks that lost their vectors)
    are analysed again."""
    tracks = store.all_tracks()
    by_path = {p: i for i, p in enumerate(tracks["path"])}
    by_id = {t: i for i, t in enumerate(tracks["track_id"])}
    seen_ids: set[str] = set()
    work: list[WorkItem] = []
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
                    work.append(WorkItem(tracks.at[i, "track_id"], spath, st.st_size, st.st_mtime))
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
            row = failed_row(WorkItem(path_id(spath), spath, 0, 0.0), reason)
            seen_ids.add(row["track_id"])
            unreadable.append(row)
            continue
        if tid in seen_ids:
            summary.duplicates += 1
            continue
        seen_ids.add(tid)
        j = by_id.get(tid)
        if j is None:
            work.append(WorkItem(tid, spath, st.st_size, st.st_mtime))
            continue
        if paths[j] != spath:
            summary.moved += 1
        if status[j] == STATUS_GONE:
            status[j] = STATUS_FAILED if pd.notna(tracks.at[j, "error"]) else STATUS_OK
        paths[j], sizes[j], mtimes[j] = spath, st.st_size, st.st_mtime
        changed = True
        if status[j] == STATUS_FAILED and config.retry_failed or tid in reanalyse:
            work.append(WorkItem(tid, spath, st.st_size, st.st_mtime))
        else:
            summary.skipped += 1
    root = str(music_dir.absolute()) + os.sep
    for i, tid in enumerate(tracks["track_id"]):
        if tid in seen_ids or status[i] == STATUS_GONE:
            continue
        # an object's URL is marked gone by a run over its own folder URL only
        if str(paths[i]).startswith(root) or not is_remote(str(paths[i])) and not Path(paths[i]).exists():
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
    *,
    pool: WorkerPool | None = None,
) -> EmbedSummary:
    """Analyse ``music_dir`` (a folder, or the URL of one on an fsspec filesystem: ``s3://bucket/audio``, see
    :mod:`cluster_toolkit.object_ingest`) into the store at ``library`` and return what was done.

    ``pool``: worker processes the caller started already for ``config.model`` and ``config.workers``
    (``ctk embed`` starts them before it imports the store, so that their start overlaps those imports);
    this call takes them over and stops them when it returns. Without it the workers are started here.

    Raises :class:`UsageError` for a missing folder, :class:`StoreError` for an unusable
    library, one made by another model or one another process is writing (the run holds the
    library's lock, waiting up to ``config.lock_wait_s`` for it), :class:`CheckpointError` for a
    bad model. A ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM as :class:`~cluster_toolkit.processes.Terminated`)
    commits what is finished, stops the workers, then propagates.
    """
    config = config or EmbedConfig()
    t0 = pool.started if pool is not None else time.monotonic()
    try:
        music = library_location(music_dir)
        if isinstance(music, Path):
            music = music.expanduser()
            if not music.is_dir():
                raise UsageError(f"{music}: no such folder")
        if config.engine == "ray":
            from cluster_toolkit.ray_engine import require_ray

            require_ray()  # before any work
        elif config.engine != "local":
            raise UsageError(f"unknown engine {config.engine!r}: use 'local' or 'ray'")
        wants_pool = config.workers > 0 and config.engine == "local"  # the Ray engine runs its own actors
        if pool is not None and (not wants_pool or (pool.model, pool.workers) != (config.model, config.workers)):
            raise ValueError(f"the started pool ({pool.model}, {pool.workers} workers) does not fit {config}")
        if pool is None and wants_pool:
            pool = WorkerPool(config.model, config.workers)  # starts while the folder is scanned
        store = LibraryStore.open(library, create=True, lock_wait_s=config.lock_wait_s)
        with store.writing(wait_s=config.lock_wait_s):
            _check_usable(store)
            summary, tracks, work, changed, objects = _survey(music, store, config)  # sets aside damaged parts only
            summary.started = t0
            summary.mark("scanned")
            description = pool.description() if pool is not None else describe_backend(config.model)
            if _adopt_model(store, *description, config):  # another model's analyses cleared: again
                summary, tracks, work, changed, objects = _survey(music, store, config)
                summary.started = t0
            summary.mark("model ready")
            summary.model_id = store.model_id or ""
            _analyse_work(store, tracks if changed else None, work, config, reporter or _NullReporter(), summary,
                          pool=pool, objects=objects)
            summary.seconds = time.monotonic() - t0
    finally:
        if pool is not None:
            pool.stop()
    return summary


def _survey(
    music: Path | str, store: LibraryStore, config: EmbedConfig
) -> tuple[EmbedSummary, pd.DataFrame, list[WorkItem], bool, Any]:
    """The cheap store checks (unreadable parts are set aside, tracks that lost their vectors are
    analysed again) and the scan of the folder (or the listing of the folder URL) against the store; with a
    URL, also the :class:`~cluster_toolkit.object_ingest.ObjectResults` of the run (else ``None``)."""
    summary = EmbedSummary(music_dir=str(music), library=str(store.root), model_id=store.model_id or "")
    report = check_store(store, deep=False)
    summary.quarantined = [str(p) for p in quarantine_unreadable(store, report)]
    lost = frozenset(report.tracks_without_vectors)
    objects = None
    if isinstance(music, Path):
        tracks, work, changed = _scan(music, store, config, summary, reanalyse=lost)
    else:
        from cluster_toolkit.object_audio import list_audio_objects, open_location
        from cluster_toolkit.object_ingest import scan_objects

        fs, root = open_location(music)
        listing = list_audio_objects(fs, root, exclude=str(store.root) if is_remote(store.root) else None)
        tracks, work, changed, objects = scan_objects(listing, fs, root, store, config, summary, reanalyse=lost)
    summary.repaired = sum(item.track_id in lost for item in work)
    return summary, tracks, work, changed, objects


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
        # analysed again as the store's tracks were: its fragments and its last run's coverage (stores without
        # them, from before those keys: the defaults of their time, 10 s fragments and 5 sampled)
        fragment = config_from_dict(FragmentConfig, store.meta.get("fragment") or {})
        coverage = config_from_dict(CoverageConfig, store.meta.get("coverage") or asdict(LEGACY_COVERAGE))
        config = EmbedConfig(model=spec, fragment=fragment, coverage=coverage,
                             **({"workers": workers} if workers is not None else {}))
        tracks = store.all_tracks().set_index("track_id")
        work = []
        for tid in report.tracks_without_vectors:
            row = tracks.loc[tid]
            if is_remote(row["path"]):
                result.not_repaired.append((row["path"], "on object storage: run `ctk embed` on its folder's URL"))
                continue
            try:
                st = os.stat(row["path"])
            except OSError as exc:
                result.not_repaired.append((row["path"], f"cannot read ({exc.strerror or exc})"))
                continue
            if st.st_size != row["size"] or st.st_mtime != row["mtime"]:
                result.not_repaired.append((row["path"], "changed since analysed: run `ctk embed` on its folder"))
                continue
            work.append(WorkItem(tid, row["path"], st.st_size, st.st_mtime))
        result.embed = EmbedSummary(music_dir="", library=str(store.root), model_id=store.model_id or "")
        result.embed.found = len(work)
        _analyse_work(store, None, work, config, reporter or _NullReporter(), result.embed)
    return result


def _analyse_work(
    store: LibraryStore,
    changed_tracks: pd.DataFrame | None,
    work: list[WorkItem],
    config: EmbedConfig,
    reporter: EmbedReporter,
    summary: EmbedSummary,
    pool: WorkerPool | None = None,
    objects: Any = None,
) -> None:
    """Analyse ``work`` into the store (the caller holds the lock), committing in batches (in the workers
    of ``pool`` if given, already started, else in new ones or, with ``config.workers`` 0, in this process).
    ``objects``: the :class:`~cluster_toolkit.object_ingest.ObjectResults` of work on object storage."""
    fs = objects.fs if objects is not None else None
    reporter.scanned(summary.found)
    if changed_tracks is not None:
        store.replace_tracks(changed_tracks)
    reporter.start(len(work))
    batch = _Batch()

    def take(result: dict[str, Any]) -> None:
        if "first track" not in summary.phases:
            summary.mark("first track")
        if objects is not None:
            path = result["path"]
            result = objects(result)
            if result is None or result.get("_restored"):  # a duplicate, a track recognised at a new URL
                if result is not None:
                    batch.add(result)
                reporter.track_done(path, None)
                return
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

            run_ray(work, config, take, fs=fs)
        elif work and pool is not None:
            _run_pool(work, config, take, pool.take(), fs=fs)
        elif config.workers <= 0 or len(work) <= 1:
            for item in work:
                take(analyse_item(item, config.model, config.fragment, config.coverage, fs))
        else:
            _run_pool(work, config, take, fs=fs)
        summary.mark("last track")
    except KeyboardInterrupt:
        summary.interrupted = True
        raise
    finally:
        commit()
        with signals_deferred():
            store.compact()
        summary.mark("done")


def _run_pool(work: list[WorkItem], config: EmbedConfig, take: Any, started: ProcessPoolExecutor | None = None,
              fs: Any = None) -> None:
    """Run :func:`analyse_item` over ``work`` in worker processes (``started``, else new ones), a bounded
    number in flight.

    A worker that dies (a decoder crash, the OOM killer) fails only the tracks in flight; the
    pool is restarted and the run goes on.
    """
    queue = list(reversed(work))
    while queue:
        pool, started = started or new_pool(config.model, config.workers), None
        in_flight: dict[Future, WorkItem] = {}
        try:
            while queue or in_flight:
                while queue and len(in_flight) < 2 * config.workers:
                    item = queue.pop()
                    in_flight[pool.submit(analyse_item, item, config.model, config.fragment, config.coverage,
                                          fs)] = item
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for fut in done:
                    result = fut.result()  # raises BrokenProcessPool if a worker died
                    del in_flight[fut]
                    take(result)
        except BrokenProcessPool:
            for item in in_flight.values():
                take(failed_row(item, "worker process died while analysing this file"))
            stop_pool(pool)
            continue
        except BaseException:  # Ctrl-C, SIGTERM, an error while committing: no worker is left behind
            stop_pool(pool)
            raise
        pool.shutdown(wait=True)


