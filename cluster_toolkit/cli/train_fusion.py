"""``ctk train-fusion --out DIR``: train the audio + lyrics fusion model on the library's stored vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, LibraryOption, console, err_console
from embeddings.fusion_config import NEGATIVE_WEIGHTS, FusionTrainConfig

_DEFAULTS = FusionTrainConfig()


def train_fusion_cli(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the fusion checkpoint and metrics.jsonl.")],
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps.")] = _DEFAULTS.steps,
    batch_size: Annotated[int, typer.Option("--batch-size", min=2, help="Tracks per step.")] = _DEFAULTS.batch_size,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="AdamW learning rate.")] = _DEFAULTS.lr,
    positives: Annotated[
        str, typer.Option("--positives", help="Extra positives: track (none), folder, tag (first genre).")
    ] = "track",
    negative_weights: Annotated[
        str,
        typer.Option("--negative-weights", help=f"{' | '.join(NEGATIVE_WEIGHTS)}: Soft InfoNCE by lyric similarity."),
    ] = _DEFAULTS.negative_weights,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = _DEFAULTS.seed,
    library: LibraryOption = DEFAULT_LIBRARY,
) -> None:
    """Train the audio + lyrics fusion model on the library's vectors (after `ctk embed --lyrics`).

    Audio tokens are the stored fragment vectors, lyric tokens the stored lyric line-run vectors; fused and
    audio-only views of each track are positives. Saves the model to --out and every track's fused vector
    to the store's fused_embeddings table.
    """
    from cluster_toolkit.fusion_library import train_fusion_library
    from cluster_toolkit.store import LibraryStore

    config = FusionTrainConfig(steps=steps, batch_size=batch_size, lr=lr, negative_weights=negative_weights, seed=seed)
    store = LibraryStore.open(library)
    with store.writing(), err_console.status(f"training the fusion model for {steps} steps..."):
        done = train_fusion_library(store, out, config=config, positives=positives)
    losses = done.result.losses
    console.print(
        f"fusion model: {done.tracks} tracks ({done.with_lyrics} with lyrics), loss {losses[0]:.3f} -> "
        f"{losses[-1]:.3f}; saved to {out}; fused vectors in {store.root / 'fused_embeddings.parquet'}",
        highlight=False, soft_wrap=True,
    )
