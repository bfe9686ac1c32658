"""``ctk finetune MUSIC_DIR --kmeans-loss --k 12 --model DIR --out DIR``: k-means-friendly fine-tuning.

Continues training a checkpoint with its contrastive loss plus ``--weight`` times a clustering term
(``--kmeans-loss`` = ``--cluster-loss kmeans``: hard k-means; ``--cluster-loss dec``: DEC/IDEC soft
assignments; centroids refitted each epoch on the training fragments' embeddings), and prints the collapse check
(effective rank, uniformity) of the training embeddings before and after. A thin wrapper over
:func:`embeddings.training.plan.plan_finetune` and ``train``; imports no torch until the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from cluster_toolkit.cli._common import console, notice
from cluster_toolkit.cli._training_common import (
    TrainingProgressBar,
    exit_if_interrupted,
    hash_training_files,
    print_result,
    run_locked,
)
from cluster_toolkit.errors import UsageError
from embeddings.config import CLUSTER_LOSSES, TrainConfig

if TYPE_CHECKING:
    from embeddings.training import TrainResult


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
    kmeans_loss: Annotated[
        bool, typer.Option("--kmeans-loss", help="Add the hard k-means term (= --cluster-loss kmeans).")
    ] = False,
    cluster_loss: Annotated[
        str | None,
        typer.Option(
            "--cluster-loss",
            help="The clustering term: kmeans (hard, DCN) or dec (soft Student-t assignments, DEC/IDEC).",
            metavar="<kmeans|dec>",
        ),
    ] = None,
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
    """Fine-tune an encoder so that its embeddings cluster better: contrastive loss + weight x clustering loss."""
    if cluster_loss is not None and cluster_loss not in CLUSTER_LOSSES:
        raise UsageError(f"--cluster-loss {cluster_loss}: must be one of {', '.join(CLUSTER_LOSSES)}")
    if kmeans_loss and cluster_loss not in (None, "kmeans"):
        raise UsageError(f"--kmeans-loss and --cluster-loss {cluster_loss} contradict each other; give one")
    if not kmeans_loss and cluster_loss is None and not resume:
        raise UsageError("say which clustering term: --cluster-loss kmeans|dec (or --kmeans-loss)")
    if out is None:
        raise UsageError("give --out DIR for the fine-tuned model")
    if k < 2:
        raise UsageError(f"--k {k}: must be >= 2")
    if not weight > 0:
        raise UsageError(f"--weight {weight}: must be > 0 (the contrastive loss always stays, at weight 1)")
    from embeddings.training import train
    from embeddings.training.plan import plan_finetune

    overrides: dict[str, Any] = {"seed": seed, "kmeans_fragments": kmeans_fragments}
    if batch_size is not None:
        overrides["batch_size"] = batch_size
    plan = plan_finetune(out, model=model, k=k, weight=weight, epochs=epochs, lr=lr, music_dir=music_dir,
                         crop_seconds=crop_seconds, cluster_loss=cluster_loss or "kmeans", overrides=overrides,
                         resume=resume)
    files = hash_training_files(plan.music_dir)
    result = run_locked(out, lambda on_progress: train(
        files, **plan.kwargs(), name=name or out.name, device=device, on_progress=on_progress), _FinetuneBar)
    print_result(result, command="ctk finetune")
    print_collapse(result)
    exit_if_interrupted(result, f"ctk finetune --resume --out {out}")
