"""Options and helpers shared by every command module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

LibraryOption = Annotated[
    Path,
    typer.Option(
        "--library",
        "-L",
        envvar="CTK_LIBRARY",
        help="Library store directory (default: $CTK_LIBRARY, else ./.ctk).",
        show_default=False,
    ),
]
DEFAULT_LIBRARY = Path(".ctk")

# Results go to stdout, notices and progress to stderr so that output can be piped.
console = Console()
err_console = Console(stderr=True)


def notice(message: str) -> None:
    """A one-line notice for the user on stderr (never used by library code)."""
    err_console.print(f"[yellow]notice:[/] {message}", highlight=False)
