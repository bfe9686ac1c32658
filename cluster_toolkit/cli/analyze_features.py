"""``ctk analyze-features``: distributions, correlations and features-by-cluster views of a feature table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, LibraryOption, console


def analyze_features_cli(
    library: LibraryOption = DEFAULT_LIBRARY,
    run: Annotated[
        str | None, typer.Option(help="Cluster run for the features-by-cluster view ('latest' works).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", file_okay=False, help="Folder for the PNGs (default <library>/analysis)."),
    ] = None,
) -> None:
    """Write the data-analysis views of a library made by `ctk import-features`."""
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.protocol import side_folder
    from cluster_toolkit.store.tabular import analyze_features

    store = LibraryStore.open(library)  # an S3 library's PNGs go to its local side folder
    views = analyze_features(store, out or side_folder(store) / "analysis", run_id=run)
    for name, path in views.items():
        console.print(f"{name}: {path}", highlight=False)
