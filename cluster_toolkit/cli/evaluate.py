"""``ctk evaluate --labels folder``: how well the library's embeddings agree with labels it already has."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, LibraryOption, console, err_console, fmt_number
from cluster_toolkit.errors import UsageError


def _ks(text: str) -> list[int]:
    try:
        ks = [int(k) for k in text.split(",") if k.strip()]
    except ValueError:
        raise UsageError(f"--k {text!r}: expected comma-separated integers like 1,5,10") from None
    if not ks or min(ks) < 1:
        raise UsageError(f"--k {text!r}: expected positive integers")
    return ks


def _score(value: float | None) -> str:
    return fmt_number(value, ".3f")


def evaluate_cli(
    labels: Annotated[
        str, typer.Option(help="Reference labels: folder, genre (or tag), playlist, csv:PATH (or a column).")
    ],
    library: LibraryOption = DEFAULT_LIBRARY,
    playlists: Annotated[Path | None, typer.Option(help="Playlist folder for --labels playlist.")] = None,
    k: Annotated[str, typer.Option("--k", help="Cut-offs of Recall@k and mAP@k.")] = "1,5,10",
    folds: Annotated[int, typer.Option(help="Folds of the linear probe.", min=2)] = 5,
    probe_repeats: Annotated[
        int | None,
        typer.Option(help="Shuffles of the probe's folds, averaged [default: enough for ~2,000 test predictions, "
                     "1 to 10].", min=1, show_default=False),
    ] = None,
    kmeans_seeds: Annotated[
        int | None,
        typer.Option(help="k-means runs (seeds) averaged [default: 10 up to 5,000 tracks, then ceil(50,000 / n)].",
                     min=1, show_default=False),
    ] = None,
    seed: Annotated[int, typer.Option(help="First seed of k-means, and seed of the folds and random tracks.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recall@k, mAP@k, k-means NMI/AMI/ARI, linear-probe accuracy and same-vs-random cosine of the
    library's embeddings against LABELS; works with any backend."""
    from cluster_toolkit.evaluate import evaluate_library
    from cluster_toolkit.store import LibraryStore

    store = LibraryStore.open(library)
    with err_console.status(f"evaluating against --labels {labels} (retrieval, k-means, {folds}-fold linear probe)..."):
        report = evaluate_library(
            store, labels, playlists_dir=playlists, ks=_ks(k), folds=folds, repeats=probe_repeats,
            kmeans_seeds=kmeans_seeds, seed=seed,
        )
    if as_json:
        console.print_json(json.dumps(report, default=lambda v: None))
        return
    table = Table(title=f"ctk evaluate --labels {labels}  ({report['model_id']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.caption = ("[low, high]: 95% bootstrap interval over the queries; ±: sd over the k-means seeds, "
                     "over the probe's folds")
    table.add_row("labelled tracks / labels", f"{report['n_labelled']} / {report['n_labels']}")
    for key, value in report["retrieval"].items():
        if key != "n_queries":
            low, high = report["retrieval_ci95"][key]
            table.add_row(key, f"{_score(value)} [{_score(low)}, {_score(high)}]")
    clustering = report["clustering"]
    for key in ("nmi", "ami", "ari"):
        seeds = clustering["kmeans_seeds"]
        table.add_row(f"k-means {key.upper()} (k={clustering['k']}, {seeds} seed{'s' if seeds != 1 else ''})",
                      f"{_score(clustering[key])} ± {_score(clustering[key + '_std'])}")
    probe = report["linear_probe"]
    table.add_row(
        f"linear probe accuracy ({probe['folds']}-fold x {probe['repeats']})",
        f"{_score(probe['accuracy'])} ± {_score(probe['accuracy_std'])} (majority {_score(probe['majority'])})",
    )
    rel = report["relative"]
    same, random = _score(rel["same_label_cosine"]), _score(rel["random_cosine"])
    table.add_row("cosine to same label / random", f"{same} / {random}")
    table.add_row("relative gap (same - random)", _score(rel["gap"]))
    console.print(table)
