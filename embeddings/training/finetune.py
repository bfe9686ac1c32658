"""``finetune(...)``: k-means-friendly fine-tuning of a trained encoder, through the one ``train(...)`` loop.

The run starts from the checkpoint in ``model_dir`` (its encoder, and its projection head when the folder
is a ``ctk train`` run) and keeps its architecture, audio front end, fragments and training recipe
(batch, views, augmentations, contrastive loss). What changes: fewer epochs, a lower learning rate and
short warm-up, and the loss ``contrastive + weight * KMeansLoss`` (or ``DECLoss``) with ``k`` centroids refitted on the
training fragments' embeddings at the start of every epoch (:mod:`embeddings.training.kmeans_term`).
The new checkpoint goes to ``out_dir``, resumable like any training run. The configs come from
:func:`embeddings.training.plan.plan_finetune`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from embeddings.training.plan import finetune_config, plan_finetune
from embeddings.training.train import TrainResult, train

__all__ = ["finetune", "finetune_config"]


def finetune(
    files: Sequence[tuple[str | Path, str]],
    *,
    model_dir: str | Path,
    out_dir: str | Path,
    k: int,
    weight: float = 0.1,
    epochs: int = 3,
    lr: float = 1e-4,
    crop_seconds: float | None = None,
    cluster_loss: str = "kmeans",
    overrides: Mapping[str, Any] | None = None,
    resume: bool = False,
    source_dir: str | Path | None = None,
    name: str | None = None,
    device: str | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Fine-tune the encoder of ``model_dir`` (a model spec) on ``files`` with the clustering term
    (``cluster_loss``: ``kmeans`` or ``dec``) into ``out_dir``.

    With ``resume=True`` the run saved in ``out_dir`` continues (``model_dir``, ``k``, ``weight``, ``lr``
    are then those of the saved run; ``epochs`` may grow).
    """
    plan = plan_finetune(
        Path(out_dir),
        model=model_dir,
        k=k,
        weight=weight,
        epochs=epochs,
        lr=lr,
        music_dir=None if source_dir is None else Path(source_dir),
        crop_seconds=crop_seconds,
        cluster_loss=cluster_loss,
        overrides=overrides,
        resume=resume,
    )
    return train(files, **plan.kwargs(), name=name or plan.out_dir.name, device=device, on_progress=on_progress)
