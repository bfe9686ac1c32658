"""``ctk heatmap QUERY...``: cosine similarity heatmap of a handful of tracks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, LibraryOption, console


def heatmap_cli(
    queries: Annotated[list[str], typer.Argument(help="Track ids, id prefixes, or parts of artist/title/path.")],
    library: LibraryOption = DEFAULT_LIBRARY,
    out: Annotated[Path, typer.Option("--out", "-o", dir_okay=False, help="PNG to write.")] = Path("similarity.png"),
) -> None:
    """Track-by-track similarity heatmap of the tracks the queries pick."""
    from cluster_toolkit.plots.pictures import heatmap_library
    from cluster_toolkit.store import LibraryStore

    store = LibraryStore.open(library)
    path, names = heatmap_library(store, queries, out)
    console.print(f"{len(names)} tracks: " + "; ".join(names), highlight=False)
    console.print(f"wrote {path}", highlight=False)
