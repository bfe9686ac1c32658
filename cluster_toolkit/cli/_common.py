"""Options and helpers shared by every command module."""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def _library(value: str | Path) -> Path:
    """``--library``: a folder, or a URL such as ``s3://bucket/ctk`` passed on as the string itself."""
    from cluster_toolkit.store.location import library_location

    return library_location(value)  # type: ignore[return-value]  # a URL stays a str


LibraryOption = Annotated[
    Path,
    typer.Option(
        "--library",
        "-L",
        envvar="CTK_LIBRARY",
        parser=_library,
        help="Library store: a folder, or s3://bucket/prefix (default: $CTK_LIBRARY, else ./.ctk).",
        show_default=False,
    ),
]
DEFAULT_LIBRARY = Path(".ctk")

#: Where ``--verbose`` is kept: the Click context's ``meta``, shared by the group and its commands for one
#: invocation (not the environment, which would leak into the next ``CliRunner`` call and child processes).
VERBOSE_KEY = "ctk.verbose"

# Results go to stdout, notices and progress to stderr so that output can be piped.
console = Console()
err_console = Console(stderr=True)


def notice(message: str) -> None:
    """A one-line notice for the user on stderr (never used by library code)."""
    err_console.print(f"[yellow]notice:[/] {message}", highlight=False)


def fmt_number(value: object, spec: str = ".4g") -> str:
    """A table cell: a non-integer number with ``spec``, ``-`` for None and NaN, anything else as text."""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return "-" if math.isnan(value) else format(value, spec)
    return "-" if value is None else str(value)


JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout (for scripts).")]


def print_json(doc: object) -> None:
    """``doc`` as indented JSON on stdout, unwrapped (numpy scalars and NaN made JSON-able)."""
    import json

    from playlists.json_export import to_jsonable

    typer.echo(json.dumps(to_jsonable(doc), indent=2, ensure_ascii=False, allow_nan=False))


def print_next(*commands: str) -> None:
    """``next:`` and each command on a line of its own, never wrapped (so it can be copied whole)."""
    console.print("next:", highlight=False)
    for command in commands:
        console.print(f"  {command}", highlight=False, soft_wrap=True)
