"""Typed, frozen configuration of the audio front end, the augmentations and a training run.

A checkpoint and a library store both save these as plain dicts (``asdict``) so that
``ctk embed`` can rebuild the exact front end a model was trained with, and a resumed or fine-tuned
run the exact recipe. This module imports no torch: the CLI's ``--help`` reads its defaults from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from embeddings.errors import ConfigError


def require_positive(**values: float | None) -> None:
    """Raise :class:`ConfigError` naming each of ``values`` that is not > 0 (``None``: not set, allowed)."""
    bad = [f"{name}={value}" for name, value in values.items() if value is not None and not value > 0]
    if bad:
        raise ConfigError(f"{', '.join(bad)} must be positive")


def require_one_of(allowed: tuple[str, ...], **values: str) -> None:
    """Raise :class:`ConfigError` for the first of ``values`` that is not one of ``allowed``."""
    for name, value in values.items():
        if value not in allowed:
            raise ConfigError(f"{name}={value!r} must be one of {', '.join(allowed)}")


@dataclass(frozen=True)
class AudioConfig:
    """Decoding and log-mel parameters (librosa vocabulary).

    The log-mel of a fragment has shape ``(n_mels, n_frames)`` with
    ``n_frames = 1 + n_samples // hop_length`` (centred frames).
    """

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 20.0
    fmax: float = 11025.0
    top_db: float = 80.0

    def __post_init__(self) -> None:
        require_positive(
            sample_rate=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels
        )
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ConfigError(
                f"need 0 <= fmin={self.fmin} < fmax={self.fmax} <= sample_rate/2={self.sample_rate / 2}"
            )


@dataclass(frozen=True)
class FragmentConfig:
    """How a track is cut into fragments.

    Fragments of ``n_seconds`` start every ``step`` seconds. Each is assigned to ``train`` or
    ``validation`` with ``validation_probability`` (seeded by the track id, so the split of a
    track never changes between runs). A train fragment that would overlap a validation
    fragment of the same track is labelled ``gap``: it is embedded for the track's pooled
    vector but used neither for training nor for validation.
    Tracks shorter than ``min_track_seconds`` are refused as too short; tracks between that
    and ``n_seconds`` give one fragment, looped to full length.
    """

    n_seconds: float = 10.0
    step: float = 10.0
    validation_probability: float = 0.1
    min_track_seconds: float = 3.0
    seed: int = 0

    def __post_init__(self) -> None:
        require_positive(n_seconds=self.n_seconds, step=self.step, min_track_seconds=self.min_track_seconds)
        if not 0.0 <= self.validation_probability <= 1.0:
            raise ConfigError(f"validation_probability={self.validation_probability} must be in [0, 1]")


COVERAGES = ("full", "sampled")


@dataclass(frozen=True)
class CoverageConfig:
    """How much of each track ``ctk embed`` decodes and embeds.

    ``full``: every fragment of the plan (the whole track is decoded). ``sampled``: at most
    ``n_fragments`` fragments of the plan, spread evenly from the first to the last, and only their
    spans are decoded, so the cost of a track stops growing with its length. A track with no more
    fragments than that is embedded in full either way.
    """

    mode: str = "sampled"
    n_fragments: int = 5

    def __post_init__(self) -> None:
        require_one_of(COVERAGES, coverage=self.mode)
        if self.n_fragments < 1:
            raise ConfigError(f"n_fragments={self.n_fragments} must be at least 1")


#: The fragments ``ctk embed`` cuts a new library into: 5 s (the encoder's training crop) every 5 s, and 10 of them
#: per track, evenly spread. The same ~50 s of decoded audio per track as 5 fragments of 10 s, and better clusters
#: on the held-out sources (docs/ctk-small.md, "Shorter fragments"). An existing library keeps the plan it was made
#: with; training keeps ``FragmentConfig()``'s 10 s fragments and crops them.
EMBED_FRAGMENTS = FragmentConfig(n_seconds=5.0, step=5.0)
EMBED_COVERAGE = CoverageConfig(mode="sampled", n_fragments=10)
#: What a library made before ``store.json`` recorded its coverage was embedded with (the default of that time).
LEGACY_COVERAGE = CoverageConfig(mode="sampled", n_fragments=5)


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a config dataclass from a dict, refusing unknown keys with a clear message."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
    return cls(**data)


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of each augmentation (probabilities are per item).

    ``crop_frames``: length of the random crop (``None``: the input length). Ranges: gain uniform in
    ``+-gain_db``; the mixed-in track at ``mix_db`` dB (uniform between the two) relative to the item;
    pitch shifts of up to ``pitch_bins`` mel bands either way; tempo factors in ``1 +- tempo``;
    ``n_time_masks`` masks of up to ``time_mask_frames`` frames and ``n_freq_masks`` of up to
    ``freq_mask_bins`` bands.
    """

    crop_frames: int | None = None
    p_gain: float = 0.5
    gain_db: float = 6.0
    p_mix: float = 0.3
    mix_db: tuple[float, float] = (-20.0, -10.0)
    p_pitch: float = 0.3
    pitch_bins: int = 2
    p_tempo: float = 0.3
    tempo: float = 0.08
    p_time_mask: float = 0.5
    n_time_masks: int = 2
    time_mask_frames: int = 40
    p_freq_mask: float = 0.5
    n_freq_masks: int = 2
    freq_mask_bins: int = 12

    def __post_init__(self) -> None:
        object.__setattr__(self, "mix_db", tuple(float(v) for v in self.mix_db))
        for name in ("p_gain", "p_mix", "p_pitch", "p_tempo", "p_time_mask", "p_freq_mask"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name}={value} must be a probability in [0, 1]")
        if self.crop_frames is not None and self.crop_frames < 1:
            raise ConfigError(f"crop_frames={self.crop_frames} must be >= 1 (or None for the input length)")
        if len(self.mix_db) != 2 or self.mix_db[0] > self.mix_db[1]:
            raise ConfigError(f"mix_db={list(self.mix_db)} must be [low, high] with low <= high")
        if not 0.0 <= self.tempo < 0.5:
            raise ConfigError(f"tempo={self.tempo} must be in [0, 0.5)")
        counts = {
            "gain_db": self.gain_db,
            "pitch_bins": self.pitch_bins,
            "n_time_masks": self.n_time_masks,
            "time_mask_frames": self.time_mask_frames,
            "n_freq_masks": self.n_freq_masks,
            "freq_mask_bins": self.freq_mask_bins,
        }
        bad = [f"{k}={v}" for k, v in counts.items() if v < 0]
        if bad:
            raise ConfigError(f"{', '.join(bad)} must be >= 0")

    @classmethod
    def none(cls, crop_frames: int | None = None) -> AugmentConfig:
        """No augmentation at all (a plain crop when ``crop_frames`` is given)."""
        return cls(crop_frames=crop_frames, p_gain=0, p_mix=0, p_pitch=0, p_tempo=0, p_time_mask=0, p_freq_mask=0)


#: the ``--loss`` names; :data:`embeddings.losses.LOSSES` maps each to its class
LOSS_NAMES = ("infonce", "soft-infonce", "barlow", "skipgram")
POSITIVES = ("track", "playlist", "tag", "folder")
#: the clustering term of fine-tuning: ``KMeansLoss`` (hard, DCN) or ``DECLoss`` (soft, DEC/IDEC)
CLUSTER_LOSSES = ("kmeans", "dec")
SCHEDULES = ("cosine", "plateau")
LOGGERS = ("none", "tensorboard", "wandb")
#: what soft-infonce weighs negatives by: shared tags, lyric similarity, or nothing (plain InfoNCE)
NEGATIVE_WEIGHTS = ("tags", "lyrics", "none")


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
    ``cluster_loss="dec"`` makes the term :class:`~embeddings.losses.DECLoss` (soft Student-t assignments to the
    same centroids, KL from the sharpened target: IDEC with the contrastive loss as its anchor) instead.
    The clustering term is never used alone: ``contrastive_weight`` must stay > 0.

    Descriptor head (``aux_descriptors = W > 0``): a linear head predicts each item's handcrafted
    `features` vector from its embedding and ``W * MSE`` joins the loss (``embeddings/training/descriptors.py``);
    the head is not exported.

    Mixed positives (``track_weight = W > 0``, with ``positives`` other than ``"track"``): each group's
    ``views`` items come as ``views // 2`` tracks with two fragments each where the tracks have them, and
    ``W *`` the same loss with every track its own group (two fragments of one track positives; all other
    items, the group's other tracks included, negatives) joins the group loss: the model learns both what
    a production shares and what tells its tracks apart.

    Multi-crop (``local_crops = N > 0``, after SwAV's multi-crop, Caron et al., NeurIPS 2020): each item also
    gives ``N`` local crops of half its crop length, augmented alike; they join the batch as more items of
    the item's group, so every anchor has more positives at a small extra cost (half-length inputs).

    Queue of past keys (``queue_size = N > 0``, ``loss="infonce"`` with group positives; after MoCo, He et
    al., CVPR 2020): a key encoder, the model's weights averaged with momentum ``queue_momentum`` after every
    step, embeds each batch; its last ``N`` keys, labelled by their group, join the loss's candidates
    (:class:`~embeddings.losses.QueueInfoNCELoss`): keys of the anchor's group are more positives, all others
    more negatives. The key encoder and the queue are saved in the resumable checkpoint; one process only.

    Negative weights (``loss="soft-infonce"`` only): ``negative_weights`` names the similarity of two tracks
    that down-weights one as the other's negative: ``"tags"`` (Jaccard overlap of their genre tags),
    ``"lyrics"`` (clipped cosine of their lyric vectors, see :mod:`embeddings.lyrics.similarity`; tracks without
    lyrics keep full weight) or ``"none"`` (every negative alike: plain InfoNCE).
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
    negative_weights: str = "tags"
    tag_weight: float = 0.0
    max_tags: int = 50
    seed: int = 0
    logger: str = "none"
    contrastive_weight: float = 1.0
    kmeans_weight: float = 0.0
    kmeans_k: int = 8
    cluster_loss: str = "kmeans"
    kmeans_fragments: int = 4096
    ema_decay: float = 0.0
    aux_descriptors: float = 0.0
    track_weight: float = 0.0
    local_crops: int = 0
    queue_size: int = 0
    queue_momentum: float = 0.99
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        # read back from a checkpoint's JSON (``config_from_dict(TrainConfig, to_dict())``): augment is a dict
        if isinstance(self.augment, dict):
            object.__setattr__(self, "augment", AugmentConfig(**self.augment))
        object.__setattr__(self, "loss_params", dict(self.loss_params))
        require_one_of(LOSS_NAMES, loss=self.loss)
        require_one_of(POSITIVES, positives=self.positives)
        require_one_of(CLUSTER_LOSSES, cluster_loss=self.cluster_loss)
        require_one_of(SCHEDULES, schedule=self.schedule)
        require_one_of(LOGGERS, logger=self.logger)
        require_one_of(NEGATIVE_WEIGHTS, negative_weights=self.negative_weights)
        if self.negative_weights != "tags" and self.loss != "soft-infonce":
            raise ConfigError(
                f"negative_weights={self.negative_weights!r} needs loss='soft-infonce' (loss={self.loss!r} weighs "
                "every negative alike)"
            )
        if self.views < 2:
            raise ConfigError(f"views={self.views} must be >= 2: a contrastive batch needs positives")
        if self.local_crops < 0:
            raise ConfigError(f"local_crops={self.local_crops} must be >= 0 (0: one crop per item)")
        if self.queue_size < 0:
            raise ConfigError(f"queue_size={self.queue_size} must be >= 0 (0: no queue of past keys)")
        if not 0 < self.queue_momentum < 1:
            raise ConfigError(f"queue_momentum={self.queue_momentum} must be in (0, 1) (try 0.99)")
        if self.queue_size > 0 and (self.loss != "infonce" or self.positives == "track"):
            raise ConfigError(
                f"queue_size > 0 needs loss='infonce' and group positives (folder, playlist or tag); got "
                f"loss={self.loss!r}, positives={self.positives!r}"
            )
        if self.track_weight < 0:
            raise ConfigError(f"track_weight={self.track_weight} must be >= 0 (0: group positives only)")
        if self.track_weight > 0 and self.positives == "track":
            raise ConfigError(
                "track_weight > 0 mixes track positives into group positives; with positives='track' every "
                "group already is one track (use --positives folder, playlist or tag)"
            )
        if self.track_weight > 0 and (self.views < 4 or self.views % 2):
            raise ConfigError(
                f"views={self.views} must be even and >= 4 with track_weight > 0: each group holds tracks "
                "with two fragments each, and at least two tracks"
            )
        if self.batch_size < 2 * self.views:
            raise ConfigError(f"batch_size={self.batch_size} must hold at least two groups of views={self.views} items")
        if self.epochs < 1 or (self.max_steps is not None and self.max_steps < 1):
            raise ConfigError(f"epochs={self.epochs} and max_steps={self.max_steps} must be >= 1")
        if not self.lr > 0 or self.weight_decay < 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(
                f"lr={self.lr} must be > 0, weight_decay={self.weight_decay} >= 0, "
                f"min_lr_ratio={self.min_lr_ratio} in [0, 1]"
            )
        require_positive(
            pool_groups=self.pool_groups,
            max_tracks_per_group=self.max_tracks_per_group,
            cache_tracks=self.cache_tracks,
            val_every=self.val_every,
            checkpoint_every=self.checkpoint_every,
            log_every=self.log_every,
            clip_norm=self.clip_norm,
            max_tags=self.max_tags,
        )
        if self.warmup_steps < 0 or self.val_tracks < 0 or self.patience < 0 or self.tag_weight < 0:
            raise ConfigError(
                f"warmup_steps={self.warmup_steps}, val_tracks={self.val_tracks}, patience={self.patience}, "
                f"tag_weight={self.tag_weight} must be >= 0"
            )

        if not self.aux_descriptors >= 0:
            raise ConfigError(f"aux_descriptors={self.aux_descriptors} must be >= 0 (0: no descriptor head)")
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

    @property
    def fragments_per_track(self) -> int:
        """Fragments of one track drawn together into a group: 2 with mixed positives, else 1."""
        return 2 if self.track_weight > 0 else 1

    def to_dict(self) -> dict[str, Any]:
        """The plain dict a checkpoint's ``model.json`` holds under ``"training"``."""
        data = asdict(self)
        data["augment"]["mix_db"] = list(data["augment"]["mix_db"])
        return data
