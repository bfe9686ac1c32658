"""``train(...)``: the one training entry point, one loop, read top to bottom.

A run folder ``out_dir`` ends up holding::

    model.json, model.safetensors   the exported encoder (best validation loss; latest without validation)
    last/                           full model + heads + optimiser/scheduler/sampler/RNG state, to resume
    metrics.jsonl                   one JSON record per log step and per validation
    loss_curve.png                  train/validation loss and validation Recall@k against step

The pieces, in the order ``train`` uses them: :func:`load_data` (tracks, batches, validation set, the
data summary), :class:`TrainState` (model, optimiser, schedules, weight average, k-means term, sampler,
random streams, counters; it saves and loads itself), then :func:`train_epoch` / :func:`train_step`,
:func:`validate` and :func:`export` on a :class:`Run` (what a run keeps fixed: configs, data, loss, log).

Library code: it never prints; progress goes to the ``on_progress`` callback (the CLI draws a bar).
Fine-tuning: ``init_from`` starts from a trained checkpoint; ``TrainConfig.kmeans_weight > 0`` adds the
k-means term of :mod:`embeddings.training.kmeans_term` (centroids refitted each epoch) to the loss.
``TrainConfig.queue_size > 0`` adds MoCo's queue of past keys (:mod:`embeddings.training.queue`) to the loss.
Ctrl-C saves ``last/`` and returns with ``status="interrupted"``.
Several devices: run inside a process group (``torchrun``, ``ctk train --devices N``), ``train`` trains one
share of each global batch under DistributedDataParallel; :mod:`embeddings.training.distributed` says how.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from embeddings.augment import SpectrogramAugment
from embeddings.backends.features import FeaturesBackend
from embeddings.checkpoint import load_checkpoint, save_checkpoint
from embeddings.config import AudioConfig, FragmentConfig, TrainConfig
from embeddings.errors import CheckpointError, ConfigError
from embeddings.fragments import TRAIN, VALIDATION
from embeddings.losses import GroupedLoss, QueueInfoNCELoss, TagHeadLoss, build_loss, tag_metrics
from embeddings.lyrics.similarity import BatchLyricSimilarity
from embeddings.models import ContrastiveModel
from embeddings.models.config import EncoderConfig
from embeddings.positives import (
    PositiveGroups,
    folder_positives,
    playlist_positives,
    split_tags,
    tag_positives,
    tag_similarity,
    track_positives,
)
from embeddings.retrieval import retrieval_scores
from embeddings.training.data import (
    Batch,
    BatchPlanner,
    BatchStream,
    LogMelCache,
    TrainTrack,
    ValidationSet,
    build_validation_set,
    index_tracks,
)
from embeddings.training.descriptors import DescriptorHead, DescriptorTargets, descriptor_loss
from embeddings.training.distributed import (
    CrossDeviceLoss,
    World,
    agree,
    current_world,
    device_for,
    gather_objects,
    mean_over_processes,
    rank_seed,
    wrap_model,
)
from embeddings.training.kmeans_term import KMeansTerm
from embeddings.training.metrics_log import MetricsLog, plot_loss_curve, read_metrics
from embeddings.training.plan import LAST
from embeddings.training.queue import MomentumKeys

STATE = "train_state.pt"
#: TrainConfig fields a resumed run may change; anything else must match the saved run.
RESUMABLE_CHANGES = ("epochs", "max_steps", "patience", "val_every", "checkpoint_every", "log_every", "logger")


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    status: str  # "finished" | "early-stopped" | "interrupted"
    step: int
    epoch: int
    best: dict[str, Any] | None
    fragments_per_s: float
    data: dict[str, Any]
    collapse: dict[str, Any] | None = None  # k-means fine-tuning: {"before": ..., "after": ...} reports


def lr_factor(step: int, *, warmup: int, total: int, min_ratio: float, cosine: bool) -> float:
    """Multiplier of the base learning rate at ``step``: linear warm-up, then cosine to ``min_ratio`` (or 1)."""
    if step < warmup:
        return (step + 1) / warmup
    if not cosine:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def tracks_digest(tracks: Sequence[TrainTrack]) -> str:
    """Identity of a training set (its track ids, in order): a resume must see the same one."""
    return hashlib.blake2b("\n".join(t.track_id for t in tracks).encode(), digest_size=8).hexdigest()


def resolve_positives(
    kind: str, tracks: Sequence[TrainTrack], *, playlists_dir: str | Path | None = None
) -> PositiveGroups:
    """The positive groups of ``kind`` (``track``, ``playlist``, ``tag``, ``folder``) over ``tracks``."""
    if kind == "track":
        return track_positives(len(tracks))
    if kind == "folder":
        return folder_positives([t.path for t in tracks])
    if kind == "tag":
        return tag_positives([t.genre for t in tracks])
    if playlists_dir is None:
        raise ConfigError("--positives playlist needs --playlists DIR (a folder of .m3u/.m3u8/.json playlists)")
    return playlist_positives(
        [t.path for t in tracks],
        playlists_dir,
        artists=[t.artist for t in tracks],
        titles=[t.title for t in tracks],
    )


def tag_vocabulary(tracks: Sequence[TrainTrack], max_tags: int) -> list[str]:
    """The ``max_tags`` most frequent tags carried by at least two tracks (ties by name)."""
    counts: dict[str, int] = {}
    for t in tracks:
        for tag in split_tags(t.genre):
            counts[tag] = counts.get(tag, 0) + 1
    common = sorted((tag for tag, c in counts.items() if c >= 2), key=lambda tag: (-counts[tag], tag))
    return common[:max_tags]


def _decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on weight matrices and conv kernels only, not on biases, norms or position tables."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (decay if param.dim() >= 2 and not name.endswith("table") else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def initial_weights(path: str | Path, encoder: EncoderConfig) -> tuple[dict[str, torch.Tensor], bool]:
    """:class:`ContrastiveModel` weights to fine-tune from: the encoder of the checkpoint in ``path``, plus the
    projection head of ``path/last`` when that is a full checkpoint of the same encoder (a ``ctk train``
    folder); without one the head starts fresh. Returns the weights and whether the head was found."""
    checkpoint = load_checkpoint(path)
    if checkpoint.encoder != encoder:
        raise ConfigError(f"{path}: the checkpoint's encoder config differs from the one to train")
    state = {f"encoder.{k}": v for k, v in checkpoint.encoder_state_dict().items()}
    full = checkpoint
    if checkpoint.contents != "full" and (checkpoint.path / LAST / "model.json").is_file():
        full = load_checkpoint(checkpoint.path / LAST)
    if full.contents == "full" and full.encoder == encoder:
        state.update({k: v for k, v in full.state_dict.items() if k.startswith("head.")})
    return state, any(k.startswith("head.") for k in state)


def load_resume_configs(out_dir: str | Path) -> tuple[EncoderConfig, TrainConfig, AudioConfig, FragmentConfig, dict]:
    """The configs and data summary saved by an earlier run in ``out_dir`` (for ``--resume``)."""
    last = Path(out_dir) / LAST
    if not (last / STATE).is_file():
        raise CheckpointError(f"{out_dir}: nothing to resume (no {LAST}/{STATE}; was it a ctk train folder?)")
    checkpoint = load_checkpoint(last)
    if checkpoint.training is None:
        raise CheckpointError(f"{last}: the checkpoint records no training config")
    return checkpoint.encoder, checkpoint.training, checkpoint.audio, checkpoint.fragments, checkpoint.data


# ---------------------------------------------------------------------------------------------- data


@dataclass
class TrainData:
    """What the loop reads: the tracks, the batch planner (its position is part of :class:`TrainState`), the
    log-mel cache, the validation set, the tag targets, and the summary every checkpoint records.

    ``similarity(item_tracks)``: the ``(N, N)`` known similarity in [0, 1] of a batch's items, from their
    tracks; a :class:`GroupedLoss` with ``uses_similarity`` turns it into per-pair negative weights. Shared
    tags, lyric similarity or none, by ``TrainConfig.negative_weights``.
    """

    tracks: list[TrainTrack]
    n_train: list[int]
    planner: BatchPlanner
    cache: LogMelCache
    val_set: ValidationSet | None
    vocab: list[str]
    tag_targets: torch.Tensor
    summary: dict[str, Any]
    similarity: Callable[[torch.Tensor], torch.Tensor]


def load_data(
    files: Sequence[tuple[str | Path, str]],
    *,
    config: TrainConfig,
    audio: AudioConfig,
    fragments: FragmentConfig,
    playlists_dir: str | Path | None,
    emit: Callable[[dict[str, Any]], None],
) -> TrainData:
    """Index ``files``, group them into positives, plan the batches and decode the validation set."""
    emit({"event": "indexing", "n_files": len(files)})
    tracks, skipped = index_tracks(
        files,
        fragments=fragments,
        with_tags=config.positives != "track" or config.tag_weight > 0 or config.loss == "soft-infonce",
    )
    if len(tracks) < 2:
        raise ConfigError(f"need at least 2 usable tracks to train, found {len(tracks)} ({len(skipped)} skipped)")
    positives = resolve_positives(config.positives, tracks, playlists_dir=playlists_dir)
    n_train = [len(t.fragments(TRAIN)) for t in tracks]
    planner = BatchPlanner(
        positives.groups,
        n_train,
        groups_per_batch=config.groups_per_batch,
        views=config.views,
        pool_groups=config.pool_groups,
        max_tracks_per_group=config.max_tracks_per_group,
        seed=config.seed,
        fragments_per_track=config.fragments_per_track,
    )
    vocab = tag_vocabulary(tracks, config.max_tags) if config.tag_weight > 0 else []
    tag_targets = torch.zeros(len(tracks), len(vocab))
    for i, t in enumerate(tracks):
        for tag in split_tags(t.genre):
            if tag in vocab:
                tag_targets[i, vocab.index(tag)] = 1.0
    summary = {
        "n_tracks": len(tracks),
        "n_skipped": len(skipped),
        "n_train_fragments": int(sum(n_train)),
        "n_validation_fragments": int(sum(len(t.fragments(VALIDATION)) for t in tracks)),
        "hours": round(sum(t.duration_s for t in tracks) / 3600, 3),
        "positives": positives.summary(),
        "tracks_digest": tracks_digest(tracks),
        "tags": vocab,
    }
    emit({"event": "validation-set"})
    val_set = build_validation_set(
        tracks, audio=audio, fragments=fragments, max_tracks=config.val_tracks, seed=config.seed
    )
    summary["n_validation_tracks"] = 0 if val_set is None else int(val_set.tracks.unique().numel())

    def tag_overlap(item_tracks: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(tag_similarity([tracks[int(t)].genre for t in item_tracks]))

    def no_similarity(item_tracks: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(item_tracks), len(item_tracks))

    similarity: Callable[[torch.Tensor], torch.Tensor] = tag_overlap
    if config.loss == "soft-infonce" and config.negative_weights == "lyrics":
        emit({"event": "lyrics", "n_tracks": len(tracks)})
        similarity = BatchLyricSimilarity.from_paths([t.path for t in tracks])
        summary["n_tracks_with_lyrics"] = similarity.n_with_lyrics
    elif config.negative_weights == "none":
        similarity = no_similarity

    return TrainData(
        tracks=tracks,
        n_train=n_train,
        planner=planner,
        cache=LogMelCache(tracks, audio=audio, fragments=fragments, capacity=config.cache_tracks),
        val_set=val_set,
        vocab=vocab,
        tag_targets=tag_targets,
        summary=summary,
        similarity=similarity,
    )


# ---------------------------------------------------------------------------------------------- state


class TrainState:
    """Everything that changes while training and that a resumed run restores: the model and its
    optimiser, the learning-rate schedules, the weight average, the k-means term, the key encoder and queue of
    past keys, the batch sampler, the random streams (augmentation, loss sampling, torch's global one), the
    step and the best validation.

    :meth:`save` writes it into a run's ``last/`` folder (the full checkpoint plus ``train_state.pt``),
    :meth:`load` reads it back. Throughput counters and the last validation are kept for the run at hand
    only.
    """

    def __init__(
        self, config: TrainConfig, model: ContrastiveModel, planner: BatchPlanner, *, n_train: Sequence[int]
    ) -> None:
        self.config, self.model, self.planner = config, model, planner
        self.net: nn.Module = model  # what the training forward goes through (DistributedDataParallel(model))
        self.aux_head = None  # the descriptor head: trained and resumed with the model, never exported
        groups = _decay_groups(model, config.weight_decay)
        if config.aux_descriptors > 0:
            n_descriptors = FeaturesBackend().dim
            device = next(model.parameters()).device
            self.aux_head = DescriptorHead(model.config.embedding_dim, n_descriptors).to(device)
            groups += _decay_groups(self.aux_head, config.weight_decay)
        self.optimizer = torch.optim.AdamW(groups, lr=config.lr)
        self.total_steps = config.max_steps or config.epochs * planner.steps_per_epoch()
        self.warmup = min(config.warmup_steps, max(0, self.total_steps // 4)) if config.warmup_steps else 0
        cosine = config.schedule == "cosine"
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: lr_factor(
                step, warmup=self.warmup, total=self.total_steps, min_ratio=config.min_lr_ratio, cosine=cosine
            ),
        )
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, factor=0.5, patience=2)
        self.aug_rng = torch.Generator().manual_seed(config.seed + 1)
        self.loss_rng = torch.Generator().manual_seed(config.seed + 2)
        self.ema = None
        if config.ema_decay > 0:
            self.ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
        self.keys = None  # MoCo's key encoder and queue of past keys
        if config.queue_size > 0:
            self.keys = MomentumKeys(model, size=config.queue_size, momentum=config.queue_momentum)
        self.kmeans = None
        if config.kmeans_weight > 0:
            self.kmeans = KMeansTerm(
                k=config.kmeans_k,
                weight=config.kmeans_weight,
                max_fragments=config.kmeans_fragments,
                seed=config.seed,
                n_train=n_train,
                kind=config.cluster_loss,
            )
        self.step, self.best, self.bad_validations = 0, None, 0
        self.snapshot = planner.state_dict()  # the sampler's state after the last batch trained on
        self.last_val_step, self.latest = -1, None  # the last validation: its step and its record
        self.items, self.train_time = 0, 0.0
        self.started = self.tick = time.perf_counter()  # tick: end of the previous step (waits for data count)

    @property
    def scored(self) -> ContrastiveModel:
        """The weights that are validated and exported: the moving average when there is one."""
        return self.model if self.ema is None else self.ema.module

    @property
    def epoch(self) -> int:
        return int(self.snapshot["epoch"])

    @property
    def rate(self) -> float:
        """Training fragments per second of this session (data waits included)."""
        return self.items / self.train_time if self.train_time > 0 else 0.0

    def state_dict(self) -> dict[str, Any]:
        state = {
            "step": self.step,
            "total_steps": self.total_steps,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "plateau": self.plateau.state_dict(),
            "planner": self.snapshot,
            "aug_rng": self.aug_rng.get_state(),
            "loss_rng": self.loss_rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "best": self.best,
            "bad_validations": self.bad_validations,
            "kmeans": None if self.kmeans is None else self.kmeans.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "aux_head": None if self.aux_head is None else self.aux_head.state_dict(),
        }
        if self.keys is not None:  # only with a queue: a run without one saves what it always did
            state["keys"] = self.keys.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], *, saved: TrainConfig) -> None:
        """Restore ``state`` (of a run trained with ``saved``); a longer run recomputes its total steps."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.plateau.load_state_dict(state["plateau"])
        self.planner.load_state_dict(state["planner"])
        self.snapshot = self.planner.state_dict()
        self.aug_rng.set_state(state["aug_rng"])
        self.loss_rng.set_state(state["loss_rng"])
        torch.set_rng_state(state["torch_rng"])
        self.step, self.best, self.bad_validations = state["step"], state["best"], state["bad_validations"]
        if self.kmeans is not None:
            self.kmeans.load_state_dict(state["kmeans"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        if self.aux_head is not None:
            self.aux_head.load_state_dict(state["aux_head"])
        if self.keys is not None:
            self.keys.load_state_dict(state["keys"])
        config = self.config
        self.total_steps = state["total_steps"] if config.max_steps is None else config.max_steps
        if config.epochs != saved.epochs and config.max_steps is None:
            self.total_steps = config.epochs * self.planner.steps_per_epoch()

    def save(self, directory: Path, *, extra: dict[str, Any], **checkpoint: Any) -> None:
        """Write the full model (a checkpoint with ``checkpoint``'s fields) and the rest of the state."""
        save_checkpoint(
            directory, module=self.model, contents="full", step=self.step, epoch=self.epoch, **checkpoint
        )
        tmp = directory / f".{STATE}.tmp"
        torch.save({**self.state_dict(), **extra}, tmp)
        os.replace(tmp, directory / STATE)

    @staticmethod
    def read(directory: Path) -> dict[str, Any]:
        """The state :meth:`save` wrote in ``directory`` (with its ``extra`` fields), not yet applied."""
        return torch.load(directory / STATE, weights_only=False)

    def load(self, directory: Path, state: dict[str, Any], *, saved: TrainConfig) -> None:
        """Restore the model saved in ``directory`` and ``state`` (:meth:`read` from there)."""
        self.model.load_state_dict(load_checkpoint(directory).state_dict)
        self.load_state_dict(state, saved=saved)


# ---------------------------------------------------------------------------------------------- the run


@dataclass
class Run:
    """What a run keeps fixed: where it writes, its configs and data, its losses, its log and callback."""

    out_dir: Path
    name: str
    config: TrainConfig
    encoder: EncoderConfig
    audio: AudioConfig
    fragments: FragmentConfig
    data: TrainData
    device: str
    log: MetricsLog
    emit: Callable[[dict[str, Any]], None]
    world: World = field(default_factory=World)
    loss_fn: GroupedLoss = field(init=False)
    cross_loss: CrossDeviceLoss = field(init=False)  # the loss of the global batch (several processes)
    tag_loss: TagHeadLoss = field(init=False)
    queue_loss: QueueInfoNCELoss | None = field(init=False)  # with a queue of past keys (one process)
    augment: SpectrogramAugment = field(init=False)
    descriptors: DescriptorTargets | None = field(init=False)

    def __post_init__(self) -> None:
        self.descriptors = DescriptorTargets(self.audio) if self.config.aux_descriptors > 0 else None
        self.loss_fn = build_loss(self.config.loss, **self.config.loss_params)
        self.cross_loss = CrossDeviceLoss(self.loss_fn, self.data.similarity)
        self.tag_loss = TagHeadLoss()
        self.queue_loss = QueueInfoNCELoss(**self.config.loss_params) if self.config.queue_size > 0 else None
        self.augment = SpectrogramAugment(replace(self.config.augment))

    def autocast(self) -> torch.autocast:
        """bfloat16 autocast on a GPU; plain float32 on a CPU."""
        if self.device.startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def checkpoint_fields(self) -> dict[str, Any]:
        """The self-description every checkpoint of this run carries."""
        return {
            "name": self.name,
            "encoder": self.encoder,
            "audio": self.audio,
            "fragments": self.fragments,
            "training": self.config,
            "data": self.data.summary,
            "n_tags": len(self.data.vocab),
        }

    def write(self, record: dict[str, Any], event: str) -> None:
        """A metrics record to the log and, as ``event``, to the progress callback."""
        self.log.write(record)
        self.emit({"event": event, **record})


def contrastive_loss(
    run: Run, z: torch.Tensor, group_ids: torch.Tensor, item_tracks: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """The run's grouped loss of projections ``z`` whose items come from tracks ``item_tracks``."""
    similarity = run.data.similarity(item_tracks) if run.loss_fn.uses_similarity else None
    return run.loss_fn(z, group_ids, similarity, generator=generator)


def save_last(run: Run, state: TrainState) -> None:
    """The resumable checkpoint in ``out_dir/last`` (written by rank 0, with every rank's random streams)."""
    streams = gather_objects({"aug_rng": state.aug_rng.get_state(), "torch_rng": torch.get_rng_state()})
    if not run.world.main:
        return
    extra = {"tracks_digest": run.data.summary["tracks_digest"], "n_tracks": len(run.data.tracks)}
    if run.world.size > 1:
        extra["rank_streams"] = streams
    state.save(run.out_dir / LAST, extra=extra, **run.checkpoint_fields())


def export(run: Run, state: TrainState, metrics: dict[str, Any] | None, epoch: int) -> None:
    """The encoder alone (the moving average when there is one) in ``out_dir``: what ``ctk embed`` loads."""
    if not run.world.main:
        return
    save_checkpoint(
        run.out_dir,
        module=state.scored.encoder,
        contents="encoder",
        step=state.step,
        epoch=epoch,
        metrics=metrics,
        **run.checkpoint_fields(),
    )


def refit_kmeans(run: Run, state: TrainState, kmeans: KMeansTerm, epoch: int, *, final: bool = False) -> dict:
    """Refit the k-means term's centroids on the training embeddings (the collapse check comes with it)."""
    run.emit({"event": "kmeans-fit", "epoch": epoch, "n_fragments": len(kmeans.items)})
    report = kmeans.refit(
        state.model, run.data.cache, epoch=epoch, batch_size=run.config.batch_size, device=run.device
    )
    record = {"kind": "kmeans", "step": state.step, "epoch": epoch, "final": final, **report}
    run.write(record, "kmeans")
    return record


def validate(run: Run, state: TrainState, epoch: int) -> dict[str, Any] | None:
    """Validation loss, same-track Recall@k and tag metrics of the held-out fragments (``None``: no set).
    With several processes rank 0 validates and every process gets its record."""
    if run.data.val_set is None:
        return None
    if run.world.size > 1:
        return agree(_validate(run, state, epoch) if run.world.main else None)
    return _validate(run, state, epoch)


def _validate(run: Run, state: TrainState, epoch: int) -> dict[str, Any]:
    val_set, config = run.data.val_set, run.config
    net = state.scored
    net.eval()
    embeddings, projections = [], []
    with torch.no_grad(), run.autocast():
        for i in range(0, len(val_set), config.batch_size):
            e, p = net(val_set.mels[i : i + config.batch_size].float().to(run.device))
            embeddings.append(e.float().cpu())
            projections.append(p.float().cpu())
    emb, proj = torch.cat(embeddings), torch.cat(projections)
    losses, generator = [], torch.Generator().manual_seed(config.seed)
    labels = val_set.tracks
    ends = torch.nonzero(torch.diff(labels)).flatten().add(1).tolist() + [len(labels)]  # track boundaries
    start = 0
    for end in ends:  # chunks of whole tracks, about one batch each
        if end - start >= config.batch_size or end == len(labels):
            chunk = slice(start, end)
            if labels[chunk].unique().numel() >= 2:
                losses.append(float(contrastive_loss(run, proj[chunk], labels[chunk], labels[chunk], generator)))
            start = end
    record: dict[str, Any] = {"kind": "val", "step": state.step, "epoch": epoch}
    record["val_loss"] = config.contrastive_weight * float(np.mean(losses)) if losses else float("nan")
    if state.kmeans is not None and state.kmeans.centroids is not None:
        record["val_contrastive_loss"] = float(np.mean(losses)) if losses else float("nan")
        record["val_kmeans_loss"] = float(state.kmeans.loss(emb))
        record["val_loss"] += config.kmeans_weight * record["val_kmeans_loss"]
    if state.aux_head is not None:  # how well the head reads the descriptors of unseen fragments
        keys = [("validation", i) for i in range(len(val_set))]
        with torch.no_grad():
            record["val_descriptor_loss"] = float(
                descriptor_loss(state.aux_head, emb.to(run.device), run.descriptors.targets(val_set.mels, keys)))
    scores = retrieval_scores(emb.numpy(), labels.numpy(), ks=(1, 5, 10), queries=val_set.is_query.numpy())
    record.update({k: v for k, v in scores.items() if k.startswith("recall@")})
    if net.tag_head is not None:
        with torch.no_grad():
            logits = net.tag_head(emb.to(run.device)).float().cpu()
        targets = run.data.tag_targets[labels]
        tagged = targets.sum(dim=1) > 0
        if bool(tagged.any()):
            record.update({f"tag_{k}": v for k, v in tag_metrics(logits[tagged], targets[tagged]).items()})
    state.model.train()
    return record


def after_validation(run: Run, state: TrainState, record: dict[str, Any] | None, epoch: int) -> bool:
    """Log, export the best model, step the plateau schedule; True when early stopping says stop."""
    state.last_val_step, state.latest = state.step, record
    if record is None:
        export(run, state, None, epoch)
        return False
    run.write(record, "validation")
    config = run.config
    if config.schedule == "plateau" and state.step >= state.warmup and math.isfinite(record["val_loss"]):
        state.plateau.step(record["val_loss"])
    best = state.best
    if best is None or (math.isfinite(record["val_loss"]) and record["val_loss"] < best["val_loss"]):
        state.best, state.bad_validations = record, 0
        export(run, state, record, epoch)
    else:
        state.bad_validations += 1
    return config.patience > 0 and state.bad_validations >= config.patience


def local_crops(run: Run, state: TrainState, batch: Batch) -> torch.Tensor | None:
    """``local_crops`` augmented crops of half the crop length of every item, ``(N * B, n_mels, T / 2)``
    (all the first crops, then all the second...), or ``None`` without multi-crop."""
    n = run.config.local_crops
    if n == 0:
        return None
    full = run.config.augment.crop_frames or batch.mels.shape[-1]
    augment = SpectrogramAugment(replace(run.config.augment, crop_frames=max(1, full // 2)))
    crops = [augment.batch(batch.mels, generator=state.aug_rng, group_ids=batch.group_ids) for _ in range(n)]
    return torch.cat(crops).to(run.device)


def train_step(run: Run, state: TrainState, batch: Batch) -> dict[str, Any]:
    """One optimiser step on ``batch``; returns the step's numbers (loss, its terms, gradient norm)."""
    config, model, kmeans = run.config, state.model, state.kmeans
    descriptors = None
    if state.aux_head is not None:  # descriptors of the whole un-augmented fragments (cached)
        descriptors = run.descriptors.targets(batch.mels, list(zip(batch.tracks.tolist(), batch.fragments.tolist())))
    mels = run.augment.batch(batch.mels, generator=state.aug_rng, group_ids=batch.group_ids).to(run.device)
    group_ids = batch.group_ids.to(run.device)
    local = local_crops(run, state, batch)
    terms: dict[str, torch.Tensor] = {}
    with run.autocast():
        embeddings, projections = state.net(mels)
        z = projections.float()
        items, item_tracks = group_ids, batch.tracks
        if local is not None:  # multi-crop: the local crops are more items of their groups
            z = torch.cat([z, state.net(local)[1].float()])
            items = group_ids.repeat(1 + config.local_crops)
            item_tracks = batch.tracks.repeat(1 + config.local_crops)
        if state.keys is None:
            terms["contrastive_loss"] = run.cross_loss(z, items, item_tracks, generator=state.loss_rng)
        else:  # MoCo: earlier batches' keys join the candidates, matched by the groups' global numbers
            keys, groups, queue = state.keys.encode(mels), batch.groups.to(run.device), state.keys.queue
            anchor_groups = groups.repeat(1 + config.local_crops)  # the local crops' groups too
            terms["contrastive_loss"] = run.queue_loss(z, anchor_groups, queue.keys, queue.ids)
        loss = config.contrastive_weight * terms["contrastive_loss"]
        if config.track_weight > 0 and batch.repeats_tracks:  # mixed positives: each track its own group too
            terms["track_loss"] = run.cross_loss(z, item_tracks.to(run.device), item_tracks, generator=state.loss_rng)
            loss = loss + config.track_weight * terms["track_loss"]
        if kmeans is not None:
            terms["kmeans_loss"] = kmeans.loss(embeddings.float())
            loss = loss + config.kmeans_weight * terms["kmeans_loss"]
        if descriptors is not None:
            terms["descriptor_loss"] = descriptor_loss(state.aux_head, embeddings.float(), descriptors)
            loss = loss + config.aux_descriptors * terms["descriptor_loss"]
        if model.tag_head is not None:
            targets = run.data.tag_targets[batch.tracks].to(run.device)
            tagged = targets.sum(dim=1) > 0
            if bool(tagged.any()):
                logits = model.tag_head(embeddings[tagged]).float()
                loss = loss + config.tag_weight * run.tag_loss(logits, targets[tagged])
            elif run.world.size > 1:  # DDP waits for a gradient of every parameter on every process
                loss = loss + 0.0 * model.tag_head(embeddings).sum()
    if not torch.isfinite(loss):
        raise ConfigError(f"the loss became {float(loss)} at step {state.step}; lower --lr (now {config.lr})")
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
    state.optimizer.step()
    if state.ema is not None:
        state.ema.update_parameters(model)
    if state.keys is not None:  # the key encoder follows the weights; this batch's keys join the queue
        state.keys.update(model)
        state.keys.push(keys, groups)
    if config.schedule == "cosine" or state.step < state.warmup:
        state.scheduler.step()
    state.step += 1
    state.snapshot = batch.planner_state
    state.items += len(batch.mels) * run.world.size
    state.train_time += time.perf_counter() - state.tick
    numbers = {"loss": float(loss.detach()), "grad_norm": float(grad_norm)}
    if len(terms) > 1:  # the terms are logged when there is more than one
        numbers.update({k: float(v.detach()) for k, v in terms.items()})
    return mean_over_processes(numbers, run.device)


def train_epoch(run: Run, state: TrainState, stream: BatchStream) -> str:
    """Train until the end of the sampler's epoch: ``"next"``, or why the run stops (``"finished"`` at
    ``max_steps``, ``"early-stopped"``). Logs, validates and checkpoints on the way."""
    config = run.config
    for batch in stream.epoch():
        numbers = train_step(run, state, batch)
        lr = state.optimizer.param_groups[0]["lr"]
        progress = {"step": state.step, "epoch": batch.epoch, "loss": numbers["loss"], "lr": lr}
        if state.step % config.log_every == 0:
            record = {
                "kind": "train",
                **progress,
                **numbers,
                "fragments_per_s": state.rate,
                "elapsed_s": time.perf_counter() - state.started,
                "decoded_tracks": run.data.cache.decoded,
            }
            run.write(record, "log")
        # after logging: a Ctrl-C here loses nothing
        run.emit({"event": "step", **progress, "total_steps": state.total_steps, "fragments_per_s": state.rate})
        stop = state.step % config.val_every == 0 and after_validation(
            run, state, validate(run, state, batch.epoch), batch.epoch
        )
        if state.step % config.checkpoint_every == 0:
            save_last(run, state)
        if stop:
            return "early-stopped"
        if config.max_steps is not None and state.step >= config.max_steps:
            return "finished"
        state.tick = time.perf_counter()
    state.snapshot = state.planner.state_dict()  # the stream finished the epoch: the planner moved on
    ended = state.planner.epoch - 1
    stop = state.step - state.last_val_step >= max(1, config.val_every // 2) and after_validation(
        run, state, validate(run, state, ended), ended
    )
    state.tick = time.perf_counter()
    return "early-stopped" if stop else "next"


def finish(run: Run, state: TrainState, status: str) -> TrainResult:
    """Validate and export the final model, save ``last/``, close the log and draw the loss curve."""
    epoch = state.epoch
    if status != "interrupted" and state.last_val_step != state.step:
        after_validation(run, state, validate(run, state, epoch), epoch)
    collapse, kmeans = None, state.kmeans
    if kmeans is not None and status != "interrupted":
        after = refit_kmeans(run, state, kmeans, epoch, final=True)
        collapse = {
            "before": kmeans.before,
            "after": {k: v for k, v in after.items() if k not in ("kind", "final", "step", "epoch")},
        }
        kmeans.epoch = -1  # the final fit is no epoch's centroids: a longer resumed run refits
        # validation losses of different epochs use different centroids: the fine-tuned model is the final one
        export(run, state, state.latest, epoch)
    save_last(run, state)
    if run.data.val_set is None and status == "interrupted":
        export(run, state, None, epoch)
    run.log.close()
    records = read_metrics(run.log.path) if run.world.main else []
    if records:
        plot_loss_curve(records, run.out_dir / "loss_curve.png")
    run.emit({"event": "end", "status": status, "step": state.step})
    return TrainResult(
        out_dir=run.out_dir,
        status=status,
        step=state.step,
        epoch=epoch,
        best=state.best,
        fragments_per_s=state.rate,
        data=run.data.summary,
        collapse=collapse,
    )


def _check_resume(
    out_dir: Path, encoder: EncoderConfig, config: TrainConfig, audio: AudioConfig, fragments: FragmentConfig
) -> TrainConfig:
    """Refuse a resume whose configs differ from the saved run's (but for :data:`RESUMABLE_CHANGES`);
    returns the saved run's training config."""
    saved_encoder, saved_config, saved_audio, saved_fragments, _ = load_resume_configs(out_dir)
    for label, ours, theirs in (
        ("encoder", encoder, saved_encoder),
        ("audio", audio, saved_audio),
        ("fragments", fragments, saved_fragments),
    ):
        if ours != theirs:
            raise ConfigError(f"--resume: the {label} config differs from the saved run in {out_dir}")
    saved = asdict(saved_config)
    changed = [k for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES and saved[k] != v]
    if changed:
        raise ConfigError(f"--resume: cannot change {', '.join(changed)} of the saved run in {out_dir}")
    return saved_config


def train(
    files: Sequence[tuple[str | Path, str]],
    *,
    out_dir: str | Path,
    encoder: EncoderConfig | None = None,
    config: TrainConfig | None = None,
    audio: AudioConfig | None = None,
    fragments: FragmentConfig | None = None,
    playlists_dir: str | Path | None = None,
    source_dir: str | Path | None = None,
    name: str | None = None,
    init_from: str | Path | None = None,
    resume: bool = False,
    device: str | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train an encoder contrastively on ``files`` (``(path, track_id)`` pairs) into ``out_dir``.

    With ``resume=True`` the run continues from ``out_dir/last``: model, optimiser, scheduler, sampler
    position and random states are restored, so the remaining steps are the ones an uninterrupted run
    would have taken. The encoder, audio and fragment configs must then match the saved ones.
    ``source_dir`` (the music folder) and ``playlists_dir`` are recorded in the checkpoint's data summary.
    ``init_from`` (a model spec, see :func:`initial_weights`) replaces the random initialisation;
    a resumed run ignores it (its weights come from ``out_dir/last``).
    """
    out_dir = Path(out_dir)
    encoder, config = encoder or EncoderConfig(), config or TrainConfig()
    audio, fragments = audio or AudioConfig(), fragments or FragmentConfig()
    if encoder.n_mels != audio.n_mels:
        raise ConfigError(f"encoder n_mels={encoder.n_mels} but the audio front end gives n_mels={audio.n_mels}")
    saved_config = _check_resume(out_dir, encoder, config, audio, fragments) if resume else None
    world = current_world()  # one process of one, or of a distributed job (only rank 0 reports and writes)
    if world.size > 1 and config.queue_size > 0:  # each process would queue only its share's keys
        raise ConfigError("--queue trains on one process only (the queue would hold one process's keys); drop "
                          "--devices or --queue")
    emit = on_progress or (lambda event: None)
    if not world.main:  # the others only report the files of their share that they could not decode

        def emit(event: dict[str, Any], report: Callable[[dict[str, Any]], None] = emit) -> None:
            if event.get("event") == "skip":
                report(event)


    data = load_data(files, config=config, audio=audio, fragments=fragments, playlists_dir=playlists_dir, emit=emit)
    data.summary["music_dir"] = str(source_dir) if source_dir is not None else None
    data.summary["playlists_dir"] = str(playlists_dir) if playlists_dir is not None else None
    if init_from is not None:
        data.summary["init_from"] = str(init_from)

    saved = TrainState.read(out_dir / LAST) if saved_config is not None else None
    if saved is not None and saved["tracks_digest"] != data.summary["tracks_digest"]:
        raise ConfigError(
            f"--resume: the training tracks changed since the run started ({saved['n_tracks']} then, "
            f"{len(data.tracks)} now); start a new run with another --out"
        )

    device = device_for(world, device)
    torch.manual_seed(config.seed)
    model = ContrastiveModel(encoder, n_tags=len(data.vocab)).to(device)
    if init_from is not None and saved is None:
        weights, data.summary["init_head"] = initial_weights(init_from, encoder)
        model.load_state_dict(weights, strict=False)
    if world.size > 1 and config.aux_descriptors > 0:  # the head is not inside the DDP-wrapped model
        raise ConfigError("--aux-descriptors trains on one device only (its head's gradients are not synchronised)")
    state = TrainState(config, model, data.planner, n_train=data.n_train)
    if world.size > 1:  # each process augments its own share: its own streams (rank 0 keeps the seeds)
        state.aug_rng.manual_seed(rank_seed(config.seed + 1, world.rank))
        torch.manual_seed(rank_seed(config.seed, world.rank))
    if saved is not None:
        state.load(out_dir / LAST, saved, saved=saved_config)
        streams = saved.get("rank_streams")
        if world.size > 1 and streams is not None and len(streams) == world.size:
            state.aug_rng.set_state(streams[world.rank]["aug_rng"])
            torch.set_rng_state(streams[world.rank]["torch_rng"])
    state.net = wrap_model(model, world, device)

    out_dir.mkdir(parents=True, exist_ok=True)
    if world.main:
        log = MetricsLog(out_dir / "metrics.jsonl", logger=config.logger, run_dir=out_dir, config=config.to_dict())
        if resume:
            log.truncate_after(state.step)
        else:
            log.path.write_text("")
    else:
        log = MetricsLog(Path(os.devnull))
    run = Run(
        out_dir=out_dir,
        name=name or out_dir.name or "encoder",
        config=config,
        encoder=encoder,
        audio=audio,
        fragments=fragments,
        data=data,
        device=device,
        log=log,
        emit=emit,
        world=world,
    )

    model.train()
    stream = BatchStream(
        data.planner, data.cache, on_skip=lambda message: emit({"event": "skip", "message": message}), world=world
    )
    state.started = state.tick = time.perf_counter()
    emit({"event": "start", "step": state.step, "total_steps": state.total_steps, "data": data.summary})
    status = "next"
    try:
        while status == "next" and data.planner.epoch < config.epochs:
            if state.kmeans is not None and state.kmeans.needs_refit(data.planner.epoch):
                refit_kmeans(run, state, state.kmeans, data.planner.epoch)
            status = train_epoch(run, state, stream)
    except KeyboardInterrupt:
        status = "interrupted"
    return finish(run, state, "finished" if status == "next" else status)
