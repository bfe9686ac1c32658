"""``ctk similar "artist - title"``: the songs that sound most like one song."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cluster_toolkit.cli._playlist_common import (
    PlaylistOptions,
    finish,
    open_playlist_library,
    playlist_options,
    print_explanations,
    print_playlist,
)


class Space(StrEnum):
    audio = "audio"
    lyrics = "lyrics"
    fused = "fused"


@playlist_options
def similar_cli(
    song: Annotated[str, typer.Argument(help="'artist - title', a path or a track id.")],
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="Number of songs.")] = 10,
    explain: Annotated[bool, typer.Option("--explain", help="Show which part of each song matched.")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write .m3u8/.m3u or .json.")] = None,
    space: Annotated[
        Space, typer.Option(help="audio: how it sounds; lyrics: what it says (ctk embed --lyrics); "
                            "fused: both (ctk train-fusion).")
    ] = Space.audio,
    *,
    opts: PlaylistOptions,
) -> None:
    """Show the songs of the library most similar to SONG."""
    from cluster_toolkit.cli._playlist_common import neighbour_index
    from cluster_toolkit.store.saved_playlists import load_fragments, resolve_track
    from playlists.recommend import similar

    store, lib = open_playlist_library(opts.library)
    rules = opts.rules(store)
    if space is Space.audio:
        frags, vectors = load_fragments(store, lib)
        index = neighbour_index(store, frags, vectors, save=not opts.dry_run)
    else:  # one vector per track, searched exactly; the near-duplicate distance is calibrated for audio only
        from dataclasses import replace

        from cluster_toolkit.fusion_library import space_library

        lib, frags, vectors = space_library(store, space.value)
        index, rules = None, replace(rules, near_duplicate_distance=0.0)
    rec = similar(lib, frags, vectors, resolve_track(song, lib), n=n, index=index, rules=rules)
    if not opts.json_out:
        print_playlist(rec.playlist, lib, title=f"similar to {song} ({len(rec.playlist)})")
        if explain:
            print_explanations(rec, title="the song", closest="seed")
    finish(store, rec.playlist, lib, opts, out=out, name=out.stem if out else f"similar {song}",
           extra={"explanations": rec.picks.to_dict("records")})
