"""``ctk recommend --liked liked.m3u8``: songs like the ones you like, and why."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cluster_toolkit.cli._common import notice
from cluster_toolkit.cli._playlist_common import (
    PlaylistOptions,
    finish,
    open_playlist_library,
    playlist_options,
    print_explanations,
    print_playlist,
)
from cluster_toolkit.errors import UsageError

if TYPE_CHECKING:
    from playlists.library import Library

PLAYLIST_SUFFIXES = (".m3u8", ".m3u", ".json")


def liked_track_ids(specs: list[str], library: Library, *, store_root: Path | None = None) -> list[str]:
    """Track ids from playlist files (``.m3u8``/``.m3u``/``.json``) and single seeds."""
    from cluster_toolkit.store.saved_playlists import locate_playlist_file, moved_music_hint, resolve_track

    ids: list[str] = []
    for spec in specs:
        path = Path(spec)
        if path.suffix.lower() in PLAYLIST_SUFFIXES:
            if not path.is_file():
                raise UsageError(f"--liked {spec}: no such playlist file")
            found = locate_playlist_file(path, library)
            if found.missing:
                notice(f"{len(found.missing)} entries of {path} are not in the library and are ignored: "
                       f"{found.missing[:3]}")
            if found.moved or not found.track_ids:
                notice(moved_music_hint(found, store_root or Path(".ctk")))
            ids.extend(found.track_ids)
        else:
            ids.append(resolve_track(spec, library))
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise UsageError(f"no liked song of {specs} is in the library")
    return ids


@playlist_options
def recommend_cli(
    liked: Annotated[
        list[str],
        typer.Option("--liked", help="A playlist file (.m3u8/.m3u/.json) or one song (repeatable)."),
    ],
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="Number of recommendations.")] = 10,
    explain: Annotated[bool, typer.Option("--explain", help="Show why each song was picked.")] = False,
    sample: Annotated[int, typer.Option("--sample", min=1, help="Liked fragments scored against.")] = 256,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write .m3u8/.m3u or .json.")] = None,
    *,
    opts: PlaylistOptions,
) -> None:
    """Recommend songs from the library that sound like the songs you like."""
    from cluster_toolkit.cli._playlist_common import neighbour_index
    from cluster_toolkit.store.saved_playlists import load_fragments
    from playlists.recommend import recommend

    store, lib = open_playlist_library(opts.library)
    frags, vectors = load_fragments(store, lib)
    rec = recommend(lib, frags, vectors, liked_track_ids(liked, lib, store_root=store.root), n=n, sample_size=sample,
                    index=neighbour_index(store, frags, vectors, save=not opts.dry_run), rules=opts.rules(store))
    if not opts.json_out:
        print_playlist(rec.playlist, lib, title=f"recommended ({len(rec.playlist)})")
        if explain:
            print_explanations(rec)
    finish(store, rec.playlist, lib, opts, out=out, name=out.stem if out else "recommended",
           extra={"explanations": rec.picks.to_dict("records")})
