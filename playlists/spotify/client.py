"""Build a spotipy client that ctk controls: our own HTTP session, PKCE login, no hidden retries.

spotipy's default session retries 429 answers itself and honours any ``Retry-After``, which
can mean sleeping for hours. ctk passes its own ``requests.Session`` whose adapters do not
retry, and retries in :mod:`playlists.spotify.api` within fixed bounds instead.

Login is OAuth 2.0 authorization code with PKCE (``spotipy.SpotifyPKCE``): no client
secret, a browser page, and a redirect to ``http://127.0.0.1:PORT/callback`` that spotipy
catches with a one-shot local server. Tokens are cached (mode 0600) in the user config
directory and refreshed with the refresh token. A token given directly
(``CTK_SPOTIFY_TOKEN``) is used as is.

spotipy logs request headers (the bearer token) and token payloads at DEBUG level; a filter
on its loggers blanks secrets out of every record.
"""

from __future__ import annotations

import logging
import re
import secrets

import requests
import spotipy
from requests.adapters import HTTPAdapter
from spotipy.cache_handler import CacheFileHandler

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


def make_auth_manager(
    settings: SpotifySettings, *, session: requests.Session, open_browser: bool = True
) -> spotipy.SpotifyPKCE:
    """The PKCE auth manager, pointed at ``settings.token_url`` / ``auth_url``, caching tokens."""
    if not settings.client_id:
        raise ExportError(
            "no Spotify client id: create an app at https://developer.spotify.com/dashboard with the redirect "
            f"URI {settings.redirect_uri}, then set CTK_SPOTIFY_CLIENT_ID (or client_id in spotify.json in "
            "ctk's config directory), or give an access token in CTK_SPOTIFY_TOKEN"
        )
    settings.cache_path.parent.mkdir(parents=True, exist_ok=True)
    auth = spotipy.SpotifyPKCE(
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
    return auth


def make_client(
    settings: SpotifySettings, *, session: requests.Session | None = None, open_browser: bool = True
) -> spotipy.Spotify:
    """A ``spotipy.Spotify`` for ``settings``: direct token if given, else PKCE login."""
    install_redaction()
    session = session or make_session()
    if settings.token:
        client = spotipy.Spotify(
            auth=settings.token, requests_session=session, requests_timeout=settings.timeout_s, retries=0
        )
    else:
        auth = make_auth_manager(settings, session=session, open_browser=open_browser)
        client = spotipy.Spotify(
            auth_manager=auth, requests_session=session, requests_timeout=settings.timeout_s, retries=0
        )
    client.prefix = settings.api_url
    return client
