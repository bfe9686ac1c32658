"""ctk's config file: ``~/.config/ctk/config.toml`` (``$CTK_CONFIG`` names another).

Example::

    library = "~/Music/.ctk"    # --library of every command
    model = "ctk-small"         # --model of ctk embed
    workers = 4                 # --workers of ctk embed

    [subsonic]                  # ctk export subsonic
    url = "http://127.0.0.1:4533"
    user = "ann"

Precedence, highest first: command-line flags, environment variables (``CTK_LIBRARY``...),
this file, the built-in defaults. The file only supplies defaults: the CLI hands them to Click
as its ``default_map``, which Click consults after flags and environment variables. ``ctk
config`` shows every setting, its value and where the value came from.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster_toolkit.errors import ConfigError

# key -> (type, the command option it is the default of, the environment variable that overrides it)
SETTINGS: dict[str, tuple[type, str, str | None]] = {
    "library": (str, "--library of every command", "CTK_LIBRARY"),
    "model": (str, "--model of ctk embed", None),
    "workers": (int, "--workers of ctk embed", None),
}
TABLES = ("subsonic",)
TABLE_KEYS = {"subsonic": ("url", "user", "password")}


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$CTK_CONFIG``, else ``config.toml`` in the user config directory (``~/.config/ctk`` on Linux)."""
    env = os.environ if env is None else env
    if env.get("CTK_CONFIG"):
        return Path(env["CTK_CONFIG"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("ctk", appauthor=False)) / "config.toml"


@dataclass(frozen=True)
class CtkConfig:
    """The settings of the config file (None: not set there) and the file they came from."""

    path: Path
    exists: bool = False
    library: str | None = None
    model: str | None = None
    workers: int | None = None
    subsonic: dict[str, str] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        """The top-level settings the file sets (option name -> value)."""
        return {key: getattr(self, key) for key in SETTINGS if getattr(self, key) is not None}


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> CtkConfig:
    """Read the config file (an absent file is an empty config).

    Raises:
        ConfigError: the file is not valid TOML, has an unknown key or a value of the wrong type
            (the message names the file and the key).
    """
    path = Path(path) if path is not None else config_path(env)
    if not path.is_file():
        return CtkConfig(path=path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable TOML file ({exc})") from None
    values: dict[str, Any] = {}
    for key, value in doc.items():
        if key in TABLES:
            if not isinstance(value, dict) or any(k not in TABLE_KEYS[key] for k in value):
                raise ConfigError(f"{path}: [{key}] may hold only {', '.join(TABLE_KEYS[key])}")
            values[key] = {k: str(v) for k, v in value.items()}
            continue
        if key not in SETTINGS:
            known = ", ".join([*SETTINGS, *(f"[{t}]" for t in TABLES)])
            raise ConfigError(f"{path}: unknown setting {key!r}; known: {known}")
        kind = SETTINGS[key][0]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ConfigError(f"{path}: {key} = {value!r} must be a {kind.__name__}")
        if key == "workers" and value < 0:
            raise ConfigError(f"{path}: workers = {value} must be 0 or more")
        values[key] = str(Path(value).expanduser()) if key == "library" else value
    return CtkConfig(path=path, exists=True, **values)
