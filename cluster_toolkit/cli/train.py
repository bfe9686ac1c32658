"""``ctk train MUSIC_DIR --out DIR``: train a contrastive encoder on a folder of music (no labels needed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

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
from embeddings.augment import AugmentConfig
from embeddings.checkpoint import load_checkpoint
from embeddings.config import AudioConfig, FragmentConfig
from embeddings.losses import LOSSES
from embeddings.models.config import INPUT_NORMS, POSITIONALS, EncoderConfig
from embeddings.training import TrainConfig, load_resume_configs, train
from embeddings.training.config import LOGGERS, POSITIVES
from embeddings.training.train import LAST


def _choice(value: str, allowed: tuple[str, ...] | list[str], option: str) -> str:
    if value not in allowed:
        raise UsageError(f"{option} {value!r}: expected one of {', '.join(allowed)}")
    return value


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
    loss: Annotated[str, typer.Option(help=f"Loss: {', '.join(LOSSES)}.")] = "infonce",
    positives: Annotated[str, typer.Option(help="Positives: track (label-free), playlist, tag, folder.")] = "track",
    playlists: Annotated[Path | None, typer.Option(help="Folder of .m3u/.m3u8/MPD .json playlists.")] = None,
    arch: Annotated[str, typer.Option(help="Encoder: transformer or cnn-lstm.")] = "transformer",
    positional: Annotated[str, typer.Option(help=f"Positions: {', '.join(POSITIONALS)}.")] = "alibi2d",
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
    tag_weight: Annotated[float, typer.Option(help="Weight of the auxiliary tag-head BCE (0: off).")] = 0.0,
    val_every: Annotated[int, typer.Option(help="Validate every N steps (and at epoch ends N/2+ steps later).")] = 500,
    checkpoint_every: Annotated[int, typer.Option(help="Save a resumable checkpoint every N steps.")] = 200,
    patience: Annotated[int, typer.Option(help="Early stopping after N validations without gain (0: off).")] = 0,
    ema_decay: Annotated[
        float, typer.Option(help="Export a moving average of the weights with this decay (0: off; e.g. 0.995).")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    logger: Annotated[str, typer.Option(help="Also log to: none, tensorboard, wandb.")] = "none",
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1... [default: cuda if present].")] = None,
    name: Annotated[str | None, typer.Option(help="Model name stored with the embeddings [default: --out].")] = None,
    dry_run: Annotated[bool, typer.Option(help="Show what would be trained, write nothing.")] = False,
) -> None:
    """Train a contrastive encoder on MUSIC_DIR; no labels needed (fragments of a track are positives)."""
    playlists_dir = playlists
    init_dir = None  # a resumed run takes its weights from its own last checkpoint
    if resume is not None:
        if out is not None and out != resume:
            raise UsageError(f"--out {out} and --resume {resume} disagree; --resume continues in its own folder")
        encoder, config, audio, fragments, data = load_resume_configs(resume)
        out = resume
        overrides: dict[str, Any] = {}
        if epochs is not None:
            overrides["epochs"] = epochs
        if max_steps is not None:
            overrides["max_steps"] = max_steps
        config = replace(config, **overrides)
        music_dir = music_dir or Path(data.get("music_dir", ""))
        playlists_dir = playlists_dir or (Path(data["playlists_dir"]) if data.get("playlists_dir") else None)
    else:
        if music_dir is None or out is None:
            raise UsageError("give MUSIC_DIR and --out DIR (or --resume DIR to continue a run)")
        if (out / LAST).exists():
            raise UsageError(
                f"{out} already holds a training run; continue it with --resume {out} or pick another --out"
            )
        _choice(positives, POSITIVES, "--positives")
        _choice(loss, list(LOSSES), "--loss")
        _choice(logger, LOGGERS, "--logger")
        _choice(input_norm, list(INPUT_NORMS), "--input-norm")
        if positives == "playlist" and playlists is None:
            raise UsageError("--positives playlist needs --playlists DIR")
        init_dir = None if init is None else resolve_model(init, "--init")
        if init_dir is not None:  # the architecture, front end and fragments are the base model's
            base = load_checkpoint(init_dir)
            encoder, audio, fragments, seconds = base.encoder, base.audio, base.fragments, base.fragments.n_seconds
        else:
            audio = AudioConfig()
            fragments = FragmentConfig(n_seconds=seconds, step=seconds)
            n_frames = 1 + int(round(seconds * audio.sample_rate)) // audio.hop_length
            encoder = EncoderConfig(
                arch=arch,
                positional=positional,
                n_mels=audio.n_mels,
                n_frames=n_frames,
                d_model=d_model,
                n_layers=layers,
                n_heads=heads,
                embedding_dim=embedding_dim,
                input_norm=input_norm,
            )
        config = TrainConfig(
            loss=loss,
            positives=positives,
            epochs=epochs or 10,
            max_steps=max_steps,
            batch_size=batch_size,
            views=views,
            lr=lr,
            schedule=schedule,
            tag_weight=tag_weight,
            val_every=val_every,
            checkpoint_every=checkpoint_every,
            patience=patience,
            seed=seed,
            ema_decay=ema_decay,
            logger=logger,
            augment=AugmentConfig(crop_frames=crop_frames(crop_seconds, seconds, audio)),
        )
    if not music_dir or not Path(music_dir).is_dir():
        raise UsageError(f"{music_dir or '(none saved)'}: not a folder; give MUSIC_DIR")
    music_dir = Path(music_dir).resolve()
    files = hash_training_files(music_dir)
    if dry_run:
        console.print(
            f"would train {encoder.arch}/{encoder.positional} with {config.loss} on {len(files)} files from "
            f"{music_dir} (positives: {config.positives}, {config.epochs} epochs, batch {config.batch_size}) "
            f"into {out}",
            highlight=False,
        )
        return
    out.mkdir(parents=True, exist_ok=True)
    # one run per folder: a second run into the same --out would interleave checkpoints
    with StoreLock(out, command=this_command(), what="run folder"), \
            Progress(*training_columns(), console=err_console, transient=True) as progress:
        result = train(
            files,
            out_dir=out,
            encoder=encoder,
            config=config,
            audio=audio,
            fragments=fragments,
            playlists_dir=playlists_dir,
            source_dir=music_dir,
            name=name,
            init_from=init_dir,
            resume=resume is not None,
            device=device,
            on_progress=TrainingProgressBar(progress, val_every=config.val_every),
        )
    print_result(result)
    if result.status == "interrupted":
        notice(f"interrupted at step {result.step}; checkpoint saved. Continue with: ctk train --resume {out}")
        raise typer.Exit(130)
