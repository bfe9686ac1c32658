"""``ctk status``: what is in a library store."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, JsonOption, LibraryOption, console, notice, print_json


def fragment_plan(meta: dict[str, Any]) -> dict[str, Any] | None:
    """How ``ctk embed`` cuts the library's tracks, by option name (:func:`~cluster_toolkit.cli.embed.recorded_plan`;
    ``None``: no audio analysed, e.g. a store of imported features)."""
    from cluster_toolkit.cli.embed import PLAN_OPTIONS, recorded_plan

    if not isinstance(meta.get("fragment"), dict):
        return None
    plan = recorded_plan(meta)
    return {option: plan.get(option) for option in PLAN_OPTIONS}


def describe_plan(plan: dict[str, Any] | None) -> str:
    """``5 s every 5 s, 10 sampled per track`` (or ``every fragment`` with full coverage); ``-`` for none."""
    if plan is None:
        return "-"
    try:
        cut = f"{float(plan['n_seconds']):g} s every {float(plan['step']):g} s"
    except (TypeError, ValueError):
        return "?"
    return f"{cut}, " + ("every fragment" if plan["coverage"] == "full" else f"{plan['sampled_fragments']} sampled "
                         "per track")


def library_status(library: str) -> dict[str, Any]:
    """Counts and model of the store at ``library`` (a plain dict, for notebooks too)."""
    import pandas as pd

    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.check import check_store

    store = LibraryStore.open(library)
    tracks = store.all_tracks()
    counts = tracks["status"].value_counts().to_dict()
    frags = len(store.parts("fragments"))
    ok = tracks[tracks["status"] == "ok"]
    tables = store.table_names()
    # the cheap check; parts of a batch being committed right now are no damage
    problems = [p for p in check_store(store, deep=False).problems if p.kind != "uncommitted part"]
    return {
        "library": str(store.root),
        "model_id": store.model_id,
        "dim": store.dim,
        "source": store.meta.get("source"),
        "tracks_ok": int(counts.get("ok", 0)),
        "tracks_failed": int(counts.get("failed", 0)),
        "tracks_gone": int(counts.get("gone", 0)),
        "fragments": int(pd.to_numeric(ok["n_fragments"]).fillna(0).sum()),
        "fragment_plan": fragment_plan(store.meta),
        "fragment_parts": frags,
        "hours_of_audio": float(pd.to_numeric(ok["duration_s"]).fillna(0).sum() / 3600),
        "tables": tables,
        "failures": tracks[tracks["status"] == "failed"][["path", "error"]].values.tolist(),
        "problems": [f"{p.kind}: {p.where} ({p.detail})" for p in problems],
    }


def status_cli(json_out: JsonOption = False, library: LibraryOption = DEFAULT_LIBRARY) -> None:
    """Show what is in the library store."""
    info = library_status(str(library))
    if json_out:
        print_json(info)
        return
    table = Table(title=f"library {info['library']}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key in ("model_id", "dim", "source", "tracks_ok", "tracks_failed", "tracks_gone", "fragments"):
        table.add_row(key.replace("_", " "), str(info[key]))
    table.add_row("fragment plan", describe_plan(info["fragment_plan"]))
    table.add_row("hours of audio", f"{info['hours_of_audio']:.2f}")
    table.add_row("tables", ", ".join(info["tables"]) or "-")
    console.print(table)
    if info["failures"]:
        failed = Table(title="failed files")
        failed.add_column("file", overflow="fold")
        failed.add_column("reason", overflow="fold")
        for path, error in info["failures"]:
            failed.add_row(path, error)
        console.print(failed)
    if info["problems"]:
        notice(f"{len(info['problems'])} store problem(s), e.g. {info['problems'][0]}; "
               f"run `ctk check --library {info['library']}`")  # fmt: skip
