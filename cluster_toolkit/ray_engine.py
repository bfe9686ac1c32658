"""``ctk embed --engine ray``: the analysis of :mod:`cluster_toolkit.ingest` as a Ray Data pipeline.

The scan, the model checks, the lock, the batches and the store are the local engine's; only the work
list is analysed differently::

    the scan's work list ──> decode + log-mel ──> encoder + pooling ──> rows back to the driver ──> store
    (ray.data.from_items)    (CPU tasks)          (actor pool: one GPU     (iter_batches)          (the same
                                                   per actor if the                                 batches, parts
                                                   cluster has GPUs)                                and lock)

The driver writes the store's Parquet parts itself, through :class:`~cluster_toolkit.store.LibraryStore`
(``commit_batch``: one part per table, ``tracks`` last, under the library's lock), as the rows stream out
of Ray, so the store is in the local engine's format (the same tables, columns and parts) and every other
command reads it unchanged; a store elsewhere than the local disk is whatever ``LibraryStore`` opens. Only
the driver reads and writes the store: tasks and actors get paths and return rows, so they never contend for
the lock. With music on object storage (``ctk embed s3://bucket/audio``) the driver only lists: each decode
task downloads its object to a temporary file, hashes it and decodes it there
(:mod:`cluster_toolkit.object_ingest`), so the audio never passes through the driver.

Faults: a file that cannot be decoded or embedded comes back as a failed row with its reason (the same
row as the local engine's). Ray Data restarts an actor that dies and runs its batch again, and retries a
task whose worker died, so a killed worker costs time, not tracks; finished tracks are committed in
batches as they arrive, and a run that stops (Ctrl-C, a lost driver) resumes like the local engine:
the next scan finds the committed tracks and only the missing ones are analysed. Unlike the local engine,
a file that kills the process decoding it every time (a decoder crash, not an error) is not isolated: once
Ray's retries are spent the run stops with Ray's error, keeping what was committed. Rows travel between
stages as one pickled payload each (a track's mels, tags and plan), so Ray needs no Arrow schema for
ragged arrays or missing tags.
"""

from __future__ import annotations

import math
import os
import pickle
from dataclasses import replace
from typing import Any

import numpy as np

from cluster_toolkit.embed_workers import WorkItem, analysed_row, attempt, worker_backend
from cluster_toolkit.errors import CtkError, UsageError
from cluster_toolkit.ingest import EmbedConfig
from embeddings.config import AudioConfig, CoverageConfig, FragmentConfig

#: tracks per block of the work list (a decode task's unit): small, so rows stream out early
TRACKS_PER_BLOCK = 2
#: tracks per call of an encoder actor (their fragments are embedded together), at most a committed batch
TRACKS_PER_ENCODE = 8
#: fragments per forward pass of the encoder
FRAGMENTS_PER_PASS = 64
#: memory an encoder actor reserves (the model and a batch of mels; ctk-small needs ~0.3 GB)
ENCODER_MEMORY = 1 << 30


def require_ray() -> None:
    """Raise :class:`UsageError` unless Ray (the ``ctk[ray]`` extra) is installed."""
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"--engine ray needs Ray ({exc.name} is missing): pip install 'ctk[ray]'") from exc


def _decode(row: dict[str, Any], *, audio: AudioConfig, fragment: FragmentConfig,
            coverage: CoverageConfig, fs: Any = None) -> dict[str, Any]:
    """CPU task: decode one file's fragments and their log-mels, read its tags (or record why not); with
    ``fs``, the file is the object at the item's URL, downloaded by this task to a temporary file and hashed
    (:func:`~cluster_toolkit.object_audio.on_object_copy`), and the row may be a recognised track's."""
    from embeddings.inference import decode_track, fragment_mels
    from embeddings.tags import read_tags

    item: WorkItem = pickle.loads(row["item"])

    def decode(path: str, item: WorkItem) -> dict[str, Any]:
        decoded = decode_track(path, sr=audio.sample_rate, fragment_config=fragment, track_id=item.track_id,
                               coverage=coverage)
        mels = fragment_mels(decoded.samples, audio=audio)
        return {"decoded": replace(decoded, samples=mels[:0]), "mels": mels, "tags": read_tags(path)}

    if fs is not None:
        from cluster_toolkit.object_audio import on_object_copy

        done, ready, item = on_object_copy(item, fs, decode)
    else:
        done, ready = attempt(item, lambda: decode(item.path, item))
    payload = {"item": item, "ready": ready, **(done or {})}
    return {"track_id": item.track_id, "payload": pickle.dumps(payload, protocol=5)}


class _Encoder:
    """Actor: the model, loaded once (on the GPU when this actor has one), embedding decoded tracks."""

    def __init__(self, model: str) -> None:
        import torch

        from embeddings.backends import load_backend

        self.backend = load_backend(model, device="cuda" if torch.cuda.is_available() else "cpu")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from embeddings.inference import embed_mels, track_analysis

        tracks = [pickle.loads(p) for p in batch["payload"]]
        ok = [t for t in tracks if t["ready"] is None]
        if ok:  # one pass over every fragment of the batch; should it fail, each track alone (below)
            done, _ = attempt(ok[0]["item"], lambda: embed_mels(
                np.concatenate([t["mels"] for t in ok]), backend=self.backend, batch_size=FRAGMENTS_PER_PASS))
            if done is not None:
                for t, frag in zip(ok, np.split(done, np.cumsum([len(t["mels"]) for t in ok])[:-1])):
                    t["vectors"] = frag
        rows = []
        for t in tracks:
            if t["ready"] is not None:  # failed, or a stored track recognised (cluster_toolkit.object_ingest)
                rows.append(t["ready"])
                continue

            def analyse(t: dict[str, Any] = t) -> Any:
                frag = t.get("vectors")
                if frag is None:
                    frag = embed_mels(t["mels"], backend=self.backend, batch_size=FRAGMENTS_PER_PASS)
                return track_analysis(t["decoded"], frag, t["item"].path, self.backend)

            analysis, failed = attempt(t["item"], analyse)
            rows.append(failed or analysed_row(t["item"], analysis, t["tags"]))
        return {"track_id": np.array([r["track_id"] for r in rows], dtype=object),
                "payload": np.array([pickle.dumps(r, protocol=5) for r in rows], dtype=object)}


def _start_ray(workers: int) -> bool:
    """Connect to the cluster at ``RAY_ADDRESS``, or start a local Ray; returns whether this call started it.
    An already initialised Ray (a test's ``ray.init(num_cpus=2)``, a notebook's) is used as it is."""
    import ray

    if ray.is_initialized():
        return False
    address = os.environ.get("RAY_ADDRESS")
    try:
        if address:
            ray.init(log_to_driver=False)
        else:  # the actors hold a CPU each: keep one for the decode tasks
            ray.init(num_cpus=max(os.cpu_count() or 1, workers + 1), include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - Ray raises plain exceptions (a node that timed out starting...)
        where = f"the Ray cluster at RAY_ADDRESS={address}" if address else "a local Ray"
        raise CtkError(f"--engine ray: could not start or reach {where} ({exc})") from exc
    return True


def run_ray(work: list[WorkItem], config: EmbedConfig, take: Any, fs: Any = None) -> None:
    """Analyse ``work`` on Ray and hand each result row to ``take`` (the local engine's committer) as it
    arrives; a track Ray hands back twice (a batch run again after an actor died) is taken once. With ``fs``,
    the items are objects of that filesystem, which the decode tasks download themselves."""
    import ray
    import ray.data

    if config.workers < 1:
        raise UsageError("--engine ray needs --workers >= 1 (the number of encoder actors)")
    started = _start_ray(config.workers)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        cpus = ray.cluster_resources().get("CPU", 0)
        if not gpus and cpus < config.workers + 1:
            raise UsageError(f"--workers {config.workers} encoder actors and the decode tasks need "
                             f"{config.workers + 1} CPUs; this Ray cluster has {cpus:g}")
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        audio = worker_backend(config.model).audio  # the driver loaded the model to describe it
        items = [{"item": pickle.dumps(item, protocol=5)} for item in work]
        ds = ray.data.from_items(items, override_num_blocks=math.ceil(len(items) / TRACKS_PER_BLOCK))
        ds = ds.map(_decode, fn_kwargs={"audio": audio, "fragment": config.fragment, "coverage": config.coverage,
                                        "fs": fs}, num_cpus=1)
        # Ray Data restarts a dead actor and runs its batch again (its default max_restarts=-1). The actors'
        # memory reservation also keeps Ray from fusing the decode tasks into them (operators with other
        # resources are not fused): decoding stays in CPU tasks, off the GPU actors.
        ds = ds.map_batches(_Encoder, fn_constructor_kwargs={"model": config.model}, batch_format="numpy",
                            batch_size=min(TRACKS_PER_ENCODE, config.batch_size),
                            compute=ray.data.ActorPoolStrategy(size=config.workers),
                            num_cpus=1, num_gpus=1 if gpus else 0, memory=ENCODER_MEMORY)
        taken: set[str] = set()  # by path: two objects of the same content are the resolver's to tell apart
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for payload in batch["payload"]:
                row = pickle.loads(payload)
                if row["path"] not in taken:
                    taken.add(row["path"])
                    take(row)
    finally:
        if started:
            ray.shutdown()
