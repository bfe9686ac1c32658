"""``ctk export spotify|mpd|subsonic|json PLAYLIST``: send a playlist to a player or service, or convert it to JSON.

PLAYLIST is a playlist file (``.m3u8``, ``.m3u``, ``.json``) or a playlist saved in the store (its id, a
unique id prefix or its name; see ``ctk playlists list``). The players' clients (spotipy, python-mpd2,
requests) are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, LibraryOption, console, err_console, notice
from cluster_toolkit.cli._playlist_common import AbsoluteOption, DryRunOption, print_metrics, write_or_show
from cluster_toolkit.errors import UsageError

if TYPE_CHECKING:
    from cluster_toolkit.store import LibraryStore
    from playlists.library import Library

export_app = typer.Typer(help="Export a playlist to Spotify, MPD, a Subsonic server or JSON.", no_args_is_help=True)

PLAYLIST_SUFFIXES = (".m3u8", ".m3u", ".json")

PlaylistArgument = Annotated[
    str,
    typer.Argument(help="Playlist file (.m3u8, .m3u or .json), or a saved playlist's id or name "
                        "(see `ctk playlists list`).", show_default=False),
]
NameOption = Annotated[str | None, typer.Option("--name", help="Playlist name (default: the file or saved name).")]
UpdateOption = Annotated[bool, typer.Option("--update", help="Replace the songs of your playlist of that name.")]
ThresholdOption = Annotated[float, typer.Option("--threshold", min=0.01, max=1.0,
                                                help="Lowest artist+title match score accepted.")]


def read_playlist_file(path: Path, library: Library, *, store_root: Path | None = None) -> list[str]:
    """Track ids of a playlist file; entries not in the library are reported and skipped.

    Entries are found by path, then by content, then by tags (a moved library still works); the
    error when none is found says how to re-link moved music.
    """
    from cluster_toolkit.store.saved_playlists import locate_playlist_file, moved_music_hint

    found = locate_playlist_file(path, library)
    root = store_root or Path(".ctk")
    if found.missing:
        notice(f"{len(found.missing)} of {len(found.track_ids) + len(found.missing)} entries of {path} are not in "
               f"the library and are skipped: {found.missing[:3]}")
    if not found.track_ids:
        raise UsageError(f"{path}: none of its entries are tracks of the library (by path, content or tags); "
                         f"{moved_music_hint(found, root)}")
    if found.moved:
        notice(moved_music_hint(found, root))
    return found.track_ids


def read_playlist(spec: str, store: LibraryStore, library: Library) -> tuple[list[str], str]:
    """Track ids and default name of PLAYLIST: a file, else a saved playlist of the store."""
    from cluster_toolkit.store.saved_playlists import find_saved_playlist

    path = Path(spec).expanduser()
    if path.is_file():
        return read_playlist_file(path, library, store_root=store.root), path.stem
    if path.suffix.lower() in PLAYLIST_SUFFIXES or path.exists():
        raise UsageError(f"{spec}: no such playlist file")
    saved = find_saved_playlist(store, spec)
    ids = [str(t) for t in saved["track_ids"]]
    known = set(library.track_ids)
    present = [t for t in ids if t in known]
    if len(present) < len(ids):
        notice(f"{len(ids) - len(present)} tracks of saved playlist {saved['playlist_id']} are no longer in the "
               "library and are skipped")
    if not present:
        raise UsageError(f"none of the tracks of saved playlist {saved['playlist_id']} are in the library any more")
    return present, str(saved["name"])


def _load(spec: str, library: Path) -> tuple[LibraryStore, Library, list[str], str]:
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.saved_playlists import load_library

    store = LibraryStore.open(library)
    lib = load_library(store)
    ids, name = read_playlist(spec, store, lib)
    return store, lib, ids, name


def _unmatched_table(rows: list[tuple[str, str, str, str]]) -> None:
    table = Table(title="not matched (not added)")
    for col in ("artist", "title", "best candidate", "why"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _print_matching(result: Any, detail: str = "") -> None:
    """How many tracks a Spotify or Subsonic export matched, the table of those it did not, and its notices."""
    matched = len(result.matches) - len(result.unmatched)
    console.print(f"matched {matched} of {len(result.matches)} tracks" + (f" ({detail})" if detail else ""),
                  highlight=False)
    if result.unmatched:
        _unmatched_table([(m.artist, m.title, m.candidate or "-", m.reason) for m in result.unmatched])
    for text in result.notices:
        notice(text)


@export_app.command("spotify")
def export_spotify_cli(
    playlist: PlaylistArgument,
    name: NameOption = None,
    update: UpdateOption = False,
    public: Annotated[bool, typer.Option("--public", help="Make a new playlist public.")] = False,
    threshold: ThresholdOption = 0.8,
    dry_run: DryRunOption = False,
    library: LibraryOption = DEFAULT_LIBRARY,
) -> None:
    """Put a playlist on Spotify: match tracks by ISRC, then by artist + title; report what did not match.

    Set-up: CTK_SPOTIFY_CLIENT_ID (your app's client id; redirect URI http://127.0.0.1:8888/callback) or an
    access token in CTK_SPOTIFY_TOKEN. See docs/playlists.md.
    """
    from playlists._io import tracks_in_order
    from playlists.spotify import MatchConfig, SpotifyApi, SpotifySettings, export_to_spotify, make_client

    _, lib, ids, default_name = _load(playlist, library)
    tracks = tracks_in_order(lib.tracks, ids)
    def show_login(url: str) -> None:
        notice(f"log in to Spotify: open {url}")

    api = SpotifyApi(make_client(SpotifySettings.from_env(), on_login_url=show_login))
    with err_console.status(f"matching {len(tracks)} tracks on Spotify..."):
        result = export_to_spotify(api, tracks, name=name or default_name, update=update, dry_run=dry_run,
                                   public=public, match=MatchConfig(threshold=threshold))
    by = {how: sum(1 for m in result.matches if m.how == how) for how in ("isrc", "search")}
    _print_matching(result, f"ISRC {by['isrc']}, search {by['search']}")
    if result.dry_run:
        notice(f"dry run: would {result.action} playlist {result.name!r} with {len(result.uris)} items:")
        for request in result.requests:
            console.print(f"  {request}", highlight=False)
        return
    verb = "created" if result.action == "create" else "replaced the items of"
    console.print(f"{verb} {result.name!r} ({len(result.uris)} items): {result.url or result.playlist_id}",
                  highlight=False)


@export_app.command("mpd")
def export_mpd_cli(
    playlist: PlaylistArgument,
    name: NameOption = None,
    host: Annotated[str | None, typer.Option("--host", help="MPD host (default: $MPD_HOST, else localhost; "
                                             "MPD_HOST=password@host gives a password).")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535,
                                             help="MPD port (default: $MPD_PORT, else 6600).")] = None,
    music_dir: Annotated[Path | None, typer.Option(
        "--music-dir", help="The local folder that is MPD's music_directory (default: $CTK_MPD_MUSIC_DIR, else "
                            "asked of MPD or inferred from the tracks' paths).")] = None,
    update: Annotated[bool, typer.Option("--update", help="Replace MPD's stored playlist of that name.")] = False,
    threshold: ThresholdOption = 0.8,
    dry_run: DryRunOption = False,
    library: LibraryOption = DEFAULT_LIBRARY,
) -> None:
    """Write a playlist as a stored playlist of a running MPD: tracks found by path under its music directory,
    else by artist + title; report what is not in MPD's database.
    """
    from playlists._io import tracks_in_order
    from playlists.mpd import MpdSettings, connect_mpd, export_to_mpd

    _, lib, ids, default_name = _load(playlist, library)
    tracks = tracks_in_order(lib.tracks, ids)
    settings = MpdSettings.from_env(host=host, port=port, music_dir=music_dir)
    client = connect_mpd(settings)
    try:
        with err_console.status(f"finding {len(tracks)} tracks in MPD's database..."):
            result = export_to_mpd(client, tracks, name=name or default_name, music_dir=settings.music_dir,
                                   update=update, dry_run=dry_run, threshold=threshold)
    finally:
        client.disconnect()
    by = {how: sum(1 for m in result.matches if m.how == how) for how in ("path", "tags")}
    console.print(f"matched {len(result.uris)} of {len(result.matches)} tracks (path {by['path']}, "
                  f"tags {by['tags']})", highlight=False)
    if result.unmatched:
        _unmatched_table([(m.artist, m.title, m.path, m.reason) for m in result.unmatched])
    for text in result.notices:
        notice(text)
    verb = "create" if result.action == "create" else "replace"
    if result.dry_run:
        notice(f"dry run: would {verb} MPD playlist {result.name!r} with {len(result.uris)} songs")
        for uri in result.uris:
            console.print(f"  {uri}", highlight=False)
        return
    console.print(f"{verb}d MPD playlist {result.name!r} ({len(result.uris)} songs) on {settings.host}:"
                  f"{settings.port}", highlight=False)


@export_app.command("subsonic")
def export_subsonic_cli(
    playlist: PlaylistArgument,
    name: NameOption = None,
    url: Annotated[str | None, typer.Option("--url", help="Server URL (default: $CTK_SUBSONIC_URL, else the "
                                            "config file).")] = None,
    user: Annotated[str | None, typer.Option("--user", help="User (default: $CTK_SUBSONIC_USER).")] = None,
    update: UpdateOption = False,
    threshold: ThresholdOption = 0.8,
    dry_run: DryRunOption = False,
    library: LibraryOption = DEFAULT_LIBRARY,
) -> None:
    """Put a playlist on a Subsonic server (Navidrome, Airsonic, Gonic): songs found with search3 by artist +
    title + duration; report what did not match. The password comes from $CTK_SUBSONIC_PASSWORD.
    """
    from cluster_toolkit.config import load_config
    from playlists._io import tracks_in_order
    from playlists.subsonic import SubsonicApi, SubsonicMatchConfig, SubsonicSettings, export_to_subsonic

    _, lib, ids, default_name = _load(playlist, library)
    tracks = tracks_in_order(lib.tracks, ids)
    settings = SubsonicSettings.from_env(config=load_config().subsonic, url=url, user=user)
    with err_console.status(f"matching {len(tracks)} tracks on {settings.url}..."):
        result = export_to_subsonic(SubsonicApi(settings), tracks, name=name or default_name, update=update,
                                    dry_run=dry_run, match=SubsonicMatchConfig(threshold=threshold))
    _print_matching(result)
    if result.dry_run:
        notice(f"dry run: would {result.action} playlist {result.name!r} with {len(result.song_ids)} songs on "
               f"{settings.url}")
        return
    verb = "created" if result.action == "create" else "replaced the songs of"
    console.print(f"{verb} {result.name!r} ({len(result.song_ids)} songs) on {settings.url}: playlist "
                  f"{result.playlist_id}", highlight=False)


@export_app.command("json")
def export_json_cli(
    playlist: PlaylistArgument,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="JSON file (default: next to PLAYLIST).")] = None,
    name: NameOption = None,
    absolute: AbsoluteOption = False,
    dry_run: DryRunOption = False,
    library: LibraryOption = DEFAULT_LIBRARY,
) -> None:
    """Write a playlist file (or a saved playlist) as JSON with tags and quality metrics."""
    from cluster_toolkit.store.saved_playlists import playlist_from_ids

    _, lib, ids, default_name = _load(playlist, library)
    source = Path(playlist).expanduser()
    if out is None:
        if not source.is_file():
            raise UsageError(f"give --out FILE.json to write saved playlist {playlist!r}")
        out = source.with_suffix(".json")
    if out.suffix.lower() != ".json":
        raise UsageError(f"--out {out}: the JSON export needs a .json file name")
    if source.is_file() and out.resolve() == source.resolve():
        raise UsageError(f"--out {out} would overwrite the playlist being read")
    result = playlist_from_ids(lib, ids, method="file", params={"source": source.name})
    print_metrics(result)
    write_or_show(result, lib, out, name=name or default_name, absolute=absolute, dry_run=dry_run)
