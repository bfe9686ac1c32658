"""``ctk clusters list|show|export|assign|delete``: look at, export and extend saved cluster runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cluster_toolkit.cli._cluster_tables import print_clusters, print_metrics
from cluster_toolkit.cli._common import (
    DEFAULT_LIBRARY,
    JsonOption,
    LibraryOption,
    console,
    fmt_number,
    notice,
    print_json,
)

clusters_app = typer.Typer(help="Saved cluster runs: list, show, export, assign new tracks.", no_args_is_help=True)

RunArgument = Annotated[str, typer.Argument(help="Run id, a unique prefix of it, or 'latest'.")]


@clusters_app.command("list")
def list_cli(json_out: JsonOption = False, library: LibraryOption = DEFAULT_LIBRARY) -> None:
    """List the saved cluster runs, oldest first."""
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.runs import list_runs

    store = LibraryStore.open(library)
    runs = list_runs(store)
    rows = [{"run_id": row["run_id"], "method": row["method"], "n_clusters": int(row["n_clusters"]),
             "n_noise": int(row["n_noise"]), "silhouette": json.loads(row["metrics"]).get("internal", {}).get(
                 "silhouette"), "created_at": row["created_at"], "seconds": float(row["seconds"])}
            for _, row in runs.iterrows()]  # fmt: skip
    if json_out:
        print_json(rows)
        return
    if not rows:
        notice(f"no cluster runs in {store.root} yet; run `ctk cluster`")
        return
    wide = console.width >= 100  # on an 80-column terminal the date and the seconds give way to whole numbers
    columns = ["run", "method", "clusters", "noise", "silhouette"] + (["created", "seconds"] if wide else [])
    table = Table(title=f"cluster runs in {store.root}")
    for col in columns:
        table.add_column(col, justify="right" if col in ("clusters", "noise", "silhouette", "seconds") else "left",
                         no_wrap=True, min_width=len(col))  # fmt: skip
    for r in rows:
        cells = [r["run_id"], r["method"], str(r["n_clusters"]), str(r["n_noise"]), fmt_number(r["silhouette"]),
                 r["created_at"][:16].replace("T", " "), f"{r['seconds']:.2f}"]
        table.add_row(*cells[: len(columns)])
    console.print(table)


@clusters_app.command("show")
def show_cli(
    run_id: RunArgument,
    library: LibraryOption = DEFAULT_LIBRARY,
    medoids: Annotated[int, typer.Option(help="Representative tracks per cluster.")] = 3,
    limit: Annotated[int, typer.Option(help="Clusters to list.")] = 50,
    json_out: JsonOption = False,
) -> None:
    """Sizes, representative (medoid) tracks, top genres, cohesion and quality numbers of a run."""
    from cluster_toolkit.reports import cluster_summary
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.runs import load_run, run_dir

    store = LibraryStore.open(library)
    run = load_run(store, run_id)
    tracks, X = store.track_embeddings()
    labels = dict(zip(run.labels["track_id"], run.labels["label"], strict=True))
    keep = tracks["track_id"].isin(labels).to_numpy()
    missing = len(run.labels) - int(keep.sum())
    if missing:
        notice(f"{missing} tracks of the run are no longer in the library")
    tracks = tracks[keep].reset_index(drop=True)
    summary = cluster_summary(tracks, X[keep], tracks["track_id"].map(labels).to_numpy(), n_medoids=medoids)
    if json_out:
        print_json({"run_id": run.run_id, "method": run.method, "params": run.params, "n_clusters": run.n_clusters,
                    "n_noise": run.n_noise, "n_tracks": len(run.labels), "created_at": run.created_at,
                    "metrics": run.metrics, "tracks_gone": missing,
                    "clusters": summary.head(limit).to_dict("records")})  # fmt: skip
        return
    console.print(f"run {run.run_id}: {run.method}, {run.n_clusters} clusters, {run.n_noise} noise, "
                  f"{len(run.labels)} tracks ({int(run.labels['assigned'].sum())} assigned afterwards), "
                  f"made {run.created_at}", highlight=False)  # fmt: skip
    print_metrics(run.metrics)
    print_clusters(summary, limit=limit)
    folder = run_dir(store, run.run_id)
    for picture in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        console.print(f"picture: {picture}", highlight=False)


@clusters_app.command("export")
def export_cli(
    run_id: RunArgument,
    csv: Annotated[Path | None, typer.Option("--csv", dir_okay=False, help="CSV file to write (default: "
                                             "RUN_ID.csv here).")] = None,
    library: LibraryOption = DEFAULT_LIBRARY,
) -> None:
    """Write a run's labels with artist, title, album, genre and path as CSV."""
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.runs import export_run_csv, resolve_run_id

    store = LibraryStore.open(library)
    path = export_run_csv(store, run_id, csv or Path(f"{resolve_run_id(store, run_id)}.csv"))
    console.print(f"wrote {path}", highlight=False)


@clusters_app.command("assign")
def assign_cli(
    run_id: RunArgument,
    library: LibraryOption = DEFAULT_LIBRARY,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the labels, save nothing.")] = False,
) -> None:
    """Give tracks embedded after the run a label in it (approximate: the run is not re-fitted)."""
    from cluster_toolkit.clustering.assign_new import assign_new_tracks
    from cluster_toolkit.store import LibraryStore

    store = LibraryStore.open(library)
    rows, messages = assign_new_tracks(store, run_id, save=not dry_run)
    for message in messages:
        notice(message)
    if rows.empty:
        console.print("no new tracks: every track of the library is in the run", highlight=False)
        return
    tracks = store.tracks().set_index("track_id")
    if dry_run:
        notice("dry run: nothing was saved")
    table = Table(title=f"{len(rows)} new tracks" + ("" if dry_run else " assigned"))
    for col in ("track", "cluster", "strength"):
        table.add_column(col, overflow="fold")
    for _, row in rows.iterrows():
        meta = tracks.loc[row["track_id"]] if row["track_id"] in tracks.index else None
        name = f"{meta['artist']} - {meta['title']}" if meta is not None and isinstance(meta["title"], str) else row[
            "track_id"]  # fmt: skip
        table.add_row(name, "noise" if row["label"] < 0 else str(row["label"]), f"{row['probability']:.2f}")
    console.print(table)


@clusters_app.command("delete")
def delete_cli(run_id: RunArgument, library: LibraryOption = DEFAULT_LIBRARY) -> None:
    """Remove a saved run, its labels and its pictures."""
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.runs import delete_run

    store = LibraryStore.open(library)
    console.print(f"deleted {delete_run(store, run_id)}", highlight=False)
