"""Output and options shared by the playlist commands (playlist, recommend, similar, export)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cluster_toolkit.cli._common import console, notice
from cluster_toolkit.errors import UsageError

if TYPE_CHECKING:
    from playlists.library import Library
    from playlists.playlist import Playlist
    from playlists.rules import PlaylistRules

ArtistWindowOption = Annotated[
    int, typer.Option("--artist-window", min=0, help="No artist twice within this many consecutive tracks (0: off).")
]
NearDuplicatesOption = Annotated[
    bool,
    typer.Option("--allow-near-duplicates", help="Keep tracks with the same artist + title or near-identical sound."),
]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Show what would be written; write nothing.")]
AbsoluteOption = Annotated[
    bool, typer.Option("--absolute", help="Write absolute track paths (default: relative to the playlist file).")
]

METRIC_LABELS = {
    "mean_step": "mean step",
    "max_step": "max step",
    "seed_distance": "distance to seeds",
    "spread": "spread",
    "artist_repetition": "artist repetition",
}


def rules_from(artist_window: int, allow_near_duplicates: bool, *, store=None) -> PlaylistRules:
    """The playlist rules of the flags; the near-duplicate distance is the store's model's calibrated one
    (:mod:`cluster_toolkit.near_duplicates`; a notice when the model has none)."""
    from cluster_toolkit.near_duplicates import near_duplicate_distance
    from playlists.rules import PlaylistRules

    distance, missing = near_duplicate_distance(store.model_id if store is not None else None)
    if missing and store is not None and not allow_near_duplicates:
        notice(missing)
    return PlaylistRules(allow_near_duplicates=allow_near_duplicates, artist_window=artist_window,
                         near_duplicate_distance=distance)


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def print_playlist(playlist: Playlist, library: Library, *, title: str) -> None:
    """The tracks, the quality metrics (one line) and the notices."""
    table = Table(title=title)
    table.add_column("#", justify="right")
    table.add_column("artist", overflow="fold")
    table.add_column("title", overflow="fold")
    table.add_column("genre", overflow="fold")
    idx = library.indices(playlist.track_ids)
    for pos, (artist, name, genre) in enumerate(
        zip(library.column("artist", idx), library.column("title", idx), library.column("genre", idx), strict=True),
        start=1,
    ):
        table.add_row(str(pos), _text(artist), _text(name), _text(genre))
    console.print(table)
    print_metrics(playlist)
    for text in playlist.notices:
        notice(text)


def print_metrics(playlist: Playlist) -> None:
    parts = [f"{label} {playlist.metrics[key]:.3f}" for key, label in METRIC_LABELS.items() if key in playlist.metrics]
    if parts:
        console.print("quality: " + " · ".join(parts), highlight=False)


def render_file(
    playlist: Playlist, library: Library, out: Path, *, name: str | None, absolute: bool
) -> str:
    """The text of ``out`` by its suffix: ``.m3u8``/``.m3u`` (extended M3U) or ``.json``."""
    from playlists.json_export import playlist_json
    from playlists.m3u import m3u8_text

    suffix = out.suffix.lower()
    if suffix in (".m3u8", ".m3u"):
        return m3u8_text(library.tracks, playlist.track_ids, playlist_path=out, relative=not absolute, name=name)
    if suffix == ".json":
        return playlist_json(playlist, library.tracks, name=name, playlist_path=out, relative=not absolute)
    raise UsageError(f"--out {out}: unknown playlist format {suffix!r}; use .m3u8, .m3u or .json")


def write_or_show(playlist: Playlist, library: Library, out: Path, *, name: str | None, absolute: bool,
                  dry_run: bool, quiet: bool = False) -> None:
    """Write the playlist file, or with ``dry_run`` print what would be written (``quiet``: say nothing)."""
    from playlists.json_export import write_json
    from playlists.m3u import write_m3u8

    text = render_file(playlist, library, out, name=name, absolute=absolute)
    if dry_run:
        notice(f"dry run: would write {out} ({len(text.encode('utf-8'))} bytes):")
        console.out(text, end="", highlight=False)
        return
    (write_json if out.suffix.lower() == ".json" else write_m3u8)(text, out)
    if not quiet:
        console.print(f"wrote {out}", highlight=False)


def playlist_doc(playlist: Playlist, library: Library, *, name: str | None) -> dict:
    """The ctk JSON playlist document (absolute paths) as a dict, for ``--json``."""
    import json

    from playlists.json_export import playlist_json

    return json.loads(playlist_json(playlist, library.tracks, name=name, relative=False))
