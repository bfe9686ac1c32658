"""What the training commands (`ctk train`, `ctk finetune`) share: file listing, the locked run with its
progress bar, the result table and the Ctrl-C exit. Imports no torch (their ``--help`` stays fast)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cluster_toolkit.cli._common import console, err_console, notice
from cluster_toolkit.errors import UsageError

if TYPE_CHECKING:
    from embeddings.training import TrainResult


def training_columns() -> tuple:
    """Progress-bar columns of the training commands: steps, loss, learning rate, fragments/s, times."""
    return (
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  lr {task.fields[lr]:.2e}  {task.fields[rate]:.1f} fragments/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def list_training_files(
    music_dir: Path, *, on_file: Callable[[int, int], None] | None = None
) -> list[tuple[Path, str]]:
    """``(path, track_id)`` of every audio file under ``music_dir``; the id is the content hash ``ctk embed``
    uses, so the train/validation split of a fragment is the same in training and in the store.

    ``on_file(done, total)`` is called after each file is hashed (the CLI draws a bar with it)."""
    from cluster_toolkit.scanning import content_hash, iter_audio_files

    if not music_dir.is_dir():
        raise UsageError(f"{music_dir}: not a folder")
    paths = list(iter_audio_files(music_dir))
    if not paths:
        raise UsageError(f"{music_dir}: no audio files found")
    files = []
    for done, path in enumerate(paths, start=1):
        files.append((path, content_hash(path)))
        if on_file is not None:
            on_file(done, len(paths))
    return files


def hash_training_files(music_dir: Path | None) -> list[tuple[Path, str]]:
    """:func:`list_training_files` of the resolved ``music_dir`` behind a progress bar on stderr (hashing a
    large folder takes a while)."""
    if not music_dir or not Path(music_dir).is_dir():
        raise UsageError(f"{music_dir or '(none saved)'}: not a folder; give MUSIC_DIR")
    music_dir = Path(music_dir).resolve()
    with Progress(SpinnerColumn(), TextColumn("hashing the audio files under {task.fields[folder]}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=err_console, transient=True) as progress:
        task = progress.add_task("hashing", total=None, folder=str(music_dir))
        return list_training_files(music_dir, on_file=lambda done, total: progress.update(task, completed=done,
                                                                                            total=total))


class TrainingProgressBar:
    """Draws ``train``'s progress events as a rich progress bar on stderr."""

    def __init__(self, progress: Progress, *, val_every: int | None = None) -> None:
        self.progress = progress
        self.val_every = val_every
        self.task = progress.add_task("preparing", total=None, loss=float("nan"), lr=0.0, rate=0.0)

    def step_description(self, step: int, epoch: int) -> str:
        """``epoch E · validation at step V`` (``validating at step S`` when this step's validation follows)."""
        if not self.val_every:
            return f"epoch {epoch + 1}"
        if step % self.val_every == 0:
            return f"validating at step {step}"
        return f"epoch {epoch + 1} · validation at step {(step // self.val_every + 1) * self.val_every}"

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "indexing":
            self.progress.update(self.task, description=f"indexing {event['n_files']} files")
        elif kind == "validation-set":
            self.progress.update(self.task, description="decoding validation fragments")
        elif kind == "start":
            data = event["data"]
            self.progress.console.print(
                f"training on {data['n_tracks']} tracks ({data['hours']:.1f} h, {data['n_train_fragments']} "
                f"train fragments, {data['n_skipped']} skipped); positives: {data['positives']['kind']} "
                f"({data['positives']['n_groups']} groups)",
                highlight=False,
            )
            self.progress.update(self.task, description="training", total=event["total_steps"], completed=event["step"])
        elif kind == "step":
            self.progress.update(
                self.task,
                completed=event["step"],
                total=max(event["total_steps"], event["step"]),
                description=self.step_description(event["step"], event["epoch"]),
                loss=event["loss"],
                lr=event["lr"],
                rate=event["fragments_per_s"],
            )
        elif kind == "skip":
            self.progress.console.print(f"error: {event['message']} (skipped; training goes on)", highlight=False)
        elif kind == "validation":
            recall = " ".join(f"{k} {event[k]:.3f}" for k in ("recall@1", "recall@10") if event.get(k) is not None)
            self.progress.console.print(
                f"step {event['step']}: validation loss {event['val_loss']:.4f} {recall}", highlight=False
            )


def print_result(result: TrainResult, *, command: str = "ctk train") -> None:
    table = Table(title=f"{command}: {result.out_dir}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("status", result.status)
    table.add_row("steps", str(result.step))
    table.add_row("epochs done", str(result.epoch))
    table.add_row("fragments/s", f"{result.fragments_per_s:.1f}")
    if result.best:
        table.add_row("best validation loss", f"{result.best['val_loss']:.4f} (step {result.best['step']})")
        for key in ("recall@1", "recall@10"):
            if result.best.get(key) is not None:
                table.add_row(f"same-track {key}", f"{result.best[key]:.3f}")
    table.add_row("model", str(result.out_dir))
    console.print(table)


def print_training_event(event: dict[str, Any]) -> None:
    """Progress events as plain lines on stderr: what each log step, validation and skipped file says. The
    progress callback of a run in other processes (``ctk train --devices N``), where no bar is drawn."""
    kind = event.get("event")
    if kind == "log":
        err_console.print(f"step {event['step']}: loss {event['loss']:.4f}  lr {event['lr']:.2e}  "
                          f"{event['fragments_per_s']:.1f} fragments/s", highlight=False)
    elif kind == "validation":
        err_console.print(f"step {event['step']}: validation loss {event['val_loss']:.4f}", highlight=False)
    elif kind == "skip":
        err_console.print(f"error: {event['message']} (skipped; training goes on)", highlight=False)


def run_locked(
    out: Path, start: Callable[[Any], TrainResult], bar: Callable[[Progress], Any] | None
) -> TrainResult:
    """``start(on_progress)`` with the run folder ``out`` locked (a second run into it would interleave
    checkpoints) and ``bar(progress)`` drawing the progress events (``bar=None``: no bar,
    ``on_progress=None``)."""
    from cluster_toolkit.store.library_store import this_command
    from cluster_toolkit.store.lock import StoreLock

    out.mkdir(parents=True, exist_ok=True)
    if bar is None:
        with StoreLock(out, command=this_command(), what="run folder"):
            return start(None)
    with StoreLock(out, command=this_command(), what="run folder"), \
            Progress(*training_columns(), console=err_console, transient=True) as progress:
        return start(bar(progress))


def exit_if_interrupted(result: TrainResult, resume_command: str) -> None:
    """After Ctrl-C: say how to continue, exit 130."""
    if result.status == "interrupted":
        notice(f"interrupted at step {result.step}; checkpoint saved. Continue with: {resume_command}")
        raise typer.Exit(130)
