"""The ``ctk`` Typer app and its single error boundary.

Every command lives in its own module as a thin ``*_cli`` wrapper over a plain library
function; this module only registers them. :class:`CtkGroup` is the one place that turns a
:class:`CtkError` into a one-line ``error: ...`` on stderr with the error's exit code
(``--verbose`` adds the traceback). Ctrl-C exits with 130, SIGTERM (raised as
:class:`~cluster_toolkit.processes.Terminated`) with 143, each after one line; a broken pipe exits quietly.
Because the boundary lives in the command group, ``CliRunner`` tests see exactly what a user sees.

Start-up is kept short: command modules import only typer, rich and small config modules at the top
and their heavy libraries (pandas, scikit-learn, torch...) inside the command, so ``ctk --help`` and a
command's ``--help`` import none of them (``train`` and ``finetune`` read their option defaults from the
torch-free :mod:`embeddings.config`).
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo, TyperInfo

from cluster_toolkit.cli._common import VERBOSE_KEY
from cluster_toolkit.errors import CtkError
from cluster_toolkit.processes import Terminated, exit_code, sigterm_raises

if TYPE_CHECKING:
    from typer import _click as click  # Typer's own copy of Click, whose classes its commands derive from

#: Every command: name -> (module, attribute, summary). The attribute is a ``*_cli`` function or a sub-app
#: (``typer.Typer``); its module is imported only when the command runs or shows its own ``--help``, and
#: ``ctk --help`` lists the summaries (the first paragraph of each command's help, which
#: ``tests/cluster_toolkit/cli/test_startup.py`` checks against the modules).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "embed": ("cluster_toolkit.cli.embed", "embed_cli",
              "Analyse MUSIC_DIR into the library: decode, fragment, embed, pool; only what changed."),
    "evaluate": ("cluster_toolkit.cli.evaluate", "evaluate_cli",
                 "Recall@k, mAP@k, k-means NMI/AMI/ARI, linear-probe accuracy and same-vs-random cosine of the\n"
                 "library's embeddings against LABELS; works with any backend."),
    "status": ("cluster_toolkit.cli.status", "status_cli", "Show what is in the library store."),
    "check": ("cluster_toolkit.cli.check", "check_cli",
              "Verify every part of the store, its row counts, orphans and tracks without vectors (exit 1 if broken)."),
    "train-fusion": ("cluster_toolkit.cli.train_fusion", "train_fusion_cli",
                     "Train the audio + lyrics fusion model on the library's vectors (after `ctk embed --lyrics`)."),
    "playlist": ("cluster_toolkit.cli.playlist", "playlist_cli",
                 "Make a playlist: walk the hull of seed songs or of a cluster, or a path from song A to song B."),
    "recommend": ("cluster_toolkit.cli.recommend", "recommend_cli",
                  "Recommend songs from the library that sound like the songs you like."),
    "similar": ("cluster_toolkit.cli.similar", "similar_cli", "Show the songs of the library most similar to SONG."),
    "cluster": ("cluster_toolkit.cli.cluster", "cluster_cli",
                "Cluster the library's tracks (hierarchical, k-means, DBSCAN or HDBSCAN) and save the run."),
    "map": ("cluster_toolkit.cli.map", "map_cli",
            "Draw the library as a 2-D UMAP map coloured by cluster, tag or any column."),
    "heatmap": ("cluster_toolkit.cli.heatmap", "heatmap_cli",
                "Track-by-track similarity heatmap of the tracks the queries pick."),
    "import-features": ("cluster_toolkit.cli.import_features", "import_features_cli",
                        "Import a feature table so that clustering, maps and playlists work on it as on audio."),
    "analyze-features": ("cluster_toolkit.cli.analyze_features", "analyze_features_cli",
                         "Write the data-analysis views of a library made by `ctk import-features`."),
    "train": ("cluster_toolkit.cli.train", "train_cli",
              "Train a contrastive encoder on MUSIC_DIR; no labels needed (fragments of a track are positives)."),
    "finetune": ("cluster_toolkit.cli.finetune", "finetune_cli",
                 "Fine-tune an encoder so that its embeddings cluster better: contrastive loss + weight x "
                 "clustering loss."),
    "config": ("cluster_toolkit.cli.config", "config_cli",
               "Show the settings in force and where each comes from (flag > environment > config file > default)."),
    "serve": ("cluster_toolkit.cli.serve", "serve_cli",  # FastAPI, uvicorn, rapidfuzz: imported when it runs
              "Serve the library as a web app: search, similar tracks with the fragment that matched, the map,\n"
              "playlists from a selection."),
    "export": ("cluster_toolkit.cli.export", "export_app",
               "Export a playlist to Spotify, MPD, a Subsonic server or JSON."),
    "clusters": ("cluster_toolkit.cli.clusters", "clusters_app",
                 "Saved cluster runs: list, show, export, assign new tracks."),
    "playlists": ("cluster_toolkit.cli.playlists", "playlists_app", "Saved playlists: list, show, export to a file."),
}


def load_command(name: str) -> click.Command:
    """The Click command of ``name`` (a key of :data:`COMMANDS`), built by Typer from its module."""
    module, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        return typer.main.get_group_from_info(
            TyperInfo(target, name=name, cls=_PlainFlagsGroup), pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=app.rich_markup_mode, suggest_commands=app.suggest_commands,
        )
    return typer.main.get_command_from_info(
        CommandInfo(name=name, callback=target), pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
    )


def _plain_bool_flags(params: list[click.Parameter]) -> None:
    """Typer checks every parameter's value with a pydantic ``TypeAdapter`` built on first use, so a bool
    flag that was not given (value None) imports pydantic (~0.1 s) even for ``ctk CMD --help``; a flag's
    value is a bool or None, which its plain pass-through check (``isinstance(value, bool)``) covers."""
    try:
        from typer._coercion import PassThroughRuntimeParam
    except ImportError:  # another Typer: nothing to do
        return
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if (getattr(param, "is_flag", False) and descriptor is not None and descriptor.annotation is bool
                and getattr(param, "_runtime_param", False) is None):
            param._runtime_param = PassThroughRuntimeParam(  # type: ignore[attr-defined]
                annotation=bool, parameter_info=descriptor.parameter_info)


class _PlainFlagsGroup(TyperGroup):
    """A group whose own bool flags (``--help``...) are checked without pydantic (:func:`_plain_bool_flags`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        _plain_bool_flags(self.get_params(ctx))
        return super().parse_args(ctx, args)


class CtkGroup(_PlainFlagsGroup):
    """The root command: commands built on first use (:data:`COMMANDS`) and the one error boundary."""

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            if self._listing:  # the root help needs only the name and the summary
                return TyperCommand(name=name, help=COMMANDS[name][2])
            self.commands[name] = load_command(name)
        return self.commands.get(name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            with sigterm_raises():
                return super().invoke(ctx)
        except CtkError as exc:
            if ctx.meta.get(VERBOSE_KEY):
                traceback.print_exc()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:
            typer.echo("terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted", err=True)
            raise typer.Exit(exit_code(exc)) from None
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(0) from None


app = typer.Typer(
    name="ctk",
    cls=CtkGroup,
    help="Learn what music sounds like: embeddings, clusters and playlists.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


# config-file settings -> the commands whose option they are the default of (None: every command that has it)
_CONFIG_OPTIONS = {"library": None, "model": ("embed",), "workers": ("embed",)}


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"ctk {version('ctk')}")
        except PackageNotFoundError:
            typer.echo("ctk (not installed as a package)")
        raise typer.Exit()


def _defaults_for(command, name: str, settings: dict) -> dict:
    """Click ``default_map`` entries for ``command`` (a command or a group, walked) from config settings."""
    subcommands = getattr(command, "commands", None)
    if subcommands is not None:
        out = {sub: _defaults_for(cmd, name, settings) for sub, cmd in subcommands.items()}
        return {k: v for k, v in out.items() if v}
    params = {p.name for p in command.params}
    return {key: value for key, value in settings.items()
            if key in params and (_CONFIG_OPTIONS[key] is None or name in _CONFIG_OPTIONS[key])}


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v",
                                 help="Show tracebacks of errors (and the phase timings of ctk embed)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No notices or progress bars (errors and results "
                               "still show)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show ctk's version and exit."),
) -> None:
    from cluster_toolkit.cli._common import err_console
    from cluster_toolkit.config import load_config

    ctx.meta[VERBOSE_KEY] = verbose
    err_console.quiet = quiet
    settings = load_config().defaults()
    name = ctx.invoked_subcommand
    command = ctx.command.get_command(ctx, name) if name and isinstance(ctx.command, CtkGroup) else None
    if settings and command is not None:
        ctx.default_map = {name: _defaults_for(command, name, settings)}


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
