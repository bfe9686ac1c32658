"""The few Web API calls ctk makes, each through a bounded retry.

Endpoints (current Web API; the old ``/playlists/{id}/tracks`` and ``/users/{id}/playlists``
paths are gone and answer 403, so they are never used):

* ``GET /me``, ``GET /me/playlists`` (paged), ``GET /search`` (paged)
* ``POST /me/playlists`` (create)
* ``POST /playlists/{id}/items`` (append, at most 100 URIs per call)
* ``PUT /playlists/{id}/items`` (replace everything, at most 100 URIs)

Calls go through spotipy's ``_get/_post/_put`` (so spotipy handles auth headers and token
refresh at expiry) and :meth:`SpotifyApi.call` handles failures:

* 429: wait ``Retry-After`` seconds and try again, unless the wait is longer than
  ``max_wait_s`` (the rate limit or the app's quota is exhausted: give up at once) or the
  attempts / the total waiting budget run out;
* 5xx and network errors: short exponential backoff, same bounds;
* 401: refresh the access token once (PKCE refresh token) and try again;
* anything else: :class:`ExportError` with Spotify's message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests
import spotipy
from spotipy.exceptions import SpotifyException, SpotifyOauthError

from playlists.errors import ExportError

BATCH = 100  # the Web API's limit of URIs per items request


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry loop.

    Args:
        max_attempts: tries per call, the first included.
        max_wait_s: longest single ``Retry-After`` honoured; a longer one gives up at once.
        total_wait_s: most seconds spent waiting over one call's retries.
        backoff_s: first wait after a 5xx or network error (doubles each time).
    """

    max_attempts: int = 5
    max_wait_s: float = 30.0
    total_wait_s: float = 120.0
    backoff_s: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_wait_s < 0 or self.total_wait_s < 0 or self.backoff_s < 0:
            raise ExportError(f"invalid retry policy {self}")


def _retry_after(exc: SpotifyException) -> float | None:
    headers = exc.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _message(exc: SpotifyException) -> str:
    text = str(exc.msg or "").split("\n")[-1].strip()
    return text or f"HTTP {exc.http_status}"


class SpotifyApi:
    """A spotipy client plus ctk's bounded retry.

    Args:
        client: a ``spotipy.Spotify`` (see :func:`playlists.spotify.client.make_client`).
        policy: retry bounds.
        sleep: the sleeping function (tests record the waits instead of sleeping).
    """

    def __init__(
        self,
        client: spotipy.Spotify,
        *,
        policy: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.policy = policy
        self.sleep = sleep

    # ------------------------------------------------------------------ plumbing
    def _refresh(self) -> bool:
        """Force a token refresh with the cached refresh token; False when impossible."""
        auth = self.client.auth_manager
        if self.client._auth or auth is None or not hasattr(auth, "refresh_access_token"):
            return False
        token_info = auth.cache_handler.get_cached_token() if hasattr(auth, "cache_handler") else None
        if not token_info or not token_info.get("refresh_token"):
            return False
        try:
            auth.refresh_access_token(token_info["refresh_token"])
        except SpotifyOauthError as exc:
            raise ExportError(
                f"Spotify refused to refresh the login ({exc.error or exc}); delete the token cache and log in again"
            ) from None
        return True

    def call(self, method: str, url: str, *, what: str, payload: Any = None, **params: Any) -> Any:
        """One Web API call with the bounded retry. ``url`` is relative to the API base or absolute."""
        fn = {"GET": self.client._get, "POST": self.client._post, "PUT": self.client._put}[method]
        refreshed = False
        waited = 0.0
        backoff = self.policy.backoff_s
        for attempt in range(1, self.policy.max_attempts + 1):
            wait: float | None = None
            try:
                return fn(url, payload=payload, **params)
            except SpotifyException as exc:
                status = exc.http_status
                if status == 429:
                    wait = _retry_after(exc)
                    wait = backoff if wait is None else wait
                    if wait > self.policy.max_wait_s:
                        raise ExportError(
                            f"Spotify is rate limiting {what} and asks to wait {wait:.0f} s (more than the "
                            f"{self.policy.max_wait_s:.0f} s ctk waits): the app's request quota is probably "
                            "exhausted; try again later"
                        ) from None
                elif status == 401:
                    if not refreshed and self._refresh():
                        refreshed = True
                        continue
                    raise ExportError(
                        f"Spotify rejected the access token for {what} (401: {_message(exc)}); "
                        + ("give a fresh token in CTK_SPOTIFY_TOKEN" if self.client._auth
                           else "delete the token cache and log in again")
                    ) from None
                elif status is not None and status >= 500:
                    wait = backoff
                else:
                    raise ExportError(f"Spotify refused {what} ({status}: {_message(exc)})") from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                wait = backoff
                if attempt == self.policy.max_attempts:
                    raise ExportError(f"cannot reach Spotify for {what}: {exc}") from None
            except SpotifyOauthError as exc:
                raise ExportError(f"Spotify login failed for {what}: {exc}") from None
            if attempt == self.policy.max_attempts or waited + wait > self.policy.total_wait_s:
                raise ExportError(
                    f"Spotify kept refusing {what} (rate limited or unavailable) after {attempt} attempts and "
                    f"{waited:.0f} s of waiting: the request quota is probably exhausted; try again later"
                )
            self.sleep(wait)
            waited += wait
            backoff *= 2
        raise ExportError(f"Spotify kept refusing {what}")  # not reached: the loop returns or raises

    def pages(self, first: dict, key: str | None, *, what: str, max_pages: int) -> Iterator[dict]:
        """Yield a paging object and the following ones (``next`` URLs), at most ``max_pages``."""
        page = (first or {}).get(key) if key else first
        for n in range(max_pages):
            if not isinstance(page, dict):
                raise ExportError(f"Spotify sent an unexpected answer while {what}: {str(page)[:200]}")
            yield page
            if not page.get("next") or n + 1 == max_pages:
                return
            nxt = self.call("GET", page["next"], what=what)
            page = (nxt or {}).get(key) if key else nxt

    # ------------------------------------------------------------------ endpoints
    def me(self) -> dict:
        return self.call("GET", "me", what="reading your Spotify profile")

    def search_tracks(self, query: str, *, limit: int, max_pages: int, market: str | None = None) -> Iterator[dict]:
        """Pages of track results for ``query`` (each a paging object with ``items``)."""
        params = {"q": query, "type": "track", "limit": limit, "offset": 0}
        if market:
            params["market"] = market
        first = self.call("GET", "search", what=f"searching {query!r}", **params)
        yield from self.pages(first, "tracks", what=f"searching {query!r}", max_pages=max_pages)

    def my_playlists(self) -> Iterator[dict]:
        first = self.call("GET", "me/playlists", what="listing your playlists", limit=50, offset=0)
        for page in self.pages(first, None, what="listing your playlists", max_pages=1000):
            yield from page.get("items") or []

    def create_playlist(self, name: str, *, public: bool, description: str) -> dict:
        payload = {"name": name, "public": public, "description": description}
        return self.call("POST", "me/playlists", what=f"creating playlist {name!r}", payload=payload)

    def add_items(self, playlist_id: str, uris: list[str], *, start: int = 0) -> None:
        """Append ``uris[start:]`` in batches of at most 100, in order."""
        for first in range(start, len(uris), BATCH):
            batch = uris[first : first + BATCH]
            self.call("POST", f"playlists/{playlist_id}/items", payload={"uris": batch},
                      what=f"adding items {first + 1}-{first + len(batch)} to playlist {playlist_id}")

    def replace_items(self, playlist_id: str, uris: list[str]) -> None:
        """Replace the playlist's items: the first 100 with PUT, the rest appended."""
        self.call("PUT", f"playlists/{playlist_id}/items", payload={"uris": uris[:BATCH]},
                  what=f"replacing the items of playlist {playlist_id}")
        self.add_items(playlist_id, uris, start=BATCH)
