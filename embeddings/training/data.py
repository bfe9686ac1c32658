"""Streamed training data: audio is decoded lazily, a few tracks at a time, into a bounded cache.

Nothing holds the spectrograms of the whole library. The pieces, in the order they are used:

- :func:`index_tracks` reads each file's duration from its header (no decoding) and plans its
  fragments and their train/validation split exactly as ``ctk embed`` does (same track id, same seed).
- :class:`BatchPlanner` decides, from indices only, which (track, fragment) items form each batch:
  groups (tracks, playlists or tags) are opened into a pool of ``pool_groups``; every step draws
  ``groups_per_batch`` of them (weighted by their unused fragments) and ``views`` unused fragments
  from each (of distinct tracks first); a group whose fragments are used up is closed and the next
  of the epoch's shuffled order is opened. Its whole state is a small dict, so a resumed run
  continues the same sequence.
- :class:`LogMelCache` decodes a track (``load_audio`` -> fragments -> ``log_mel``) on first use
  and keeps the last ``cache_tracks`` tracks' train fragments (float16) in an LRU.
- :class:`BatchStream` runs planner + cache in a background thread, one batch ahead of training.
- :func:`build_validation_set` decodes the held-out fragments (``split == "validation"``) of up to
  ``val_tracks`` tracks, plus one train fragment of each as a retrieval target.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from embeddings.audio import load_audio, read_tags
from embeddings.config import AudioConfig, FragmentConfig
from embeddings.errors import AudioDecodeError, ConfigError
from embeddings.fragments import TRAIN, VALIDATION, FragmentPlan, fragment_samples, plan_fragments
from embeddings.melspec import log_mel
from embeddings.training.distributed import World, shard


@dataclass(frozen=True)
class TrainTrack:
    """One usable training track: where it is, its fragment plan, and its tags."""

    path: str
    track_id: str
    duration_s: float
    starts: tuple[float, ...]
    splits: tuple[str, ...]
    genre: str = ""
    artist: str = ""
    title: str = ""

    def fragments(self, split: str) -> list[int]:
        """Indices of the fragments of ``split``."""
        return [i for i, s in enumerate(self.splits) if s == split]

    def plan(self, n_seconds: float) -> FragmentPlan:
        return FragmentPlan(starts=np.asarray(self.starts, dtype=np.float64), splits=self.splits, n_seconds=n_seconds)


def audio_duration(path: str | Path) -> float:
    """Duration in seconds from the file header (no decoding). Raises :class:`AudioDecodeError`."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioDecodeError(f"{path}: cannot read the header ({exc})") from exc
    if info.samplerate <= 0 or info.frames <= 0:
        raise AudioDecodeError(f"{path}: no audio frames")
    return info.frames / info.samplerate


def index_tracks(
    files: Sequence[tuple[str | Path, str]], *, fragments: FragmentConfig, with_tags: bool = False
) -> tuple[list[TrainTrack], list[tuple[str, str]]]:
    """Plan the fragments of ``(path, track_id)`` pairs; returns usable tracks and ``(path, reason)`` skips."""
    tracks, skipped = [], []
    for path, track_id in files:
        try:
            duration = audio_duration(path)
            plan = plan_fragments(duration, config=fragments, track_id=track_id)
        except AudioDecodeError as exc:
            skipped.append((str(path), str(exc)))
            continue
        tags = read_tags(path) if with_tags else {}
        tracks.append(
            TrainTrack(
                path=str(path),
                track_id=track_id,
                duration_s=duration,
                starts=tuple(float(s) for s in plan.starts),
                splits=plan.splits,
                genre=tags.get("genre", ""),
                artist=tags.get("artist", ""),
                title=tags.get("title", ""),
            )
        )
    return tracks, skipped


def decode_fragments(
    track: TrainTrack, indices: Sequence[int], *, audio: AudioConfig, fragments: FragmentConfig
) -> torch.Tensor:
    """Log-mels of the fragments ``indices`` of ``track``: ``(len(indices), n_mels, n_frames)`` float16.

    Computed exactly as ``ctk embed`` computes them (one ``log_mel`` per fragment).
    """
    decoded = load_audio(track.path, sr=audio.sample_rate)
    samples = fragment_samples(decoded.y, sr=audio.sample_rate, plan=track.plan(fragments.n_seconds))
    with torch.inference_mode():
        mels = log_mel(samples[list(indices)], config=audio)
    return mels.to(torch.float16)


class LogMelCache:
    """Train-fragment log-mels of the ``capacity`` most recently used tracks (LRU); thread-safe."""

    def __init__(
        self, tracks: Sequence[TrainTrack], *, audio: AudioConfig, fragments: FragmentConfig, capacity: int
    ) -> None:
        self.tracks, self.audio, self.fragments, self.capacity = tracks, audio, fragments, capacity
        self._items: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()
        self.decoded = 0
        #: tracks whose audio failed to decode (track number -> one-line reason); never retried
        self.failed: dict[int, str] = {}

    def get(self, track: int) -> torch.Tensor:
        """``(n_train_fragments, n_mels, n_frames)`` float16 of track number ``track``.

        Raises :class:`AudioDecodeError` (naming the file) when the track cannot be decoded; the
        failure is remembered in :attr:`failed` and raised again without a second decode.
        """
        with self._lock:
            if track in self._items:
                self._items.move_to_end(track)
                return self._items[track]
            if track in self.failed:
                raise AudioDecodeError(self.failed[track])
        item = self.tracks[track]
        try:
            mels = decode_fragments(item, item.fragments(TRAIN), audio=self.audio, fragments=self.fragments)
        except AudioDecodeError as exc:
            with self._lock:
                self.failed[track] = str(exc)
            raise
        with self._lock:
            self.decoded += 1
            self._items[track] = mels
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return mels

    def __len__(self) -> int:
        return len(self._items)


class BatchPlanner:
    """Which (track, train-fragment) items make each batch; indices only, fully seeded and resumable.

    ``groups`` are lists of track indices; ``n_train[t]`` is the number of train fragments of track
    ``t``. Every batch has ``groups_per_batch`` groups (fewer if the library has fewer) of ``views``
    items, a track never appearing in two groups of one batch.
    """

    def __init__(
        self,
        groups: Sequence[Sequence[int]],
        n_train: Sequence[int],
        *,
        groups_per_batch: int,
        views: int,
        pool_groups: int,
        max_tracks_per_group: int,
        seed: int,
        fragments_per_track: int = 1,
    ) -> None:
        self.groups = [[t for t in g if n_train[t] > 0] for g in groups]
        self.usable = [i for i, g in enumerate(self.groups) if g]
        if len(self.usable) < 2:
            raise ConfigError(
                f"only {len(self.usable)} group(s) with training fragments; contrastive training needs at least 2"
            )
        self.n_train = list(n_train)
        self.groups_per_batch = min(groups_per_batch, len(self.usable))
        self.views = views
        self.pool_groups = max(pool_groups, self.groups_per_batch)
        self.max_tracks = max_tracks_per_group
        self.per_track = fragments_per_track
        self.seed = seed
        self.epoch = 0
        #: each slot's group (its index in ``groups``) in the batch last planned: an identity across batches
        self.slot_groups: list[int] = []
        self._start_epoch(0)

    # ---------------------------------------------------------------- state
    def _start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.rng = np.random.default_rng([self.seed, epoch])
        self.order = [int(i) for i in self.rng.permutation(self.usable)]
        self.cursor = 0
        self.pool: list[dict[str, Any]] = []

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "order": list(self.order),
            "cursor": self.cursor,
            "pool": [
                {"group": p["group"], "members": list(p["members"]), "unused": list(p["unused"])} for p in self.pool
            ],
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.order = [int(i) for i in state["order"]]
        self.cursor = int(state["cursor"])
        self.pool = [
            {"group": p["group"], "members": [tuple(m) for m in p["members"]], "unused": list(p["unused"])}
            for p in state["pool"]
        ]
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng"]

    # ---------------------------------------------------------------- planning
    def steps_per_epoch(self) -> int:
        """Roughly how many batches one epoch gives (every train fragment drawn about once)."""
        items = 0
        for g in self.usable:
            tracks = self.groups[g][: self.max_tracks]
            items += max(self.views, sum(self.n_train[t] for t in tracks))
        return max(1, items // (self.groups_per_batch * self.views))

    def _open(self, group: int) -> dict[str, Any]:
        tracks = self.groups[group]
        if len(tracks) > self.max_tracks:
            tracks = [int(t) for t in self.rng.choice(tracks, self.max_tracks, replace=False)]
        members = [(t, f) for t in tracks for f in range(self.n_train[t])]
        unused = [int(i) for i in self.rng.permutation(len(members))]
        return {"group": group, "members": members, "unused": unused}

    def _fill_pool(self) -> None:
        while len(self.pool) < self.pool_groups and self.cursor < len(self.order):
            self.pool.append(self._open(self.order[self.cursor]))
            self.cursor += 1

    def _draw(self, entry: dict[str, Any], taken: set[int]) -> list[tuple[int, int]]:
        members, unused = entry["members"], entry["unused"]
        chosen: list[int] = []
        tracks_used: set[int] = set()
        n_tracks = max(1, self.views // self.per_track)
        for pos in list(unused):  # distinct tracks first (playlist/tag positives across tracks)
            if len(chosen) == n_tracks:
                break
            track = members[pos][0]
            if track not in tracks_used and track not in taken:
                chosen.append(pos)
                tracks_used.add(track)
        if self.per_track > 1:  # then more fragments of those tracks (mixed track + group positives)
            count = dict.fromkeys(tracks_used, 1)
            for pos in list(unused):
                if len(chosen) == self.views:
                    break
                track = members[pos][0]
                if pos not in chosen and count.get(track, self.per_track) < self.per_track:
                    chosen.append(pos)
                    count[track] += 1
        for pos in list(unused):
            if len(chosen) == self.views:
                break
            if pos not in chosen and members[pos][0] not in taken:
                chosen.append(pos)
        for pos in chosen:
            unused.remove(pos)
        allowed = [i for i, m in enumerate(members) if m[0] not in taken]
        while len(chosen) < self.views:  # group used up: reuse fragments, augmented differently
            chosen.append(int(allowed[int(self.rng.integers(len(allowed)))]))
        return [members[pos] for pos in chosen]

    def next_batch(self) -> tuple[list[tuple[int, int]], list[int]] | None:
        """``(items, group_slots)`` of the next batch, or ``None`` when the epoch is over.

        ``items`` are ``(track, train_fragment)`` pairs; items with equal ``group_slots`` are positives.
        :attr:`slot_groups` then names the group of each slot.
        """
        self._fill_pool()
        if len(self.pool) < self.groups_per_batch:
            return None
        # groups with more unused fragments are drawn more often, so the pool's groups run out together
        # and an epoch's tail wastes few fragments
        remaining = np.array([len(p["unused"]) for p in self.pool], dtype=np.float64)
        picked = sorted(
            int(i)
            for i in self.rng.choice(
                len(self.pool), self.groups_per_batch, replace=False, p=remaining / remaining.sum()
            )
        )
        items: list[tuple[int, int]] = []
        slots: list[int] = []
        taken: set[int] = set()
        for slot, index in enumerate(picked):
            entry = self.pool[index]
            members = [m for m in entry["members"] if m[0] not in taken]
            if not members:  # every track of this group already sits in another group of the batch
                continue
            drawn = self._draw(entry, taken)
            items += drawn
            slots += [slot] * len(drawn)
            taken |= {t for t, _ in drawn}
        self.slot_groups = [int(self.pool[index]["group"]) for index in picked]
        self.pool = [p for p in self.pool if p["unused"]]
        return items, slots

    def __iter__(self) -> Iterator[tuple[list[tuple[int, int]], list[int]]]:
        """Batches until the end of the current epoch; the next call starts the next epoch."""
        while (batch := self.next_batch()) is not None:
            yield batch
        self._start_epoch(self.epoch + 1)


@dataclass
class Batch:
    """One training batch: ``mels`` ``(B, n_mels, n_frames)`` float32, ``group_ids`` ``(B,)``, the track
    of each item, and the planner state right after this batch (what a checkpoint must save); ``fragments``:
    each item's train-fragment index within its track (with ``tracks``, the item's identity); ``groups``:
    each item's group as the planner numbers them (``group_ids`` are slots of this batch, ``groups`` compare
    across batches)."""

    mels: torch.Tensor
    group_ids: torch.Tensor
    tracks: torch.Tensor
    epoch: int
    planner_state: dict[str, Any]
    fragments: torch.Tensor | None = None
    #: whether some track has two items in the global batch (the track term of mixed positives needs one)
    repeats_tracks: bool = True
    groups: torch.Tensor | None = None


class BatchStream:
    """Iterate :class:`Batch` es of one epoch, prepared one batch ahead in a background thread.

    In a job of several processes (``world``) every process plans the same global batch and assembles
    only its contiguous share (:func:`~embeddings.training.distributed.shard`) of the planned items."""

    def __init__(
        self,
        planner: BatchPlanner,
        cache: LogMelCache,
        *,
        prefetch: int = 2,
        on_skip: Any = None,
        world: World | None = None,
    ) -> None:
        self.planner, self.cache, self.prefetch = planner, cache, prefetch
        self.world = world or World()
        self.on_skip = on_skip if on_skip is not None else (lambda message: None)
        self.reported: set[int] = set()

    def _assemble(
        self, items: list[tuple[int, int]], slots: list[int], slot_groups: list[int] | None = None
    ) -> Batch:
        """Decode the planned items. An item whose track fails to decode is replaced by another item of
        its group (a second augmented view of it), and a group left with none is dropped, so one bad file
        costs a few fragments, not the run; it is reported once (``on_skip``) and never decoded again.
        With several processes, only this process's share is decoded (a replacement comes from the share;
        the loss checks the global batch for positives). ``slot_groups`` (:attr:`BatchPlanner.slot_groups`)
        gives the batch its items' ``groups``."""
        repeats_tracks = len({t for t, _ in items}) < len(items)
        part = shard(len(items), self.world)
        items, slots = items[part], slots[part]
        decoded: dict[int, torch.Tensor] = {}
        for i, (t, f) in enumerate(items):
            try:
                decoded[i] = self.cache.get(t)[f]
            except AudioDecodeError as exc:
                if t not in self.reported:
                    self.reported.add(t)
                    self.on_skip(str(exc))
        keep: list[int] = []
        for i, slot in enumerate(slots):
            if i in decoded:
                keep.append(i)
                continue
            same = [j for j, s in enumerate(slots) if s == slot and j in decoded]
            if same:
                keep.append(same[len(keep) % len(same)])
        if self.world.size == 1 and len({slots[i] for i in keep}) < 2:
            raise ConfigError("fewer than 2 groups of this batch could be decoded; see the errors above")
        mels = torch.stack([decoded[i] for i in keep]).float()
        return Batch(
            mels=mels,
            group_ids=torch.tensor([slots[i] for i in keep], dtype=torch.long),
            tracks=torch.tensor([items[i][0] for i in keep], dtype=torch.long),
            epoch=self.planner.epoch,
            planner_state=self.planner.state_dict(),
            fragments=torch.tensor([items[i][1] for i in keep], dtype=torch.long),
            repeats_tracks=repeats_tracks,
            groups=None if slot_groups is None else torch.tensor([slot_groups[slots[i]] for i in keep]),
        )

    def epoch(self) -> Iterator[Batch]:
        out: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        done = object()

        def produce() -> None:
            try:
                while not stop.is_set():
                    planned = self.planner.next_batch()
                    if planned is None:
                        break
                    out.put(self._assemble(*planned, self.planner.slot_groups))
                else:
                    return
                out.put(done)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer and re-raised there
                out.put(exc)

        thread = threading.Thread(target=produce, name="ctk-batches", daemon=True)
        thread.start()
        try:
            while True:
                item = out.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                try:
                    out.get(timeout=0.05)
                except queue.Empty:
                    pass
        self.planner._start_epoch(self.planner.epoch + 1)


@dataclass
class ValidationSet:
    """Held-out fragments of some tracks plus one train fragment of each (as retrieval targets).

    ``mels`` ``(n, n_mels, n_frames)`` float16, ``tracks`` ``(n,)`` track index, ``is_query`` ``(n,)``
    True for the validation fragments (the queries of the retrieval metrics).
    """

    mels: torch.Tensor
    tracks: torch.Tensor
    is_query: torch.Tensor

    def __len__(self) -> int:
        return len(self.tracks)


def build_validation_set(
    tracks: Sequence[TrainTrack],
    *,
    audio: AudioConfig,
    fragments: FragmentConfig,
    max_tracks: int,
    seed: int,
) -> ValidationSet | None:
    """Decode the validation fragments of up to ``max_tracks`` tracks (chosen with ``seed``);
    ``None`` when no track has a validation fragment."""
    candidates = [i for i, t in enumerate(tracks) if t.fragments(VALIDATION) and t.fragments(TRAIN)]
    if not candidates or max_tracks == 0:
        return None
    rng = np.random.default_rng(seed)
    chosen = sorted(int(i) for i in rng.choice(candidates, min(max_tracks, len(candidates)), replace=False))
    mels, labels, queries = [], [], []
    for i in chosen:
        track = tracks[i]
        val = track.fragments(VALIDATION)
        target = track.fragments(TRAIN)[0]
        try:
            m = decode_fragments(track, [*val, target], audio=audio, fragments=fragments)
        except AudioDecodeError:
            continue
        mels.append(m)
        labels += [i] * (len(val) + 1)
        queries += [True] * len(val) + [False]
    if not mels:
        return None
    return ValidationSet(
        mels=torch.cat(mels),
        tracks=torch.tensor(labels, dtype=torch.long),
        is_query=torch.tensor(queries, dtype=torch.bool),
    )
