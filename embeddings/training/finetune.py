"""``finetune(...)``: k-means-friendly fine-tuning of a trained encoder, through the one ``train(...)`` loop.

The run starts from the checkpoint in ``model_dir`` (its encoder, and its projection head when the folder
is a ``ctk train`` run) and keeps its architecture, audio front end, fragments and training recipe
(batch, views, augmentations, contrastive loss). What changes: fewer epochs, a lower learning rate and
short warm-up, and the loss ``contrastive + weight * KMeansLoss`` with ``k`` centroids refitted on the
training fragments' embeddings at the start of every epoch (:mod:`embeddings.training.kmeans_term`).
The new checkpoint goes to ``out_dir``, resumable like any training run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from embeddings.checkpoint import load_checkpoint, resolve_checkpoint_dir
from embeddings.config import config_from_dict
from embeddings.errors import ConfigError
from embeddings.training.config import TrainConfig
from embeddings.training.train import LAST, TrainResult, load_resume_configs, train


def finetune_config(
    base: Mapping[str, Any] | None,
    *,
    k: int,
    weight: float,
    epochs: int,
    lr: float,
    warmup_steps: int = 20,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """The base run's training config (``TrainConfig()`` without one) with the fine-tuning fields set."""
    if not weight > 0:
        raise ConfigError(f"k-means weight={weight} must be > 0 (the contrastive loss stays at weight 1)")
    try:
        config = config_from_dict(TrainConfig, dict(base)) if base else TrainConfig()
    except TypeError as exc:
        raise ConfigError(f"the base model's training config is not readable ({exc})") from exc
    return replace(
        config,
        epochs=epochs,
        max_steps=None,
        lr=lr,
        warmup_steps=warmup_steps,
        patience=0,
        tag_weight=0.0,
        contrastive_weight=1.0,
        kmeans_weight=weight,
        kmeans_k=k,
        **dict(overrides or {}),
    )


def finetune(
    files: Sequence[tuple[str | Path, str]],
    *,
    model_dir: str | Path,
    out_dir: str | Path,
    k: int,
    weight: float = 0.1,
    epochs: int = 3,
    lr: float = 1e-4,
    overrides: Mapping[str, Any] | None = None,
    resume: bool = False,
    source_dir: str | Path | None = None,
    name: str | None = None,
    device: str | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Fine-tune the encoder in ``model_dir`` on ``files`` with the k-means term into ``out_dir``.

    With ``resume=True`` the run saved in ``out_dir`` continues (``model_dir``, ``k``, ``weight``, ``lr``
    are then those of the saved run; ``epochs`` may grow).
    """
    out_dir = Path(out_dir)
    if resume:
        encoder, config, audio, fragments, data = load_resume_configs(out_dir)
        if config.kmeans_weight <= 0:
            raise ConfigError(f"{out_dir} is a plain training run, not a k-means fine-tuning; use ctk train --resume")
        return train(
            files,
            out_dir=out_dir,
            encoder=encoder,
            config=replace(config, epochs=epochs),
            audio=audio,
            fragments=fragments,
            source_dir=source_dir,
            name=name,
            resume=True,
            device=device,
            on_progress=on_progress,
        )
    model_dir = resolve_checkpoint_dir(model_dir)
    if model_dir.resolve() == out_dir.resolve():
        raise ConfigError(f"--out {out_dir} is the base model's folder; write the fine-tuned model elsewhere")
    if (out_dir / LAST).exists():
        raise ConfigError(f"{out_dir} already holds a training run; continue it with --resume or pick another --out")
    base = load_checkpoint(model_dir)
    config = finetune_config(base.training, k=k, weight=weight, epochs=epochs, lr=lr, overrides=overrides)
    return train(
        files,
        out_dir=out_dir,
        encoder=base.encoder,
        config=config,
        audio=base.audio,
        fragments=base.fragments,
        source_dir=source_dir,
        name=name or out_dir.name,
        init_from=model_dir,
        device=device,
        on_progress=on_progress,
    )
