"""``ctk finetune MUSIC_DIR --kmeans-loss --k 12 --model DIR --out DIR``: k-means-friendly fine-tuning.

Continues training a checkpoint with its contrastive loss plus ``--weight`` times a k-means term
(centroids refitted each epoch on the training fragments' embeddings), and prints the collapse check
(effective rank, uniformity) of the training embeddings before and after.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from cluster_toolkit.cli._common import console, err_console, notice
from cluster_toolkit.cli._training_common import (
    TrainingProgressBar,
    crop_frames,
    hash_training_files,
    print_result,
    resolve_model,
    training_columns,
)
from cluster_toolkit.errors import UsageError
from cluster_toolkit.store.library_store import this_command
from cluster_toolkit.store.lock import StoreLock
from embeddings.checkpoint import load_checkpoint
from embeddings.config import config_from_dict
from embeddings.training import TrainConfig, TrainResult
from embeddings.training.finetune import finetune
from embeddings.training.train import LAST


class _FinetuneBar(TrainingProgressBar):
    """``ctk train``'s bar plus the k-means refits."""

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "kmeans-fit":
            self.progress.update(self.task, description=f"k-means on {event['n_fragments']} fragments")
        elif kind == "kmeans":
            self.progress.console.print(
                f"{'final' if event['final'] else 'epoch ' + str(event['epoch'] + 1)} k-means: "
                f"mean sq. distance {event['kmeans_inertia_mean']:.4f}, effective rank "
                f"{event['effective_rank']:.1f}/{event['dim']}, uniformity {event['uniformity']:.3f}",
                highlight=False,
            )
        else:
            super().__call__(event)


def print_collapse(result: TrainResult) -> None:
    if not result.collapse:
        return
    before, after = result.collapse["before"], result.collapse["after"]
    table = Table(title="collapse check (training embeddings)")
    table.add_column("")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    table.add_row(
        "k-means mean sq. distance", f"{before['kmeans_inertia_mean']:.4f}", f"{after['kmeans_inertia_mean']:.4f}"
    )
    table.add_row(
        "effective rank",
        f"{before['effective_rank']:.1f} / {before['dim']}",
        f"{after['effective_rank']:.1f} / {after['dim']}",
    )
    table.add_row("uniformity (lower = more spread)", f"{before['uniformity']:.3f}", f"{after['uniformity']:.3f}")
    table.add_row(
        "cluster sizes", " ".join(map(str, before["cluster_sizes"])), " ".join(map(str, after["cluster_sizes"]))
    )
    console.print(table)
    if after["effective_rank"] < 0.5 * before["effective_rank"]:
        notice(
            f"the effective rank fell from {before['effective_rank']:.1f} to {after['effective_rank']:.1f}: "
            "the embeddings are collapsing; lower --weight"
        )


def finetune_cli(
    music_dir: Annotated[
        Path | None, typer.Argument(help="Folder of audio files to fine-tune on. With --resume: the saved one.")
    ] = None,
    kmeans_loss: Annotated[bool, typer.Option("--kmeans-loss", help="Add the k-means term (required).")] = False,
    k: Annotated[int, typer.Option("--k", help="Number of k-means centroids (>= 2).")] = 12,
    model: Annotated[str, typer.Option(help="Checkpoint folder to start from, or ctk-small.")] = "ctk-small",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder of the fine-tuned model.")] = None,
    weight: Annotated[float, typer.Option(help="Weight of the k-means term (contrastive loss: 1).")] = 0.1,
    epochs: Annotated[int, typer.Option(help="Passes over the training fragments.")] = 3,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW).")] = 1e-4,
    crop_seconds: Annotated[
        float | None, typer.Option(help="Train on random crops this long (default: as the base model).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Fragments per batch (default: as the base model).")] = None,
    kmeans_fragments: Annotated[
        int, typer.Option(help="Training fragments embedded for each k-means refit (at most).")
    ] = TrainConfig.kmeans_fragments,
    resume: Annotated[bool, typer.Option(help="Continue the fine-tuning saved in --out.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1... [default: cuda if present].")] = None,
    name: Annotated[str | None, typer.Option(help="Model name stored with the embeddings [default: --out].")] = None,
) -> None:
    """Fine-tune an encoder so that its embeddings cluster better: contrastive loss + weight x k-means loss."""
    if not kmeans_loss:
        raise UsageError("ctk finetune has one method so far: pass --kmeans-loss")
    if out is None:
        raise UsageError("give --out DIR for the fine-tuned model")
    if k < 2:
        raise UsageError(f"--k {k}: must be >= 2")
    if not weight > 0:
        raise UsageError(f"--weight {weight}: must be > 0 (the contrastive loss always stays, at weight 1)")
    if resume:
        if not (out / LAST).exists():
            raise UsageError(f"--resume: {out} holds no fine-tuning run to continue")
        model_dir = out
        data: dict[str, Any] = load_checkpoint(out / LAST).data
        music_dir = music_dir or (Path(data["music_dir"]) if data.get("music_dir") else None)
    else:
        model_dir = resolve_model(model)
        if (out / LAST).exists():
            raise UsageError(f"{out} already holds a training run; continue it with --resume or pick another --out")
    if music_dir is None or not music_dir.is_dir():
        raise UsageError(f"{music_dir or '(none given)'}: not a folder; give MUSIC_DIR")
    overrides: dict[str, Any] = {"seed": seed, "kmeans_fragments": kmeans_fragments}
    if not resume:
        base = load_checkpoint(model_dir)
        base_config = config_from_dict(TrainConfig, base.training) if base.training else TrainConfig()
        if crop_seconds is not None:
            crop = crop_frames(crop_seconds, base.fragments.n_seconds, base.audio)
            overrides["augment"] = replace(base_config.augment, crop_frames=crop)
        if batch_size is not None:
            overrides["batch_size"] = batch_size
    music_dir = music_dir.resolve()
    files = hash_training_files(music_dir)
    out.mkdir(parents=True, exist_ok=True)
    # one run per folder: a second run into the same --out would interleave checkpoints
    with StoreLock(out, command=this_command(), what="run folder"), \
            Progress(*training_columns(), console=err_console, transient=True) as progress:
        result = finetune(
            files,
            model_dir=model_dir,
            out_dir=out,
            k=k,
            weight=weight,
            epochs=epochs,
            lr=lr,
            overrides=None if resume else overrides,
            resume=resume,
            source_dir=music_dir,
            name=name,
            device=device,
            on_progress=_FinetuneBar(progress),
        )
    print_result(result, command="ctk finetune")
    print_collapse(result)
    if result.status == "interrupted":
        notice(f"interrupted at step {result.step}; checkpoint saved. Continue with: ctk finetune --resume --out {out}")
        raise typer.Exit(130)
