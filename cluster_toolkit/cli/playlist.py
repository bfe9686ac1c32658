"""``ctk playlist``: convex-hull walks (seed hull, cluster onion) and song paths."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cluster_toolkit.cli._common import console, err_console
from cluster_toolkit.cli._playlist_common import (
    PlaylistOptions,
    finish,
    open_playlist_library,
    playlist_options,
    print_playlist,
    write_or_show,
)
from cluster_toolkit.errors import UsageError

if TYPE_CHECKING:
    from cluster_toolkit.store import LibraryStore
    from playlists.library import Library
    from playlists.playlist import Playlist
    from playlists.projection import ProjectionConfig
    from playlists.rules import PlaylistRules


def make_playlist(
    store: LibraryStore,
    library: Library,
    *,
    hull: bool,
    seeds: list[str],
    cluster: str | None,
    outward: bool,
    path: tuple[str, str] | None,
    length: int,
    projection: ProjectionConfig,
    margin: float,
    rules: PlaylistRules,
    hull_space: str = "seeds",
    hull_select: str | None = None,
    core: float | None = None,
) -> Playlist:
    """Validate the option combination and run the generator it names."""
    from cluster_toolkit.store.saved_playlists import cluster_members, resolve_track
    from playlists.hull import CORE, hull_walk
    from playlists.onion import onion_walk
    from playlists.path import song_path

    if hull == (path is not None):
        raise UsageError("choose one generator: --hull (with --seeds or --cluster) or --path A B")
    if path is not None:
        if seeds or cluster or outward:
            raise UsageError("--path takes its two ends itself; drop --seeds/--cluster/--outward")
        start, end = (resolve_track(p, library) for p in path)
        return song_path(library, start, end, length=length, rules=rules)
    if bool(seeds) == bool(cluster):
        raise UsageError("--hull needs either --seeds (one or more) or --cluster RUN:LABEL")
    if cluster:
        members, label = cluster_members(store, cluster)
        present = [m for m in members if m in set(library.track_ids)]
        if not present:
            raise UsageError(f"none of the {len(members)} tracks of {label} are in the library any more")
        return onion_walk(library, present, length=length, outward=outward, projection=projection,
                          rules=rules, label=label)
    if outward:
        raise UsageError("--outward applies to --cluster walks only")
    if hull_select not in (None, "core", "cover"):
        raise UsageError(f"--hull-select {hull_select!r}: give core or cover")
    if hull_space != "seeds" and (hull_select == "core" or core is not None):
        raise UsageError("--core and --hull-select core need --hull-space seeds")
    if hull_select == "cover" and core is not None:
        raise UsageError("--core applies to --hull-select core only")
    return hull_walk(library, [resolve_track(s, library) for s in seeds], length=length, projection=projection,
                     margin=margin, rules=rules, space=hull_space, selection=hull_select,
                     core=CORE if core is None else core)


def per_cluster_playlists(
    store: LibraryStore, library: Library, run_spec: str, *, length: int, outward: bool,
    projection: ProjectionConfig, rules: PlaylistRules,
) -> list[tuple[int, str, Playlist]]:
    """One onion walk per cluster of run ``run_spec`` (noise left out): ``(label, cluster name, playlist)``."""
    from cluster_toolkit.reports import cluster_names
    from cluster_toolkit.store.runs import load_run
    from playlists.onion import onion_walk

    run = load_run(store, run_spec)
    rows = run.labels[run.labels["track_id"].astype(str).isin(set(library.track_ids))]
    if rows.empty or not (rows["label"] >= 0).any():
        raise UsageError(f"run {run.run_id} has no cluster with tracks in the library")
    order = library.indices(rows["track_id"].astype(str)).tolist()
    names = cluster_names(library.tracks.iloc[order], rows["label"].to_numpy())
    out = []
    for label in sorted(int(x) for x in rows["label"].unique() if int(x) >= 0):
        members = rows.loc[rows["label"] == label, "track_id"].astype(str).tolist()
        walk = onion_walk(library, members, length=length, outward=outward, projection=projection, rules=rules,
                          label=f"cluster {label} of run {run.run_id}")
        out.append((label, names[label], walk))
    return out


def _file_name(label: int, name: str, suffix: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in " -_.%" else "_" for ch in name.replace("·", "-")).strip()
    return f"cluster-{label:02d} {safe[:60]}".rstrip() + suffix


@playlist_options
def playlist_cli(
    hull: Annotated[bool, typer.Option("--hull", help="Convex-hull walk of --seeds or of a --cluster.")] = False,
    seeds: Annotated[
        list[str] | None,
        typer.Option("--seeds", "-s", help="Seed track: 'artist - title', a path or a track id (repeatable)."),
    ] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="RUN:LABEL of a saved clustering (RUN may be 'latest').")
    ] = None,
    outward: Annotated[bool, typer.Option("--outward", help="Onion walk from the core outwards.")] = False,
    path: Annotated[
        tuple[str, str] | None, typer.Option("--path", help="Song path from A to B: --path A B.")
    ] = None,
    per_cluster: Annotated[
        str | None, typer.Option("--per-cluster", help="RUN: one onion-walk playlist per cluster of a saved run, "
                                 "written into the folder --out DIR/ (.m3u8, or .json with --format json).")
    ] = None,
    file_format: Annotated[str, typer.Option("--format", help="--per-cluster files: m3u8 or json.")] = "m3u8",
    length: Annotated[int, typer.Option("--length", "-n", min=1, help="Number of tracks.")] = 25,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write .m3u8/.m3u or .json.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Playlist name (default: the file name).")] = None,
    hull_space: Annotated[
        str, typer.Option("--hull-space", help="Seed hulls: 'seeds' (the seeds' own span, distances in the full "
                          "space) or 'projection' (a --dims projection of the whole library).")
    ] = "seeds",
    dims: Annotated[int, typer.Option("--dims", min=2, max=8, help="Projection dimension for cluster hulls "
                                      "and --hull-space projection.")] = 3,
    projection: Annotated[str, typer.Option("--projection", help="pca or umap.")] = "pca",
    margin: Annotated[float, typer.Option("--margin", min=0.0, help="Seed hull margin (fraction of the "
                                          "library's radius): how far outside the hull a track counts as "
                                          "inside (--hull-select cover).")] = 0.05,
    hull_select: Annotated[
        str | None, typer.Option("--hull-select", help="Seed hulls: 'core' (the tracks nearest the hull's core; "
                                 "the default in the seeds' span) or 'cover' (the tracks inside the hull and "
                                 "--margin, spread over it; the former default).")
    ] = None,
    core: Annotated[
        float | None, typer.Option("--core", min=0.0, max=1.0, help="Seed hulls, --hull-select core: the core's "
                                   "size relative to the hull (1 = the whole hull, 0 = the seeds' centre; "
                                   "default 0.3).")
    ] = None,
    *,
    opts: PlaylistOptions,
) -> None:
    """Make a playlist: walk the hull of seed songs or of a cluster, or a path from song A to song B."""
    from cluster_toolkit.store.saved_playlists import save_playlist
    from playlists.projection import ProjectionConfig

    store, lib = open_playlist_library(opts.library)
    if per_cluster is not None:
        if hull or seeds or cluster or path:
            raise UsageError("--per-cluster makes its own playlists; drop --hull/--seeds/--cluster/--path")
        if out is None:
            raise UsageError("--per-cluster needs --out DIR/ (the folder for the playlists)")
        if file_format not in ("m3u8", "json"):
            raise UsageError(f"--format {file_format!r}: give m3u8 or json")
        with err_console.status(f"making one playlist per cluster of run {per_cluster}..."):
            made = per_cluster_playlists(store, lib, per_cluster, length=length, outward=outward,
                                         projection=ProjectionConfig(method=projection, n_components=dims),
                                         rules=opts.rules(store))
        for label, cluster_name, walk in made:
            file = out / _file_name(label, cluster_name, "." + file_format)
            title = f"cluster {label}: {cluster_name}"
            console.print(f"{title} ({len(walk)} tracks) -> {file}", highlight=False)
            write_or_show(walk, lib, file, name=title, absolute=opts.absolute, dry_run=opts.dry_run)
            if not opts.dry_run:
                save_playlist(store, walk, name=title, file=file)
        console.print(f"{len(made)} playlists, one per cluster of run {per_cluster}", highlight=False)
        return
    where = "the seeds' span" if seeds and hull_space == "seeds" else f"{projection.upper()} projection"
    with err_console.status(f"making the playlist ({where} of {len(lib.track_ids)} tracks)..."):
        playlist = make_playlist(
            store, lib, hull=hull, seeds=list(seeds or []), cluster=cluster, outward=outward, path=path,
            length=length, projection=ProjectionConfig(method=projection, n_components=dims), margin=margin,
            rules=opts.rules(store), hull_space=hull_space, hull_select=hull_select, core=core,
        )
    title = name or (out.stem if out else f"{playlist.method} playlist")
    if not opts.json_out:
        print_playlist(playlist, lib, title=f"{title} ({len(playlist)} tracks)")
    finish(store, playlist, lib, opts, out=out, name=title)
