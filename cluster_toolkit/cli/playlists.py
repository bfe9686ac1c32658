"""``ctk playlists list|show|export``: the playlists saved in the store by playlist, recommend and similar."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, JsonOption, LibraryOption, console, notice, print_json
from cluster_toolkit.cli._playlist_common import AbsoluteOption, DryRunOption, print_playlist, write_or_show
from cluster_toolkit.errors import UsageError

if TYPE_CHECKING:
    from playlists.library import Library

playlists_app = typer.Typer(help="Saved playlists: list, show, export to a file.", no_args_is_help=True)

SavedArgument = Annotated[str, typer.Argument(help="Saved playlist id, a unique prefix of it, or its name.",
                                               show_default=False)]


def _present(library: Library, track_ids: list[str]) -> list[str]:
    known = set(library.track_ids)
    return [t for t in track_ids if t in known]


@playlists_app.command("list")
def list_cli(json_out: JsonOption = False, library: LibraryOption = DEFAULT_LIBRARY) -> None:
    """List the saved playlists, oldest first."""
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.saved_playlists import list_playlists

    store = LibraryStore.open(library)
    table = list_playlists(store)
    rows = [{"playlist_id": r.playlist_id, "name": r.name, "method": r.method, "length": int(r.length),
             "created_at": r.created_at, "file": r.file} for r in table.itertuples()]
    if json_out:
        print_json(rows)
        return
    if not rows:
        notice(f"no saved playlists in {store.root} yet; `ctk playlist`, `ctk recommend` and `ctk similar` save "
               "theirs")
        return
    out = Table(title=f"saved playlists in {store.root}")
    out.add_column("id", no_wrap=True)
    out.add_column("name", overflow="fold")
    out.add_column("tracks", justify="right")
    out.add_column("created", no_wrap=True)
    out.add_column("file", overflow="fold", min_width=10)
    for r in rows:
        out.add_row(r["playlist_id"], r["name"], str(r["length"]), r["created_at"][:16].replace("T", " "),
                    r["file"] or "-")
    console.print(out)


@playlists_app.command("show")
def show_cli(playlist: SavedArgument, json_out: JsonOption = False, library: LibraryOption = DEFAULT_LIBRARY) -> None:
    """The tracks, parameters and quality numbers of a saved playlist."""
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.saved_playlists import find_saved_playlist, load_library, saved_playlist
    from playlists.json_export import playlist_json

    store = LibraryStore.open(library)
    row = find_saved_playlist(store, playlist)
    lib = load_library(store)
    saved = saved_playlist(row)
    gone = len(saved.track_ids) - len(_present(lib, saved.track_ids))
    saved.track_ids = _present(lib, saved.track_ids)
    if json_out:
        import json

        doc = json.loads(playlist_json(saved, lib.tracks, name=str(row["name"]), relative=False))
        doc.update(playlist_id=row["playlist_id"], created_at=row["created_at"], file=row["file"], tracks_gone=gone)
        print_json(doc)
        return
    console.print(f"{row['playlist_id']}: {row['name']!r}, {row['method']}, made {row['created_at']}",
                  highlight=False)
    if gone:
        notice(f"{gone} of its tracks are no longer in the library")
    print_playlist(saved, lib, title=f"{row['name']} ({len(saved)} tracks)")


@playlists_app.command("export")
def export_cli(
    playlist: SavedArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write: .m3u8, .m3u or .json.")],
    name: Annotated[str | None, typer.Option("--name", help="Playlist name in the file (default: saved name).")]
    = None,
    absolute: AbsoluteOption = False,
    dry_run: DryRunOption = False,
    library: LibraryOption = DEFAULT_LIBRARY,
) -> None:
    """Write a saved playlist to a file again (players: `ctk export mpd|subsonic|spotify ID`)."""
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.saved_playlists import find_saved_playlist, load_library, saved_playlist

    store = LibraryStore.open(library)
    row = find_saved_playlist(store, playlist)
    lib = load_library(store)
    saved = saved_playlist(row)
    present = _present(lib, saved.track_ids)
    if not present:
        raise UsageError(f"none of the tracks of saved playlist {row['playlist_id']} are in the library any more")
    if len(present) < len(saved.track_ids):
        notice(f"{len(saved.track_ids) - len(present)} of its tracks are no longer in the library and are skipped")
    saved.track_ids = present
    write_or_show(saved, lib, out, name=name or str(row["name"]), absolute=absolute, dry_run=dry_run)
