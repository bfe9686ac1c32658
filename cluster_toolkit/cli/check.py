"""``ctk check [--repair]``: verify the library store, and repair it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, LibraryOption, console, notice
from cluster_toolkit.errors import CtkError

if TYPE_CHECKING:
    from cluster_toolkit.store.check import CheckReport


def print_report(report: CheckReport) -> None:
    console.print(f"{report.library}: {report.parts} parts, {report.tracks_ok} ok tracks, "
                  f"{len(report.problems)} problem(s)", highlight=False, soft_wrap=True)  # fmt: skip
    if report.problems:
        table = Table(title="problems")
        table.add_column("kind")
        table.add_column("where", overflow="fold")
        table.add_column("detail", overflow="fold")
        for problem in report.problems:
            table.add_row(problem.kind, problem.where, problem.detail)
        console.print(table)


def check_cli(
    library: LibraryOption = DEFAULT_LIBRARY,
    repair: Annotated[
        bool, typer.Option("--repair", help="Set aside unreadable parts, drop stale rows, analyse lost tracks again.")
    ] = False,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model for --repair [default: the one that made the store].")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Analysis processes for --repair (0: in this process).")] = None,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to wait for another writer of the library to finish.", min=0)
    ] = 0.0,
) -> None:
    """Verify every part of the store, its row counts, orphans and tracks without vectors (exit 1 if broken)."""
    from cluster_toolkit.ingest import repair_library
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.check import check_store

    if not repair:
        store = LibraryStore.open(library)
        with store.writing(wait_s=wait):  # a writer in the middle of a batch would look like damage
            report = check_store(store, deep=True)
        print_report(report)
        if not report.healthy:
            raise CtkError(f"{len(report.problems)} problem(s) in {store.root}; `ctk check --repair` repairs them")
        return
    with console.status("checking and repairing..."):
        result = repair_library(library, model=model, workers=workers, lock_wait_s=wait)
    print_report(result.check)
    files = result.files
    if any(files.values()):
        console.print(f"repaired: {files['quarantined']} unreadable part(s) moved to .quarantine, "
                      f"{files['uncommitted']} uncommitted part(s) and {files['stale_rows']} stale row(s) removed",
                      highlight=False, soft_wrap=True)  # fmt: skip
    if result.embed is not None:
        console.print(f"analysed again: {result.embed.analysed} track(s), {len(result.embed.failed)} failed",
                      highlight=False, soft_wrap=True)  # fmt: skip
        for path, reason in result.embed.failed:
            notice(f"{path}: {reason}")
    for path, reason in result.not_repaired:
        notice(f"not repaired: {path}: {reason}")
    if result.not_repaired or (result.embed is not None and result.embed.failed):
        raise CtkError(f"{len(result.not_repaired) + len(result.embed.failed if result.embed else [])} "
                       "track(s) could not be repaired")  # fmt: skip
