"""``ctk similar "artist - title"``: the songs that sound most like one song."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, JsonOption, LibraryOption
from cluster_toolkit.cli._playlist_common import (
    AbsoluteOption,
    ArtistWindowOption,
    DryRunOption,
    NearDuplicatesOption,
    print_playlist,
    rules_from,
)
from cluster_toolkit.cli.recommend import finish, print_explanations


def similar_cli(
    song: Annotated[str, typer.Argument(help="'artist - title', a path or a track id.")],
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="Number of songs.")] = 10,
    explain: Annotated[bool, typer.Option("--explain", help="Show which part of each song matched.")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write .m3u8/.m3u or .json.")] = None,
    artist_window: ArtistWindowOption = 0,
    allow_near_duplicates: NearDuplicatesOption = False,
    absolute: AbsoluteOption = False,
    dry_run: DryRunOption = False,
    json_out: JsonOption = False,
    library: LibraryOption = DEFAULT_LIBRARY,
) -> None:
    """Show the songs of the library most similar to SONG."""
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.saved_playlists import load_fragments, load_library, resolve_track
    from playlists.recommend import similar

    store = LibraryStore.open(library)
    lib = load_library(store)
    frags, vectors = load_fragments(store, lib)
    seed = resolve_track(song, lib)
    rec = similar(lib, frags, vectors, seed, n=n, rules=rules_from(artist_window, allow_near_duplicates, store=store))
    if not json_out:
        print_playlist(rec.playlist, lib, title=f"similar to {song} ({len(rec.playlist)})")
        if explain:
            print_explanations(rec, title="the song", closest="seed")
    finish(store, rec, lib, out=out, absolute=absolute, dry_run=dry_run, name=out.stem if out else f"similar {song}",
           json_out=json_out)
