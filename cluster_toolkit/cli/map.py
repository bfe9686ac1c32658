"""``ctk map``: a UMAP map of the library as an interactive HTML page and a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, LibraryOption, console, err_console


def map_cli(
    library: LibraryOption = DEFAULT_LIBRARY,
    out: Annotated[
        Path, typer.Option("--out", "-o", dir_okay=False, help="HTML page to write (PNG beside it).")
    ] = Path("map.html"),
    color: Annotated[
        str,
        typer.Option(help="cluster (newest run), cluster:RUN, genre, folder, or a column / feature name."),
    ] = "cluster",
    neighbors: Annotated[int, typer.Option(min=2, help="UMAP n_neighbors (local vs global structure).")] = 15,
    min_dist: Annotated[float, typer.Option(min=0.0, max=1.0, help="UMAP min_dist (how tightly points pack).")] = 0.1,
    seed: Annotated[int, typer.Option(help="UMAP random seed.")] = 0,
) -> None:
    """Draw the library as a 2-D UMAP map coloured by cluster, tag or any column."""
    from cluster_toolkit.plots.pictures import map_library
    from cluster_toolkit.store import LibraryStore

    store = LibraryStore.open(library)
    n = len(store.tracks())
    with err_console.status(f"UMAP: laying out {n} tracks on a map (minutes for a large library; instant when "
                            "this layout is cached)..."):
        result = map_library(store, out, color=color, n_neighbors=neighbors, min_dist=min_dist, seed=seed)
    cached = " (cached layout)" if result.cached else ""
    console.print(f"{result.n_points} tracks coloured by {result.color}{cached}", highlight=False)
    console.print(f"wrote {result.html}\nwrote {result.png}", highlight=False)
