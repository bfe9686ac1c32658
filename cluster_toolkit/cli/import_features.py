"""``ctk import-features TABLE.csv``: make a library from a Spotify-style audio-feature table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, LibraryOption, console, notice
from cluster_toolkit.errors import UsageError


def import_features_cli(
    table: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Feature table (CSV).")],
    library: LibraryOption = DEFAULT_LIBRARY,
    features: Annotated[
        str | None, typer.Option(help="Comma-separated feature columns, or 'numeric': every numeric column but ids, "
                                      "tags and labels (default: the Spotify audio features).")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace a library that holds audio embeddings.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Parse and report, write nothing.")] = False,
) -> None:
    """Import a feature table so that clustering, maps and playlists work on it as on audio."""
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.tabular import import_features, read_feature_table

    chosen = [f.strip() for f in features.split(",") if f.strip()] if features else None
    if dry_run:
        parsed = read_feature_table(table, features=chosen)
    else:
        store = LibraryStore.open(library, create=True)
        if store.model_id and store.meta.get("source") != "tabular" and not replace:
            raise UsageError(
                f"{store.root} holds audio embeddings ({store.model_id}); importing a feature table replaces them. "
                "Use another --library, or --replace"
            )
        parsed = import_features(store, table, features=chosen)
    summary = Table(title=f"{table.name} ({parsed.layout} layout)" + (" (dry run)" if dry_run else ""),
                    show_header=False)  # fmt: skip
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("rows read", str(parsed.n_rows_read))
    summary.add_row("tracks", str(len(parsed.tracks)))
    summary.add_row("duplicates merged", str(parsed.n_merged))
    summary.add_row("missing values imputed", str(parsed.n_imputed))
    summary.add_row("features (standardised)", ", ".join(parsed.columns))
    console.print(summary)
    if parsed.infinite:
        counts = ", ".join(f"{c} ({n})" for c, n in parsed.infinite.items())
        notice(f"infinite values treated as missing and imputed: {counts}")
    if parsed.dropped:
        notice(f"constant columns dropped: {', '.join(parsed.dropped)}")
    if not dry_run:
        where = Path(library).expanduser().absolute()
        console.print(f"library {where} ready: try `ctk cluster --method kmeans --k auto`", highlight=False)
