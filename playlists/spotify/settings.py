"""Where ctk finds Spotify: API and token URLs, the app's client id, a direct token, the token cache.

Every setting can come from the environment, so any test server or proxy can stand in for
Spotify:

============================  =================================================  ===========================
variable                      meaning                                            default
============================  =================================================  ===========================
``CTK_SPOTIFY_CLIENT_ID``     the client id of your Spotify app (PKCE: no secret) ``client_id`` in the config
``CTK_SPOTIFY_TOKEN``         an access token to use as is (no login, no refresh) none
``CTK_SPOTIFY_API_URL``       Web API base (spotipy's ``prefix``)                 ``https://api.spotify.com/v1/``
``CTK_SPOTIFY_TOKEN_URL``     OAuth token endpoint                               ``https://accounts.spotify.com/api/token``
``CTK_SPOTIFY_AUTH_URL``      OAuth authorize page                               ``https://accounts.spotify.com/authorize``
``CTK_SPOTIFY_REDIRECT_PORT`` port of the loopback redirect ``http://127.0.0.1:PORT/callback``   8888
``CTK_SPOTIFY_LOGIN_TIMEOUT`` seconds the loopback redirect is awaited, then an error          300
============================  =================================================  ===========================

The config file is ``spotify.json`` in the user config directory (``platformdirs``), e.g.
``{"client_id": "...", "redirect_port": 8888}``; the token cache (written by spotipy with mode
0600) is ``spotify-token.json`` next to it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from playlists.errors import ExportError

API_URL = "https://api.spotify.com/v1/"
TOKEN_URL = "https://accounts.spotify.com/api/token"
AUTH_URL = "https://accounts.spotify.com/authorize"
SCOPES = ("playlist-read-private", "playlist-modify-private", "playlist-modify-public")
DEFAULT_PORT = 8888


def config_dir() -> Path:
    """ctk's user config directory (``~/.config/ctk`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_config_dir("ctk", appauthor=False))


@dataclass(frozen=True)
class SpotifySettings:
    """Everything needed to build a Spotify client. ``token`` never appears in ``repr``."""

    client_id: str | None = None
    token: str | None = field(default=None, repr=False)
    api_url: str = API_URL
    token_url: str = TOKEN_URL
    auth_url: str = AUTH_URL
    redirect_port: int = DEFAULT_PORT
    cache_path: Path = field(default_factory=lambda: config_dir() / "spotify-token.json")
    scopes: tuple[str, ...] = SCOPES
    timeout_s: float = 15.0
    #: how long the loopback server waits for the browser's redirect after a login page was offered
    login_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        if not 1 <= self.redirect_port <= 65535:
            raise ExportError(f"redirect_port={self.redirect_port} is not a TCP port")
        if not self.api_url.endswith("/"):
            object.__setattr__(self, "api_url", self.api_url + "/")

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.redirect_port}/callback"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, config_file: Path | None = None) -> SpotifySettings:
        """Settings from ``env`` (default ``os.environ``) over the config file over defaults."""
        env = os.environ if env is None else env
        config_file = config_file or config_dir() / "spotify.json"
        config: dict = {}
        if config_file.is_file():
            try:
                config = json.loads(config_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ExportError(f"cannot read Spotify settings {config_file}: {exc}") from exc
            if not isinstance(config, dict):
                raise ExportError(f"{config_file} must hold a JSON object, e.g. {{\"client_id\": \"...\"}}")
        port = env.get("CTK_SPOTIFY_REDIRECT_PORT") or config.get("redirect_port") or DEFAULT_PORT
        try:
            port = int(port)
        except ValueError as exc:
            raise ExportError(f"CTK_SPOTIFY_REDIRECT_PORT={port!r} is not a port number") from exc
        return cls(
            client_id=env.get("CTK_SPOTIFY_CLIENT_ID") or config.get("client_id") or None,
            token=env.get("CTK_SPOTIFY_TOKEN") or None,
            api_url=env.get("CTK_SPOTIFY_API_URL") or config.get("api_url") or API_URL,
            token_url=env.get("CTK_SPOTIFY_TOKEN_URL") or config.get("token_url") or TOKEN_URL,
            auth_url=env.get("CTK_SPOTIFY_AUTH_URL") or config.get("auth_url") or AUTH_URL,
            redirect_port=port,
            login_timeout_s=_seconds(env.get("CTK_SPOTIFY_LOGIN_TIMEOUT") or config.get("login_timeout_s") or 300),
            cache_path=Path(config.get("token_cache") or config_dir() / "spotify-token.json"),
        )


def _seconds(value: object) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ExportError(f"CTK_SPOTIFY_LOGIN_TIMEOUT={value!r} is not a number of seconds") from exc
    if not seconds > 0:
        raise ExportError(f"CTK_SPOTIFY_LOGIN_TIMEOUT={value!r} must be positive")
    return seconds
