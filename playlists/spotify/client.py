"""Build a spotipy client that ctk controls: our own HTTP session, PKCE login, no hidden retries.

spotipy's default session retries 429 answers itself and honours any ``Retry-After``, which
can mean sleeping for hours. ctk passes its own ``requests.Session`` whose adapters do not
retry, and retries in :mod:`playlists.spotify.api` within fixed bounds instead.

Login is OAuth 2.0 authorization code with PKCE (``spotipy.SpotifyPKCE``): no client
secret, a browser page, and a redirect to ``http://127.0.0.1:PORT/callback`` that spotipy
catches with a one-shot local server; the login URL is handed to ``on_login_url`` (the CLI prints
it: there may be no browser to open) and the server waits ``login_timeout_s``, then gives up
with an error that says what to do. Tokens are cached (mode 0600) in the user config
directory and refreshed with the refresh token. A token given directly
(``CTK_SPOTIFY_TOKEN``) is used as is.

spotipy logs request headers (the bearer token) and token payloads at DEBUG level; a filter
on its loggers blanks secrets out of every record.
"""

from __future__ import annotations

import logging
import re
import secrets
import webbrowser
from collections.abc import Callable

import requests
import spotipy
from requests.adapters import HTTPAdapter
from spotipy.cache_handler import CacheFileHandler
from spotipy.oauth2 import SpotifyStateError, start_local_http_server

from playlists.errors import ExportError
from playlists.spotify.settings import SpotifySettings

_SECRET = re.compile(
    r"(Bearer\s+|(?:access_token|refresh_token|code_verifier|code)['\"]?\s*[:=]\s*['\"]?)([A-Za-z0-9._~+/=-]{6,})"
)


class RedactSecrets(logging.Filter):
    """Replaces bearer tokens, access/refresh tokens and PKCE verifiers in log records by ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format: leave it alone
            return True
        cleaned = _SECRET.sub(lambda m: m.group(1) + "***", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactSecrets()


def install_redaction() -> None:
    """Attach :class:`RedactSecrets` to spotipy's loggers (idempotent)."""
    for name in ("spotipy", "spotipy.client", "spotipy.oauth2", "spotipy.cache_handler", "urllib3.connectionpool"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def make_session() -> requests.Session:
    """A ``requests.Session`` that never retries on its own (ctk retries within bounds)."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class LoopbackPKCE(spotipy.SpotifyPKCE):
    """spotipy's PKCE login, but its one-shot loopback server says where to log in and gives up in time."""

    login_timeout_s: float = 300.0
    on_login_url: Callable[[str], None] | None = None

    def _get_auth_response_local_server(self, redirect_port: int) -> str:
        server = start_local_http_server(redirect_port)
        server.timeout = self.login_timeout_s  # handle_request returns after this long without a request
        url = self.get_authorize_url()
        try:
            if self.on_login_url is not None:
                self.on_login_url(url)
            if self.open_browser:
                try:
                    webbrowser.open(url)
                except webbrowser.Error:
                    pass
            server.handle_request()
        finally:
            server.server_close()
        if server.auth_code is None and server.error is None:
            raise ExportError(
                f"no Spotify login came back to {self.redirect_uri} within {self.login_timeout_s:g} s: open the "
                "login URL in a browser on this machine (CTK_SPOTIFY_LOGIN_TIMEOUT gives more time), "
                "or set CTK_SPOTIFY_TOKEN to an access token"
            )
        if self.state is not None and server.state != self.state:
            raise SpotifyStateError(self.state, server.state)
        if server.auth_code is None:
            raise ExportError(f"Spotify login refused: {server.error}")
        return server.auth_code


def make_auth_manager(
    settings: SpotifySettings,
    *,
    session: requests.Session,
    open_browser: bool = True,
    on_login_url: Callable[[str], None] | None = None,
) -> spotipy.SpotifyPKCE:
    """The PKCE auth manager, pointed at ``settings.token_url`` / ``auth_url``, caching tokens."""
    if not settings.client_id:
        raise ExportError(
            "no Spotify client id: create an app at https://developer.spotify.com/dashboard with the redirect "
            f"URI {settings.redirect_uri}, then set CTK_SPOTIFY_CLIENT_ID (or client_id in spotify.json in "
            "ctk's config directory), or give an access token in CTK_SPOTIFY_TOKEN"
        )
    settings.cache_path.parent.mkdir(parents=True, exist_ok=True)
    auth = LoopbackPKCE(
        client_id=settings.client_id,
        redirect_uri=settings.redirect_uri,
        state=secrets.token_urlsafe(16),  # the loopback answer must carry it back (CSRF)
        scope=" ".join(settings.scopes),
        cache_handler=CacheFileHandler(cache_path=str(settings.cache_path)),
        requests_session=session,
        requests_timeout=settings.timeout_s,
        open_browser=open_browser,
    )
    # spotipy reads these class attributes through self: instance values redirect it
    auth.OAUTH_TOKEN_URL = settings.token_url
    auth.OAUTH_AUTHORIZE_URL = settings.auth_url
    auth.login_timeout_s = settings.login_timeout_s
    auth.on_login_url = on_login_url
    return auth


def make_client(
    settings: SpotifySettings,
    *,
    session: requests.Session | None = None,
    open_browser: bool = True,
    on_login_url: Callable[[str], None] | None = None,
) -> spotipy.Spotify:
    """A ``spotipy.Spotify`` for ``settings``: direct token if given, else PKCE login."""
    install_redaction()
    session = session or make_session()
    if settings.token:
        client = spotipy.Spotify(
            auth=settings.token, requests_session=session, requests_timeout=settings.timeout_s, retries=0
        )
    else:
        auth = make_auth_manager(settings, session=session, open_browser=open_browser, on_login_url=on_login_url)
        client = spotipy.Spotify(
            auth_manager=auth, requests_session=session, requests_timeout=settings.timeout_s, retries=0
        )
    client.prefix = settings.api_url
    return client
