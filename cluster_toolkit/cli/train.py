"""``ctk train MUSIC_DIR --out DIR``: train a contrastive encoder on a folder of music (no labels needed).

A thin wrapper: the options become a :class:`~embeddings.training.plan.TrainPlan` (a new run, or
``--resume`` of a saved one) and ``train`` runs it. Imports no torch until the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cluster_toolkit.cli._common import console, notice
from cluster_toolkit.cli._training_common import (
    TrainingProgressBar,
    exit_if_interrupted,
    hash_training_files,
    print_result,
    print_training_event,
    run_locked,
)
from cluster_toolkit.errors import UsageError
from embeddings.config import LOGGERS, LOSS_NAMES, NEGATIVE_WEIGHTS, POSITIVES, FragmentConfig, TrainConfig
from embeddings.models.config import INPUT_NORMS, POSITIONALS, EncoderConfig


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise UsageError(f"{option} {value!r}: expected one of {', '.join(allowed)}")
    return value


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def train_cli(
    music_dir: Annotated[
        Path | None, typer.Argument(help="Folder of audio files (recursively). With --resume: the saved one.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder to create.")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the run saved in this folder.")] = None,
    init: Annotated[
        str | None,
        typer.Option(help="Start from this trained encoder (a run folder or ctk-small); keeps its architecture."),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Passes over the training fragments (default 10).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps.")] = None,
    loss: Annotated[str, typer.Option(help=f"Loss: {', '.join(LOSS_NAMES)}.")] = TrainConfig.loss,
    positives: Annotated[
        str, typer.Option(help="Positives: track (label-free), playlist, tag, folder.")
    ] = TrainConfig.positives,
    negative_weights: Annotated[
        str,
        typer.Option(help="With --loss soft-infonce, negatives similar to the anchor count less: tags (shared "
                     "genre tags), lyrics (lyric similarity; needs ctk[lyrics]), none (plain InfoNCE)."),
    ] = TrainConfig.negative_weights,
    playlists: Annotated[Path | None, typer.Option(help="Folder of .m3u/.m3u8/MPD .json playlists.")] = None,
    arch: Annotated[str, typer.Option(help="Encoder: transformer or cnn-lstm.")] = EncoderConfig.arch,
    positional: Annotated[str, typer.Option(help=f"Positions: {', '.join(POSITIONALS)}.")] = EncoderConfig.positional,
    d_model: Annotated[int, typer.Option(help="Transformer width.")] = EncoderConfig.d_model,
    layers: Annotated[int, typer.Option(help="Transformer blocks.")] = EncoderConfig.n_layers,
    heads: Annotated[int, typer.Option(help="Attention heads.")] = EncoderConfig.n_heads,
    embedding_dim: Annotated[int, typer.Option(help="Size of the stored embedding.")] = EncoderConfig.embedding_dim,
    input_norm: Annotated[
        str,
        typer.Option(help="Input map: fragment (standardise each fragment: level-blind) or fixed (one dB map: "
                     "level and dynamics stay visible)."),
    ] = EncoderConfig.input_norm,
    seconds: Annotated[float, typer.Option(help="Fragment length in seconds.")] = FragmentConfig.n_seconds,
    crop_seconds: Annotated[
        float | None,
        typer.Option(help="Train on random crops this long (faster; the model still embeds full fragments)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Fragments per batch.")] = TrainConfig.batch_size,
    views: Annotated[int, typer.Option(help="Items per group in a batch (>= 2).")] = TrainConfig.views,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW).")] = TrainConfig.lr,
    schedule: Annotated[str, typer.Option(help="cosine or plateau.")] = TrainConfig.schedule,
    tag_weight: Annotated[
        float, typer.Option(help="Weight of the auxiliary tag-head BCE (0: off).")
    ] = TrainConfig.tag_weight,
    aux_descriptors: Annotated[
        float, typer.Option(help="Weight of an auxiliary head that predicts each fragment's handcrafted `features` "
                            "descriptors from its embedding (MSE; 0: off; the head is not exported).")
    ] = TrainConfig.aux_descriptors,
    track_weight: Annotated[
        float, typer.Option(help="Mixed positives: with group positives (folder, playlist, tag), draw two fragments "
                            "per track and add this weight times the loss with each track its own group (0: off).")
    ] = TrainConfig.track_weight,
    local_crops: Annotated[
        int, typer.Option(help="Multi-crop: each item also gives N crops of half its crop length, more positives "
                          "of its group (0: off).", min=0)
    ] = TrainConfig.local_crops,
    queue: Annotated[
        int, typer.Option("--queue", help="MoCo queue: keep the keys of the last N items (from a momentum copy of "
                          "the model) as more candidates of the loss, positives when of the anchor's group "
                          "(0: off; --loss infonce with group positives, one process).", min=0)
    ] = TrainConfig.queue_size,
    queue_momentum: Annotated[
        float, typer.Option(help="With --queue: the key encoder's weights follow the model's as a moving average "
                            "with this momentum (closer to 1: slower).")
    ] = TrainConfig.queue_momentum,
    val_every: Annotated[
        int, typer.Option(help="Validate every N steps (and at epoch ends N/2+ steps later).")
    ] = TrainConfig.val_every,
    checkpoint_every: Annotated[
        int, typer.Option(help="Save a resumable checkpoint every N steps.")
    ] = TrainConfig.checkpoint_every,
    patience: Annotated[
        int, typer.Option(help="Early stopping after N validations without gain (0: off).")
    ] = TrainConfig.patience,
    ema_decay: Annotated[
        float, typer.Option(help="Export a moving average of the weights with this decay (0: off; e.g. 0.995).")
    ] = TrainConfig.ema_decay,
    seed: Annotated[int, typer.Option(help="Random seed.")] = TrainConfig.seed,
    logger: Annotated[str, typer.Option(help="Also log to: none, tensorboard, wandb.")] = TrainConfig.logger,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1... [default: cuda if present].")] = None,
    devices: Annotated[
        int,
        typer.Option(help="Train on N processes, one per GPU (or N CPU processes without GPUs), under "
                     "DistributedDataParallel; --batch-size stays the global batch. Same as: torchrun "
                     "--nproc-per-node N -m cluster_toolkit.cli.main train ...", min=1),
    ] = 1,
    name: Annotated[str | None, typer.Option(help="Model name stored with the embeddings [default: --out].")] = None,
    dry_run: Annotated[bool, typer.Option(help="Show what would be trained, write nothing.")] = False,
) -> None:
    """Train a contrastive encoder on MUSIC_DIR; no labels needed (fragments of a track are positives)."""
    from embeddings.training.plan import plan_new_run, plan_resume

    if resume is not None:
        if out is not None and out != resume:
            raise UsageError(f"--out {out} and --resume {resume} disagree; --resume continues in its own folder")
        plan = plan_resume(resume, music_dir=music_dir, playlists_dir=playlists, epochs=epochs, max_steps=max_steps)
    else:
        if music_dir is None or out is None:
            raise UsageError("give MUSIC_DIR and --out DIR (or --resume DIR to continue a run)")
        for value, allowed, option in ((positives, POSITIVES, "--positives"), (loss, LOSS_NAMES, "--loss"),
                                       (logger, LOGGERS, "--logger"), (input_norm, INPUT_NORMS, "--input-norm"),
                                       (negative_weights, NEGATIVE_WEIGHTS, "--negative-weights")):
            _choice(value, allowed, option)
        plan = plan_new_run(
            out,
            music_dir=music_dir,
            playlists_dir=playlists,
            init=init,
            seconds=seconds,
            crop_seconds=crop_seconds,
            encoder=dict(arch=arch, positional=positional, d_model=d_model, n_layers=layers, n_heads=heads,
                         embedding_dim=embedding_dim, input_norm=input_norm),
            training=dict(loss=loss, positives=positives, negative_weights=negative_weights,
                          epochs=epochs or TrainConfig.epochs, max_steps=max_steps,
                          batch_size=batch_size, views=views, lr=lr, schedule=schedule, tag_weight=tag_weight,
                          aux_descriptors=aux_descriptors, track_weight=track_weight,
                          local_crops=local_crops, queue_size=queue, queue_momentum=queue_momentum,
                          val_every=val_every, checkpoint_every=checkpoint_every, patience=patience, seed=seed,
                          ema_decay=ema_decay, logger=logger),
        )
    files = hash_training_files(plan.music_dir)
    if dry_run:
        encoder, config = plan.encoder, plan.config
        console.print(
            f"would train {encoder.arch}/{encoder.positional} with {config.loss} on {len(files)} files from "
            f"{plan.music_dir} (positives: {config.positives}, {config.epochs} epochs, batch {config.batch_size}) "
            f"into {plan.out_dir}",
            highlight=False,
        )
        return
    from embeddings.training import train
    from embeddings.training.distributed import launch, launched, process_group

    def bar(progress):
        return TrainingProgressBar(progress, val_every=plan.config.val_every)

    kwargs = {**plan.kwargs(), "name": name, "device": device}

    def here(on_progress):
        return train(files, **kwargs, on_progress=on_progress)

    if launched():  # one process of a torchrun job: rank 0 locks the folder, draws the bar and writes
        with process_group() as world:
            if not world.main:  # it prints only the files of its share that it could not decode
                train(files, **kwargs, on_progress=print_training_event)
                return
            result = run_locked(plan.out_dir, here, bar)
    elif devices > 1:  # the processes of torch's elastic launcher; they print rank 0's progress as lines
        cuda = _has_cuda()
        notice(f"training on {devices} {'GPUs (NCCL)' if cuda else 'CPU processes (gloo)'}; "
               f"batch {plan.config.batch_size} split between them")
        result = run_locked(plan.out_dir, lambda _: launch(
            devices, train, files, **kwargs, on_progress=print_training_event), None)
    else:
        result = run_locked(plan.out_dir, here, bar)
    print_result(result)
    exit_if_interrupted(result, f"ctk train --resume {plan.out_dir}")
