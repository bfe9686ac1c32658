"""Where the Subsonic server is and who logs in: from the environment, over ctk's config file.

============================  ====================================================
variable                      meaning
============================  ====================================================
``CTK_SUBSONIC_URL``          server base URL, e.g. ``http://127.0.0.1:4533`` (Navidrome)
``CTK_SUBSONIC_USER``         user name
``CTK_SUBSONIC_PASSWORD``     password (sent only as a salted md5 token)
============================  ====================================================

The ``[subsonic]`` table of ``~/.config/ctk/config.toml`` may hold ``url`` and ``user`` (and,
at your own risk, ``password``); the environment wins over the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from playlists.errors import ExportError


@dataclass(frozen=True)
class SubsonicSettings:
    """Everything needed to talk to a Subsonic server. ``password`` never appears in ``repr``."""

    url: str
    user: str
    password: str = field(repr=False)
    client_name: str = "ctk"
    api_version: str = "1.16.1"
    timeout_s: float = 15.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ExportError(f"Subsonic URL {self.url!r} must start with http:// or https://")
        object.__setattr__(self, "url", self.url.rstrip("/"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, config: Mapping[str, Any] | None = None,
                 **overrides: Any) -> SubsonicSettings:
        """Settings from ``overrides`` (not None) over ``env`` over the ``[subsonic]`` ``config`` table."""
        env = os.environ if env is None else env
        config = config or {}
        values = {
            "url": env.get("CTK_SUBSONIC_URL") or config.get("url"),
            "user": env.get("CTK_SUBSONIC_USER") or config.get("user"),
            "password": env.get("CTK_SUBSONIC_PASSWORD") or config.get("password"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        missing = [f"CTK_SUBSONIC_{k.upper()}" for k in ("url", "user", "password") if not values.get(k)]
        if missing:
            raise ExportError(
                f"Subsonic export needs {', '.join(missing)} (or url/user in the [subsonic] table of ctk's "
                "config.toml); see docs/playlists.md"
            )
        return cls(url=str(values["url"]), user=str(values["user"]), password=str(values["password"]))
