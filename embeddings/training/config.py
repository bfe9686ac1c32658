"""Frozen configuration of a training run (everything but the model and the audio front end)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from embeddings.augment import AugmentConfig
from embeddings.errors import ConfigError
from embeddings.losses import LOSSES

POSITIVES = ("track", "playlist", "tag", "folder")
SCHEDULES = ("cosine", "plateau")
LOGGERS = ("none", "tensorboard", "wandb")


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Batches: ``batch_size`` items made of ``batch_size // views`` groups with ``views`` items each
    (``views`` fragments of one track by default). Groups are drawn from a pool of ``pool_groups``
    decoded groups; a decoded track's log-mels stay in an LRU cache of ``cache_tracks`` tracks, so
    memory is bounded whatever the library size.

    Optimisation: AdamW (``lr``, ``weight_decay`` on weight matrices only), ``warmup_steps`` of linear
    warm-up, then cosine decay to ``min_lr_ratio * lr`` over the run (``schedule="cosine"``) or
    ReduceLROnPlateau on the validation loss (``"plateau"``); gradients clipped to ``clip_norm``.
    ``max_steps`` (if set) ends the run early; ``epochs`` otherwise.

    Validation every ``val_every`` steps, at the end, and at an epoch end at least ``val_every // 2``
    steps after the previous one (short epochs, e.g. few playlists, do not validate every few steps), on
    up to ``val_tracks`` tracks' held-out fragments; early stopping after ``patience`` validations
    without improvement of the validation loss (0: never). Checkpoints every ``checkpoint_every`` steps and at the end.

    Weight averaging (``ema_decay > 0``): an exponential moving average of the weights
    (:class:`torch.optim.swa_utils.AveragedModel`) is validated and exported instead of the raw weights;
    the optimiser still trains the raw ones (both are in the resumable checkpoint).

    k-means fine-tuning (``kmeans_weight > 0``): the loss becomes ``contrastive_weight * contrastive +
    kmeans_weight * KMeansLoss`` on the embeddings, with ``kmeans_k`` centroids refitted at the start of
    every epoch on up to ``kmeans_fragments`` training fragments (see ``embeddings/training/kmeans_term.py``).
    The k-means term is never used alone: ``contrastive_weight`` must stay > 0.
    """

    loss: str = "infonce"
    loss_params: dict[str, float] = field(default_factory=dict)
    positives: str = "track"
    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 64
    views: int = 2
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_steps: int = 100
    schedule: str = "cosine"
    min_lr_ratio: float = 0.01
    clip_norm: float = 1.0
    pool_groups: int = 64
    max_tracks_per_group: int = 8
    cache_tracks: int = 512
    val_tracks: int = 64
    val_every: int = 500
    patience: int = 0
    checkpoint_every: int = 200
    log_every: int = 10
    tag_weight: float = 0.0
    max_tags: int = 50
    seed: int = 0
    logger: str = "none"
    contrastive_weight: float = 1.0
    kmeans_weight: float = 0.0
    kmeans_k: int = 8
    kmeans_fragments: int = 4096
    ema_decay: float = 0.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            object.__setattr__(self, "augment", AugmentConfig(**self.augment))
        object.__setattr__(self, "loss_params", dict(self.loss_params))
        if self.loss not in LOSSES:
            raise ConfigError(f"loss={self.loss!r} must be one of {', '.join(LOSSES)}")
        if self.positives not in POSITIVES:
            raise ConfigError(f"positives={self.positives!r} must be one of {', '.join(POSITIVES)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule={self.schedule!r} must be one of {', '.join(SCHEDULES)}")
        if self.logger not in LOGGERS:
            raise ConfigError(f"logger={self.logger!r} must be one of {', '.join(LOGGERS)}")
        if self.views < 2:
            raise ConfigError(f"views={self.views} must be >= 2: a contrastive batch needs positives")
        if self.batch_size < 2 * self.views:
            raise ConfigError(f"batch_size={self.batch_size} must hold at least two groups of views={self.views} items")
        if self.epochs < 1 or (self.max_steps is not None and self.max_steps < 1):
            raise ConfigError(f"epochs={self.epochs} and max_steps={self.max_steps} must be >= 1")
        if not self.lr > 0 or self.weight_decay < 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(
                f"lr={self.lr} must be > 0, weight_decay={self.weight_decay} >= 0, "
                f"min_lr_ratio={self.min_lr_ratio} in [0, 1]"
            )
        positive = {
            "pool_groups": self.pool_groups,
            "max_tracks_per_group": self.max_tracks_per_group,
            "cache_tracks": self.cache_tracks,
            "val_every": self.val_every,
            "checkpoint_every": self.checkpoint_every,
            "log_every": self.log_every,
            "clip_norm": self.clip_norm,
            "max_tags": self.max_tags,
        }
        bad = [f"{k}={v}" for k, v in positive.items() if not v > 0]
        if bad:
            raise ConfigError(f"{', '.join(bad)} must be positive")
        if self.warmup_steps < 0 or self.val_tracks < 0 or self.patience < 0 or self.tag_weight < 0:
            raise ConfigError(
                f"warmup_steps={self.warmup_steps}, val_tracks={self.val_tracks}, patience={self.patience}, "
                f"tag_weight={self.tag_weight} must be >= 0"
            )

        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"ema_decay={self.ema_decay} must be in [0, 1) (0: no weight averaging)")
        if not self.contrastive_weight > 0:
            why = " (the k-means term alone collapses the embeddings)" if self.kmeans_weight > 0 else ""
            raise ConfigError(
                f"contrastive_weight={self.contrastive_weight} must be > 0{why}; keep the contrastive loss"
            )
        if self.kmeans_weight < 0 or self.kmeans_k < 2 or self.kmeans_fragments < self.kmeans_k:
            raise ConfigError(
                f"kmeans_weight={self.kmeans_weight} must be >= 0, kmeans_k={self.kmeans_k} >= 2 and "
                f"kmeans_fragments={self.kmeans_fragments} >= kmeans_k"
            )

    @property
    def groups_per_batch(self) -> int:
        return self.batch_size // self.views

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["augment"]["mix_db"] = list(data["augment"]["mix_db"])
        return data
