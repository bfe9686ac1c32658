"""``ctk embed MUSIC_DIR``: analyse a folder into the library store."""

from __future__ import annotations

import os
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from cluster_toolkit.cli._common import (
    DEFAULT_LIBRARY,
    VERBOSE_KEY,
    LibraryOption,
    console,
    err_console,
    notice,
)
from cluster_toolkit.errors import CtkError
from cluster_toolkit.processes import Terminated, exit_code
from embeddings.backends import DEFAULT_BACKEND
from embeddings.config import EMBED_COVERAGE, EMBED_FRAGMENTS, LEGACY_COVERAGE, CoverageConfig, FragmentConfig

if TYPE_CHECKING:
    from cluster_toolkit.ingest import EmbedSummary


class Coverage(StrEnum):
    full = "full"
    sampled = "sampled"


class Engine(StrEnum):
    local = "local"
    ray = "ray"


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} tracks/s" if speed else "- tracks/s", style="cyan")


class _ProgressReporter:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("scanning", total=None)
        self.done = 0

    def scanned(self, n_files: int) -> None:
        self.progress.update(self.task, description=f"found {n_files} audio files")

    def start(self, total: int) -> None:
        self.progress.reset(self.task, total=total, description="analysing")

    def track_done(self, path: str, error: str | None) -> None:
        if error:
            self.progress.console.print(f"[red]failed:[/] {path}: {error}", highlight=False, soft_wrap=True)
        self.done += 1
        self.progress.advance(self.task)


def print_summary(summary: EmbedSummary) -> None:
    table = Table(title=f"ctk embed: {summary.music_dir}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("audio files found", str(summary.found))
    table.add_row("analysed", str(summary.analysed))
    table.add_row("skipped, unchanged", str(summary.skipped))
    if summary.skipped_failed:
        table.add_row("skipped, failed before (--retry-failed)", str(summary.skipped_failed))
    table.add_row("moved (kept analysis)", str(summary.moved))
    table.add_row("duplicates (same content)", str(summary.duplicates))
    table.add_row("gone (marked)", str(summary.gone))
    table.add_row("failed", str(len(summary.failed)))
    if summary.repaired:
        table.add_row("analysed again (had lost their vectors)", str(summary.repaired))
    if summary.seconds > 0 and summary.to_analyse:
        table.add_row("tracks/s", f"{summary.to_analyse / summary.seconds:.2f}")
    table.add_row("model", summary.model_id)
    table.add_row("library", summary.library)
    console.print(table)
    if summary.failed:
        reasons = Table(title="failed files", show_lines=False)
        reasons.add_column("file", overflow="fold")
        reasons.add_column("reason", overflow="fold")
        for path, reason in summary.failed:
            reasons.add_row(path, reason)
        console.print(reasons)


def print_phases(summary: EmbedSummary) -> None:
    """When each phase of the run ended (``ctk --verbose embed``), on stderr."""
    phases = ", ".join(f"{name} {seconds:.2f}" for name, seconds in summary.phases.items())
    err_console.print(f"timings (s from start): {phases}; writing to the store {summary.commit_seconds:.2f}",
                      highlight=False, soft_wrap=True)


def embed_lyrics_step(library: Path, wait: float) -> None:
    """``--lyrics``: the lyrics table of every analysed track, new or changed texts encoded (one line out)."""
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.lyrics import embed_lyrics

    store = LibraryStore.open(library)
    with store.writing(wait_s=wait), err_console.status("reading and embedding lyrics..."):
        done = embed_lyrics(store)
    for problem in done.problems:
        notice(problem)
    console.print(
        f"lyrics: {done.with_lyrics} of {done.tracks} tracks ({done.encoded} texts embedded now, {done.reused} "
        f"reused), {done.instrumental} instrumental, {done.without} without lyrics",
        highlight=False, soft_wrap=True,
    )


def stored_meta(library: str | Path) -> dict:
    """A library's ``store.json`` (a local one read without importing the store, one on object storage through its
    filesystem); ``{}`` for a new library or one that cannot be read (``embed_library`` then reports it)."""
    import json

    from cluster_toolkit.store.location import is_remote

    try:
        if is_remote(library):
            from cluster_toolkit.store.location import remote_root

            text = (remote_root(str(library)) / "store.json").read_text(encoding="utf-8")
        else:
            text = (Path(library).expanduser() / "store.json").read_text(encoding="utf-8")
        meta = json.loads(text)
    except Exception:  # noqa: BLE001 - missing, unreadable, no credentials, no s3fs: the store itself says why
        return {}
    return meta if isinstance(meta, dict) else {}


#: ``ctk embed``'s fragment options and where ``store.json`` records each: (part, key)
PLAN_OPTIONS = {"n_seconds": ("fragment", "n_seconds"), "step": ("fragment", "step"),
                "coverage": ("coverage", "mode"), "sampled_fragments": ("coverage", "n_fragments")}


def recorded_plan(meta: dict) -> dict[str, object]:
    """The fragment options a library was made with, by option name, from its ``store.json`` (``meta``): the ones
    it records (none for a new library); one made before ``coverage`` was recorded was embedded with 5 sampled."""
    parts = {part: meta[part] for part in ("fragment", "coverage") if isinstance(meta.get(part), dict)}
    if "fragment" in parts and "coverage" not in parts:  # made before store.json recorded its coverage
        parts["coverage"] = asdict(LEGACY_COVERAGE)
    return {option: parts[part][key] for option, (part, key) in PLAN_OPTIONS.items()
            if key in parts.get(part, {})}


def kept_settings(meta: dict, given: dict[str, object], unset: set[str]) -> dict[str, object]:
    """The fragment and coverage settings of a run into the library whose ``store.json`` is ``meta``: each option
    in ``unset`` (not on the command line nor in the config file) takes the value the library was made with, so a
    library cut into 5 s fragments stays so without repeating the flags; the others, and everything for a new
    library (``meta`` empty), are as ``given``."""
    stored = recorded_plan(meta)
    out = dict(given)
    for option in PLAN_OPTIONS:
        if option in unset and option in stored:
            try:
                value = type(given[option])(stored[option])
            except (TypeError, ValueError):  # a damaged store.json: embed_library reports the store itself
                continue
            if option != "coverage" or value in {c.value for c in Coverage}:
                out[option] = value
    return out


def embed_cli(
    ctx: typer.Context,
    music_dir: Annotated[str, typer.Argument(
        help="Folder of audio files (searched recursively), or its URL on object storage (s3://bucket/audio; "
        "docs/SCALING.md).")],
    library: LibraryOption = DEFAULT_LIBRARY,
    model: Annotated[
        str, typer.Option("--model", "-m", help="Embedding backend: hybrid+std (the default for a new library; an "
                          "existing one keeps the model it was made with), hybrid (without the std over fragments), "
                          "hybrid+attn (hybrid+std with learned attention pooling), features, ctk-small, "
                          "hybrid[+std|+attn]:PATH or a checkpoint path.")
    ] = DEFAULT_BACKEND,
    workers: Annotated[int, typer.Option(help="Decoding/analysis processes (0: in this process); with --engine ray, "
                                         "encoder actors.")] = max(
        1, min(os.cpu_count() or 1, 8)
    ),
    reembed: Annotated[bool, typer.Option(help="Replace embeddings made by another model.")] = False,
    retry_failed: Annotated[bool, typer.Option(help="Analyse again files that failed before.")] = False,
    batch_size: Annotated[int, typer.Option(help="Tracks per committed batch.", min=1)] = 32,
    n_seconds: Annotated[float, typer.Option(
        help="Fragment length in seconds (an existing library keeps its own; the encoder trains on 5 s crops, "
        "docs/ctk-small.md).")] = EMBED_FRAGMENTS.n_seconds,
    step: Annotated[float, typer.Option(help="Seconds between fragment starts.")] = EMBED_FRAGMENTS.step,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to wait for another writer of the library to finish.", min=0)
    ] = 0.0,
    coverage: Annotated[
        Coverage,
        typer.Option(help="full: decode and embed every fragment; sampled: only --sampled-fragments of them, "
                     "evenly spread (measured in docs/BENCHMARKS.md)."),
    ] = Coverage(EMBED_COVERAGE.mode),
    sampled_fragments: Annotated[
        int, typer.Option(help="Fragments per track with --coverage sampled.", min=1)
    ] = EMBED_COVERAGE.n_fragments,
    engine: Annotated[
        Engine,
        typer.Option(help="local: worker processes here; ray: a Ray Data pipeline on the cluster at $RAY_ADDRESS, "
                     "or a local Ray (ctk[ray], docs/SCALING.md)."),
    ] = Engine.local,
    lyrics: Annotated[
        bool, typer.Option("--lyrics", help="Also read each track's lyrics and store their vectors (ctk[lyrics]).")
    ] = False,
) -> None:
    """Analyse MUSIC_DIR into the library: decode, fragment, embed, pool; only what changed."""
    # options neither on the command line nor in the config file: an existing library keeps what it was made with
    unset = {name for name in ("model", "n_seconds", "step", "coverage", "sampled_fragments")
             if (src := ctx.get_parameter_source(name)) is None or src.name == "DEFAULT"}
    meta = stored_meta(library)
    kept = meta.get("model_spec")
    if "model" in unset and isinstance(kept, str) and kept and kept != model:
        notice(f"{library}: keeps the model it was made with, {kept} (the default for new libraries is {model}; "
               f"--model {model} --reembed moves it)")
        model = kept
    given = {"n_seconds": n_seconds, "step": step, "coverage": coverage.value, "sampled_fragments": sampled_fragments}
    kept_values = kept_settings(meta, given, unset)
    if kept_values != given:
        changed = ", ".join(f"--{k.replace('_', '-')} {v if isinstance(v, str) else format(v, 'g')}"
                            for k, v in kept_values.items() if v != given[k])
        notice(f"{library}: keeps the fragments it was made with ({changed}; pass the options to change them)")
    n_seconds, step = kept_values["n_seconds"], kept_values["step"]
    coverage, sampled_fragments = Coverage(kept_values["coverage"]), kept_values["sampled_fragments"]
    if lyrics:
        from embeddings.text_encoder import TextEncoder

        TextEncoder().model_id  # noqa: B018 - a missing ctk[lyrics] stops the run before any audio work
    pool = None
    if engine is Engine.local and workers > 0:
        from cluster_toolkit.embed_workers import WorkerPool

        # the workers' forkserver imports torch and the model while this process imports the store
        pool = WorkerPool(model, workers)
    try:
        from cluster_toolkit.ingest import EmbedConfig, embed_library

        config = EmbedConfig(
            model=model,
            workers=workers,
            batch_size=batch_size,
            fragment=FragmentConfig(n_seconds=n_seconds, step=step),
            coverage=CoverageConfig(mode=coverage.value, n_fragments=sampled_fragments),
            reembed=reembed,
            retry_failed=retry_failed,
            lock_wait_s=wait,
            engine=engine.value,
        )
    except BaseException:
        if pool is not None:
            pool.stop()
        raise
    columns = (
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    reporter: _ProgressReporter | None = None
    try:
        with Progress(*columns, console=err_console, transient=True) as progress:
            reporter = _ProgressReporter(progress)
            summary = embed_library(music_dir, library, config, reporter, pool=pool)
    except KeyboardInterrupt as exc:
        how = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        done = reporter.done if reporter else 0
        err_console.print(f"{how}: {done} finished files saved, workers stopped; "
                          "run the same command to resume", highlight=False, soft_wrap=True)  # fmt: skip
        raise typer.Exit(exit_code(exc)) from None
    for part in summary.quarantined:
        notice(f"unreadable store part set aside as {part}; its tracks are analysed again")
    print_summary(summary)
    if ctx.meta.get(VERBOSE_KEY):
        print_phases(summary)
    if lyrics:
        embed_lyrics_step(library, wait)
    if summary.to_analyse and summary.analysed == 0:
        raise CtkError(f"all {len(summary.failed)} files to analyse failed; nothing was added")
    if summary.failed:
        err_console.print(f"{len(summary.failed)} file(s) failed; see the table above", highlight=False)
