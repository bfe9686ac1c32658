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

import sys
import traceback

import typer
from typer.core import TyperGroup

from cluster_toolkit.errors import CtkError
from cluster_toolkit.processes import Terminated, exit_code, sigterm_raises


class CtkGroup(TyperGroup):
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

#: Where ``--verbose`` is kept: the Click context's ``meta``, shared by the group and its commands for one
#: invocation (not the environment, which would leak into the next ``CliRunner`` call and child processes).
VERBOSE_KEY = "ctk.verbose"

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
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks of errors."),
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
    command = ctx.command.commands.get(name) if name and hasattr(ctx.command, "commands") else None
    if settings and command is not None:
        ctx.default_map = {name: _defaults_for(command, name, settings)}


def _register() -> None:
    from cluster_toolkit.cli.check import check_cli
    from cluster_toolkit.cli.embed import embed_cli
    from cluster_toolkit.cli.evaluate import evaluate_cli
    from cluster_toolkit.cli.status import status_cli
    from cluster_toolkit.cli.train_fusion import train_fusion_cli

    app.command("embed")(embed_cli)
    app.command("evaluate")(evaluate_cli)
    app.command("status")(status_cli)
    app.command("check")(check_cli)
    app.command("train-fusion")(train_fusion_cli)

    from cluster_toolkit.cli.export import export_app
    from cluster_toolkit.cli.playlist import playlist_cli
    from cluster_toolkit.cli.recommend import recommend_cli
    from cluster_toolkit.cli.similar import similar_cli

    app.command("playlist")(playlist_cli)
    app.command("recommend")(recommend_cli)
    app.command("similar")(similar_cli)
    app.add_typer(export_app, name="export")

    from cluster_toolkit.cli.analyze_features import analyze_features_cli
    from cluster_toolkit.cli.cluster import cluster_cli
    from cluster_toolkit.cli.clusters import clusters_app
    from cluster_toolkit.cli.heatmap import heatmap_cli
    from cluster_toolkit.cli.import_features import import_features_cli
    from cluster_toolkit.cli.map import map_cli

    app.command("cluster")(cluster_cli)
    app.add_typer(clusters_app, name="clusters")
    app.command("map")(map_cli)
    app.command("heatmap")(heatmap_cli)
    app.command("import-features")(import_features_cli)
    app.command("analyze-features")(analyze_features_cli)

    from cluster_toolkit.cli.finetune import finetune_cli
    from cluster_toolkit.cli.train import train_cli

    app.command("train")(train_cli)
    app.command("finetune")(finetune_cli)

    from cluster_toolkit.cli.config import config_cli
    from cluster_toolkit.cli.playlists import playlists_app
    from cluster_toolkit.cli.serve import serve_cli  # FastAPI, uvicorn, rapidfuzz: imported when it runs

    app.add_typer(playlists_app, name="playlists")
    app.command("config")(config_cli)
    app.command("serve")(serve_cli)


_register()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
