"""What a training command asks for, resolved into the configs of one run: a :class:`TrainPlan`.

``ctk train`` and ``ctk finetune`` only parse their options and call one of these (spaCy's ``train_cli``
does the same with its config): :func:`plan_new_run` (fresh configs, or a trained model's with
``init``), :func:`plan_resume` (the configs saved in a run folder, with a longer schedule if asked),
:func:`plan_finetune` (a trained model's configs plus the k-means term). ``train(files, **plan.kwargs())``
runs the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from embeddings.config import AudioConfig, AugmentConfig, FragmentConfig, TrainConfig
from embeddings.errors import ConfigError
from embeddings.models.config import EncoderConfig

LAST = "last"  #: the folder of a run's resumable checkpoint


@dataclass(frozen=True)
class TrainPlan:
    """Everything :func:`~embeddings.training.train.train` needs but the audio files.

    ``music_dir``: the folder the files come from (recorded in the checkpoint; a resumed run finds it
    there); ``init_from``: the model whose weights a new run starts from; ``resume``: continue ``out_dir``.
    """

    out_dir: Path
    encoder: EncoderConfig
    config: TrainConfig
    audio: AudioConfig
    fragments: FragmentConfig
    music_dir: Path | None = None
    playlists_dir: Path | None = None
    init_from: Path | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        if self.music_dir is not None:  # recorded in the checkpoint: absolute, links resolved
            object.__setattr__(self, "music_dir", Path(self.music_dir).resolve())

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``train`` (and ``source_dir``, the music folder it records)."""
        return {
            "out_dir": self.out_dir,
            "encoder": self.encoder,
            "config": self.config,
            "audio": self.audio,
            "fragments": self.fragments,
            "playlists_dir": self.playlists_dir,
            "source_dir": self.music_dir,
            "init_from": self.init_from,
            "resume": self.resume,
        }


def crop_frames(crop_seconds: float | None, seconds: float, audio: AudioConfig) -> int | None:
    """Frames of a ``--crop-seconds`` crop of ``seconds``-long fragments (``None``: whole fragments)."""
    from embeddings.melspec import n_frames

    if crop_seconds is None:
        return None
    if not 0 < crop_seconds <= seconds:
        raise ConfigError(f"--crop-seconds {crop_seconds}: must be in (0, --seconds {seconds}]")
    return n_frames(int(round(crop_seconds * audio.sample_rate)), hop_length=audio.hop_length)


def refuse_existing_run(out_dir: Path, resume_hint: str) -> None:
    """A new run never writes into a folder that holds one (``resume_hint``: how to continue that one)."""
    if (Path(out_dir) / LAST).exists():
        raise ConfigError(
            f"{out_dir} already holds a training run; continue it with {resume_hint} or pick another --out"
        )


def plan_new_run(
    out_dir: Path,
    *,
    music_dir: Path | None,
    playlists_dir: Path | None = None,
    init: str | Path | None = None,
    seconds: float = FragmentConfig.n_seconds,
    crop_seconds: float | None = None,
    encoder: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> TrainPlan:
    """A new run into ``out_dir``: an encoder of ``encoder``'s fields over ``seconds``-long fragments, or the
    architecture, front end and fragments of the trained model ``init`` (a model spec, see
    :func:`~embeddings.checkpoint.resolve_checkpoint_dir`) and its weights; trained with ``training``'s
    :class:`TrainConfig` fields on random crops of ``crop_seconds`` (whole fragments when ``None``)."""
    from embeddings.checkpoint import load_checkpoint, resolve_checkpoint_dir
    from embeddings.melspec import n_frames

    refuse_existing_run(out_dir, f"--resume {out_dir}")
    training = dict(training or {})
    if training.get("positives") == "playlist" and playlists_dir is None:
        raise ConfigError("--positives playlist needs --playlists DIR")
    init_from = None if init is None else resolve_checkpoint_dir(init, label="--init")
    if init_from is not None:  # the architecture, front end and fragments are the base model's
        base = load_checkpoint(init_from)
        encoder_config, audio, fragments = base.encoder, base.audio, base.fragments
    else:
        audio = AudioConfig()
        fragments = FragmentConfig(n_seconds=seconds, step=seconds)
        frames = n_frames(int(round(seconds * audio.sample_rate)), hop_length=audio.hop_length)
        encoder_config = EncoderConfig(n_mels=audio.n_mels, n_frames=frames, **dict(encoder or {}))
    crop = crop_frames(crop_seconds, fragments.n_seconds, audio)
    config = TrainConfig(**training, augment=AugmentConfig(crop_frames=crop))
    return TrainPlan(
        out_dir=out_dir,
        encoder=encoder_config,
        config=config,
        audio=audio,
        fragments=fragments,
        music_dir=music_dir,
        playlists_dir=playlists_dir,
        init_from=init_from,
    )


def plan_resume(
    out_dir: Path, *, music_dir: Path | None = None, playlists_dir: Path | None = None, **changes: Any
) -> TrainPlan:
    """Continue the run saved in ``out_dir`` with its configs; ``changes`` (``epochs``, ``max_steps``: see
    ``RESUMABLE_CHANGES``; ``None`` values are ignored) lengthen or shorten it. The music and playlist
    folders default to the ones the run recorded."""
    from embeddings.training.train import load_resume_configs

    encoder, config, audio, fragments, data = load_resume_configs(out_dir)
    config = replace(config, **{k: v for k, v in changes.items() if v is not None})
    saved_music, saved_playlists = data.get("music_dir"), data.get("playlists_dir")
    return TrainPlan(
        out_dir=out_dir,
        encoder=encoder,
        config=config,
        audio=audio,
        fragments=fragments,
        music_dir=music_dir or (Path(saved_music) if saved_music else None),
        playlists_dir=playlists_dir or (Path(saved_playlists) if saved_playlists else None),
        resume=True,
    )


def finetune_config(
    base: TrainConfig | None,
    *,
    k: int,
    weight: float,
    epochs: int,
    lr: float,
    warmup_steps: int = 20,
    cluster_loss: str = "kmeans",
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """The base run's training config (``TrainConfig()`` without one) with the fine-tuning fields set;
    ``overrides`` win over them (e.g. ``max_steps`` for a short run)."""
    if not weight > 0:
        raise ConfigError(f"k-means weight={weight} must be > 0 (the contrastive loss stays at weight 1)")
    fields = {
        "epochs": epochs,
        "max_steps": None,
        "lr": lr,
        "warmup_steps": warmup_steps,
        "patience": 0,
        "tag_weight": 0.0,
        "contrastive_weight": 1.0,
        "kmeans_weight": weight,
        "kmeans_k": k,
        "cluster_loss": cluster_loss,
    }
    return replace(base or TrainConfig(), **{**fields, **dict(overrides or {})})


def plan_finetune(
    out_dir: Path,
    *,
    model: str | Path,
    k: int,
    weight: float = 0.1,
    epochs: int = 3,
    lr: float = 1e-4,
    music_dir: Path | None = None,
    crop_seconds: float | None = None,
    cluster_loss: str = "kmeans",
    overrides: Mapping[str, Any] | None = None,
    resume: bool = False,
) -> TrainPlan:
    """k-means-friendly fine-tuning of ``model`` (a model spec) into ``out_dir``: the base model's configs
    and recipe (:func:`finetune_config`), ``overrides`` of :class:`TrainConfig` fields, crops of
    ``crop_seconds`` when given. With ``resume=True`` the fine-tuning saved in ``out_dir`` continues
    (``model``, ``k``, ``weight``, ``lr`` are then the saved run's; ``epochs`` may grow)."""
    from embeddings.checkpoint import load_checkpoint, resolve_checkpoint_dir

    if resume:
        if not (Path(out_dir) / LAST).exists():
            raise ConfigError(f"--resume: {out_dir} holds no fine-tuning run to continue")
        plan = plan_resume(out_dir, music_dir=music_dir, epochs=epochs)
        if plan.config.kmeans_weight <= 0:
            raise ConfigError(f"{out_dir} is a plain training run, not a k-means fine-tuning; use ctk train --resume")
        return plan
    model_dir = resolve_checkpoint_dir(model, label="--model")
    if model_dir.resolve() == Path(out_dir).resolve():
        raise ConfigError(f"--out {out_dir} is the base model's folder; write the fine-tuned model elsewhere")
    refuse_existing_run(out_dir, "--resume")
    base = load_checkpoint(model_dir)
    overrides = dict(overrides or {})
    base_config = base.training or TrainConfig()
    if crop_seconds is not None:
        crop = crop_frames(crop_seconds, base.fragments.n_seconds, base.audio)
        overrides["augment"] = replace(base_config.augment, crop_frames=crop)
    return TrainPlan(
        out_dir=out_dir,
        encoder=base.encoder,
        config=finetune_config(
            base_config, k=k, weight=weight, epochs=epochs, lr=lr, cluster_loss=cluster_loss, overrides=overrides
        ),
        audio=base.audio,
        fragments=base.fragments,
        music_dir=music_dir,
        init_from=model_dir,
    )
