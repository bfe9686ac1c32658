"""Output and options shared by the playlist commands (playlist, recommend, similar, export).

``ctk playlist``, ``ctk recommend`` and ``ctk similar`` take the same six options (:class:`PlaylistOptions`,
added to each by :func:`playlist_options`), open the store the same way (:func:`open_playlist_library`) and end
the same way (:func:`finish`: write ``--out``, save in the store, print JSON or where it was saved).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, JsonOption, LibraryOption, console, notice, print_json
from cluster_toolkit.errors import UsageError

if TYPE_CHECKING:
    from cluster_toolkit.store import LibraryStore
    from playlists.library import Library
    from playlists.playlist import Playlist
    from playlists.recommend import Recommendations
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



@dataclass(frozen=True)
class PlaylistOptions:
    """The options every playlist-making command takes, after its own ones."""

    artist_window: int = 0
    allow_near_duplicates: bool = False
    absolute: bool = False
    dry_run: bool = False
    json_out: bool = False
    library: Path = DEFAULT_LIBRARY

    def rules(self, store: LibraryStore) -> PlaylistRules:
        return rules_from(self.artist_window, self.allow_near_duplicates, store=store)


_OPTION_TYPES = {
    "artist_window": ArtistWindowOption,
    "allow_near_duplicates": NearDuplicatesOption,
    "absolute": AbsoluteOption,
    "dry_run": DryRunOption,
    "json_out": JsonOption,
    "library": LibraryOption,
}


def playlist_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add :class:`PlaylistOptions`' options to ``command``'s own (Typer reads the signature) and hand them to
    it as its ``opts`` argument."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "opts"]
    shared = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                annotation=_OPTION_TYPES[f.name]) for f in fields(PlaylistOptions)]

    @functools.wraps(command)
    def with_options(**kwargs: Any) -> None:
        opts = PlaylistOptions(**{f.name: kwargs.pop(f.name) for f in fields(PlaylistOptions)})
        command(**kwargs, opts=opts)

    with_options.__signature__ = inspect.Signature(own + shared)  # type: ignore[attr-defined]
    with_options.__annotations__ = {p.name: p.annotation for p in own + shared}
    return with_options


def open_playlist_library(path: Path) -> tuple[LibraryStore, Library]:
    """The store at ``path`` and its ``ok`` tracks as a playlist :class:`~playlists.library.Library`."""
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.saved_playlists import load_library

    store = LibraryStore.open(path)
    return store, load_library(store)


def finish(store: LibraryStore, playlist: Playlist, lib: Library, opts: PlaylistOptions, *, out: Path | None,
           name: str, extra: dict[str, Any] | None = None) -> None:
    """Write ``--out`` and save the playlist in the store (neither in a dry run); with ``--json`` print its
    document (``playlist_id`` and ``extra`` added), else where it was saved."""
    from cluster_toolkit.store.saved_playlists import save_playlist

    if out is not None and not (opts.json_out and opts.dry_run):
        write_or_show(playlist, lib, out, name=name, absolute=opts.absolute, dry_run=opts.dry_run,
                      quiet=opts.json_out)
    pid = None if opts.dry_run else save_playlist(store, playlist, name=name, file=out)
    if opts.json_out:
        print_json({**playlist_doc(playlist, lib, name=name), "playlist_id": pid, **(extra or {})})
    elif pid:
        console.print(f"saved as {pid} in {store.root}", highlight=False)


def _clock(seconds: float) -> str:
    if seconds != seconds:  # NaN: tabular stores have no fragments
        return "-"
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def print_explanations(rec: Recommendations, *, title: str = "liked songs",
                       closest: str = "closest liked song") -> None:
    """The liked (or seed) songs and why each recommended song was picked."""
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


METRIC_LABELS = {
    "mean_step": "mean step",
    "max_step": "max step",
    "seed_distance": "distance to seeds",
    "spread": "spread",
    "artist_repetition": "artist repetition",
}


def rules_from(artist_window: int, allow_near_duplicates: bool, *, store=None) -> PlaylistRules:
    """The playlist rules of the flags; the near-duplicate distance (and the dimensions it compares) is the
    store's model's calibrated one (:mod:`cluster_toolkit.near_duplicates`; a notice when the model has none)."""
    from cluster_toolkit.near_duplicates import fragment_seconds, near_duplicate_rule
    from playlists.rules import PlaylistRules

    model = store.model_id if store is not None else None
    n_seconds = fragment_seconds(store.meta) if store is not None else None
    distance, dims, missing = near_duplicate_rule(model, n_seconds=n_seconds)
    if missing and store is not None and not allow_near_duplicates:
        notice(missing)
    return PlaylistRules(allow_near_duplicates=allow_near_duplicates, artist_window=artist_window,
                         near_duplicate_distance=distance, near_duplicate_dims=dims)


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


def neighbour_index(store, fragments, vectors, *, save: bool = True):
    """The fragment index for ``recommend``/``similar``
    (:func:`cluster_toolkit.store.neighbour_index.open_fragment_index`), with a notice when it was built or
    updated (``save=False``: a dry run, nothing stored)."""
    from cluster_toolkit.cli._common import err_console
    from cluster_toolkit.store.neighbour_index import open_fragment_index

    with err_console.status(f"opening the neighbour index of {len(fragments)} fragments (building it the first time "
                            "takes minutes for millions)..."):
        index, report = open_fragment_index(store, fragments, vectors, save=save)
    if report.status in ("built", "updated"):
        change = f" (+{report.added} -{report.removed} fragments)" if report.status == "updated" else ""
        notice(f"neighbour index {report.status}{change}: {report.kind}, {report.n} fragments, nprobe {report.nprobe}, "
               f"recall@10 {report.recall_at_10:.3f} measured" + (f"; {report.reason}" if report.reason else ""))
    elif report.reason:
        notice(report.reason)
    return index
