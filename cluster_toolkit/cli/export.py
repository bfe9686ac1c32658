"""``ctk export spotify|json PLAYLIST``: send a playlist file to Spotify, or convert it to JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, LibraryOption, console, notice
from cluster_toolkit.cli._playlist_common import AbsoluteOption, DryRunOption, print_metrics, write_or_show
from cluster_toolkit.errors import UsageError
from cluster_toolkit.saved_playlists import load_library, playlist_file_track_ids, playlist_from_ids
from cluster_toolkit.store import LibraryStore
from playlists._io import tracks_in_order
from playlists.library import Library
from playlists.spotify import (
    MatchConfig,
    SpotifyApi,
    SpotifyExport,
    SpotifySettings,
    export_to_spotify,
    make_client,
)

export_app = typer.Typer(help="Export a playlist file to Spotify or to JSON.", no_args_is_help=True)

PlaylistArgument = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Playlist file (.m3u8, .m3u or .json).")
]


def read_playlist_file(path: Path, library: Library) -> list[str]:
    """Track ids of a playlist file; entries not in the library are reported and skipped."""
    ids, missing = playlist_file_track_ids(path, library)
    if missing:
        notice(f"{len(missing)} of {len(ids) + len(missing)} entries of {path} are not in the library and are "
               f"skipped: {missing[:3]}")
    if not ids:
        raise UsageError(f"{path}: none of its entries are tracks of the library")
    return ids


def print_spotify_result(result: SpotifyExport) -> None:
    matched = len(result.matches) - len(result.unmatched)
    by = {how: sum(1 for m in result.matches if m.how == how) for how in ("isrc", "search")}
    console.print(f"matched {matched} of {len(result.matches)} tracks (ISRC {by['isrc']}, search {by['search']})",
                  highlight=False)
    if result.unmatched:
        table = Table(title="not matched (not added)")
        for col in ("artist", "title", "best candidate", "why"):
            table.add_column(col, overflow="fold")
        for m in result.unmatched:
            table.add_row(m.artist, m.title, m.candidate or "-", m.reason)
        console.print(table)
    for text in result.notices:
        notice(text)
    if result.dry_run:
        notice(f"dry run: would {result.action} playlist {result.name!r} with {len(result.uris)} items:")
        for request in result.requests:
            console.print(f"  {request}", highlight=False)
        return
    verb = "created" if result.action == "create" else "replaced the items of"
    console.print(f"{verb} {result.name!r} ({len(result.uris)} items): {result.url or result.playlist_id}",
                  highlight=False)


@export_app.command("spotify")
def export_spotify_cli(
    playlist: PlaylistArgument,
    name: Annotated[str | None, typer.Option("--name", help="Spotify playlist name (default: file name).")] = None,
    update: Annotated[bool, typer.Option("--update", help="Replace the items of your playlist of that name.")] = False,
    public: Annotated[bool, typer.Option("--public", help="Make a new playlist public.")] = False,
    threshold: Annotated[float, typer.Option("--threshold", min=0.01, max=1.0,
                                             help="Lowest artist+title match score accepted.")] = 0.8,
    dry_run: DryRunOption = False,
    library: LibraryOption = DEFAULT_LIBRARY,
) -> None:
    """Put a playlist on Spotify: match tracks by ISRC, then by artist + title; report what did not match.

    Set-up: CTK_SPOTIFY_CLIENT_ID (your app's client id; redirect URI http://127.0.0.1:8888/callback) or an
    access token in CTK_SPOTIFY_TOKEN. See docs/playlists.md.
    """
    lib = load_library(LibraryStore.open(library))
    tracks = tracks_in_order(lib.tracks, read_playlist_file(playlist, lib))
    def show_login(url: str) -> None:
        notice(f"log in to Spotify: open {url}")

    api = SpotifyApi(make_client(SpotifySettings.from_env(), on_login_url=show_login))
    result = export_to_spotify(api, tracks, name=name or playlist.stem, update=update, dry_run=dry_run,
                               public=public, match=MatchConfig(threshold=threshold))
    print_spotify_result(result)


@export_app.command("json")
def export_json_cli(
    playlist: PlaylistArgument,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="JSON file (default: next to PLAYLIST).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Playlist name (default: file name).")] = None,
    absolute: AbsoluteOption = False,
    dry_run: DryRunOption = False,
    library: LibraryOption = DEFAULT_LIBRARY,
) -> None:
    """Write a playlist file as JSON with tags and quality metrics."""
    lib = load_library(LibraryStore.open(library))
    out = out or playlist.with_suffix(".json")
    if out.suffix.lower() != ".json":
        raise UsageError(f"--out {out}: the JSON export needs a .json file name")
    if out.resolve() == playlist.resolve():
        raise UsageError(f"--out {out} would overwrite the playlist being read")
    result = playlist_from_ids(lib, read_playlist_file(playlist, lib), method="file",
                               params={"source": playlist.name})
    print_metrics(result)
    write_or_show(result, lib, out, name=name or playlist.stem, absolute=absolute, dry_run=dry_run)
