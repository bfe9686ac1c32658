"""The ``ctk`` Typer app and its single error boundary.

Every command lives in its own module as a thin ``*_cli`` wrapper over a plain library
function; this module only registers them. :class:`CtkGroup` is the one place that turns a
:class:`CtkError` into a one-line ``error: ...`` on stderr with the error's exit code
(``--verbose`` adds the traceback). Ctrl-C exits with 130, SIGTERM (raised as
:class:`~cluster_toolkit.processes.Terminated`) with 143, each after one line; a broken pipe exits quietly.
Because the boundary lives in the command group, ``CliRunner`` tests see exactly what a user sees.
"""

from __future__ import annotations

import os
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
            if os.environ.get("CTK_VERBOSE"):
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
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks of errors."),
) -> None:
    if verbose:
        os.environ["CTK_VERBOSE"] = "1"
    else:
        os.environ.pop("CTK_VERBOSE", None)


def _register() -> None:
    from cluster_toolkit.cli.check import check_cli
    from cluster_toolkit.cli.embed import embed_cli
    from cluster_toolkit.cli.evaluate import evaluate_cli
    from cluster_toolkit.cli.status import status_cli
    from cluster_toolkit.cli.train import train_cli

    app.command("embed")(embed_cli)
    app.command("train")(train_cli)
    app.command("evaluate")(evaluate_cli)
    app.command("status")(status_cli)
    app.command("check")(check_cli)

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

    app.command("finetune")(finetune_cli)


_register()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
