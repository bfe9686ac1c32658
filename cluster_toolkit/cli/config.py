"""``ctk config``: the settings in force, their values and where each comes from."""

from __future__ import annotations

import os
from typing import Any

import typer
from rich.table import Table

from cluster_toolkit.cli._common import DEFAULT_LIBRARY, JsonOption, LibraryOption, console, print_json
from cluster_toolkit.config import load_config

_SOURCES = {"COMMANDLINE": "flag", "ENVIRONMENT": "env CTK_LIBRARY", "DEFAULT_MAP": "config file",
            "DEFAULT": "default"}


def default_workers() -> int:
    """ctk embed's default: one process per core, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


def config_settings(library_value: str, library_source: str) -> dict[str, Any]:
    """Every setting as ``{"value", "source"}``, plus the config file's path (a plain dict)."""
    from embeddings.backends import DEFAULT_BACKEND

    config = load_config()
    settings: dict[str, Any] = {"library": {"value": library_value, "source": library_source}}
    settings["model"] = ({"value": config.model, "source": "config file"} if config.model is not None
                         else {"value": DEFAULT_BACKEND, "source": "default"})
    settings["workers"] = ({"value": config.workers, "source": "config file"} if config.workers is not None
                           else {"value": default_workers(), "source": "default (one per core, at most 8)"})
    for key in ("url", "user", "password"):
        env = f"CTK_SUBSONIC_{key.upper()}"
        value, source = (os.environ[env], f"env {env}") if os.environ.get(env) else (
            config.subsonic.get(key), "config file" if key in config.subsonic else "not set")
        if key == "password" and value:
            value = "***"
        settings[f"subsonic.{key}"] = {"value": value, "source": source}
    return {"config_file": str(config.path), "config_file_exists": config.exists, "settings": settings}


def config_cli(ctx: typer.Context, json_out: JsonOption = False, library: LibraryOption = DEFAULT_LIBRARY) -> None:
    """Show the settings in force and where each comes from (flag > environment > config file > default).

    The config file is ~/.config/ctk/config.toml ($CTK_CONFIG names another); see docs/config.md.
    """
    source = ctx.get_parameter_source("library")
    info = config_settings(str(library), _SOURCES.get(source.name if source else "DEFAULT", "default"))
    if json_out:
        print_json(info)
        return
    state = "" if info["config_file_exists"] else " (not found: built-in defaults)"
    console.print(f"config file: {info['config_file']}{state}", highlight=False, soft_wrap=True)
    table = Table(show_edge=False)
    for col in ("setting", "value", "from"):
        table.add_column(col, overflow="fold")
    for key, item in info["settings"].items():
        table.add_row(key, "-" if item["value"] is None else str(item["value"]), item["source"])
    console.print(table)
