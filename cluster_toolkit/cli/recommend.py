"""``ctk recommend --liked liked.m3u8``: songs like the ones you like, and why."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, JsonOption, LibraryOption, console, notice, print_json
from cluster_toolkit.cli._playlist_common import (
    AbsoluteOption,
    ArtistWindowOption,
    DryRunOption,
    NearDuplicatesOption,
    playlist_doc,
    print_playlist,
    rules_from,
    write_or_show,
)
from cluster_toolkit.errors import UsageError

if TYPE_CHECKING:
    from cluster_toolkit.store import LibraryStore
    from playlists.library import Library
    from playlists.recommend import Recommendations

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


def _clock(seconds: float) -> str:
    if seconds != seconds:  # NaN: tabular stores have no fragments
        return "-"
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def print_explanations(rec: Recommendations, *, title: str = "liked songs",
                       closest: str = "closest liked song") -> None:
    liked = Table(title=title)
    for col in ("artist", "title", "album", "genre", "fragments"):
        liked.add_column(col, overflow="fold")
    for row in rec.liked.itertuples():
        liked.add_row(*(str(v) if v is not None else "" for v in (row.artist, row.title, row.album, row.genre)),
                      f"{row.n_sampled}/{row.n_fragments}")
    console.print(liked)
    why = Table(title="why each song")
    for col in ("#", "song", "matched at", "distance", closest, "tags"):
        why.add_column(col, overflow="fold")
    for p in rec.picks.itertuples():
        tags = "; ".join(str(v) for v in (p.album, p.genre) if v is not None and v == v and str(v))
        why.add_row(str(p.rank), f"{p.artist} - {p.title}", _clock(p.fragment_start_s), f"{p.distance:.3f}",
                    f"{p.closest_liked} ({p.closest_liked_distance:.3f})", tags)
    console.print(why)


def recommend_cli(
    liked: Annotated[
        list[str],
        typer.Option("--liked", help="A playlist file (.m3u8/.m3u/.json) or one song (repeatable)."),
    ],
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="Number of recommendations.")] = 10,
    explain: Annotated[bool, typer.Option("--explain", help="Show why each song was picked.")] = False,
    sample: Annotated[int, typer.Option("--sample", min=1, help="Liked fragments scored against.")] = 256,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write .m3u8/.m3u or .json.")] = None,
    artist_window: ArtistWindowOption = 0,
    allow_near_duplicates: NearDuplicatesOption = False,
    absolute: AbsoluteOption = False,
    dry_run: DryRunOption = False,
    json_out: JsonOption = False,
    library: LibraryOption = DEFAULT_LIBRARY,
) -> None:
    """Recommend songs from the library that sound like the songs you like."""
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.saved_playlists import load_fragments, load_library
    from playlists.recommend import recommend

    store = LibraryStore.open(library)
    lib = load_library(store)
    frags, vectors = load_fragments(store, lib)
    rec = recommend(lib, frags, vectors, liked_track_ids(liked, lib, store_root=store.root), n=n, sample_size=sample,
                    rules=rules_from(artist_window, allow_near_duplicates, store=store))
    name = out.stem if out else "recommended"
    if not json_out:
        print_playlist(rec.playlist, lib, title=f"recommended ({len(rec.playlist)})")
        if explain:
            print_explanations(rec)
    finish(store, rec, lib, out=out, absolute=absolute, dry_run=dry_run, name=name, json_out=json_out)


def finish(store: LibraryStore, rec: Recommendations, lib: Library, *, out: Path | None, absolute: bool,
           dry_run: bool, name: str, json_out: bool = False) -> None:
    """Write ``--out``, save the playlist in the store (not in a dry run); with ``json_out`` print its JSON."""
    from cluster_toolkit.store.saved_playlists import save_playlist

    if out is not None and not (json_out and dry_run):
        write_or_show(rec.playlist, lib, out, name=name, absolute=absolute, dry_run=dry_run, quiet=json_out)
    pid = None if dry_run else save_playlist(store, rec.playlist, name=name, file=out)
    if json_out:
        doc = playlist_doc(rec.playlist, lib, name=name)
        doc["playlist_id"] = pid
        doc["explanations"] = rec.picks.to_dict("records")
        print_json(doc)
    elif pid:
        console.print(f"saved as {pid} in {store.root}", highlight=False)
