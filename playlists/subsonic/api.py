"""The few Subsonic REST API calls ctk makes (Navidrome, Airsonic, Gonic, ...).

Every call is ``{url}/rest/{method}`` with the common parameters ``u`` (user), ``t``
(``md5(password + salt)``, hex), ``s`` (a fresh random salt per request), ``v`` (API version),
``c`` (client name) and ``f=json``. A server that cannot check tokens (error 41, e.g. LDAP users)
is asked again once with the hex-encoded password (``p=enc:...``). Reads are GET; the playlist
writes are POSTed form-encoded (API 1.14+), so long playlists do not overflow a URL.

Answers are ``{"subsonic-response": {"status": "ok" | "failed", "error": {"code", "message"}}}``;
a failure becomes :class:`ExportError` with the server's message.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

import requests

from playlists.errors import ExportError
from playlists.subsonic.settings import SubsonicSettings

WRONG_CREDENTIALS = 40
TOKEN_NOT_SUPPORTED = 41


def token_auth(password: str, salt: str) -> str:
    """The Subsonic token: the hex md5 of the password followed by the salt."""
    return hashlib.md5((password + salt).encode("utf-8")).hexdigest()


class SubsonicApi:
    """A ``requests`` session that speaks the Subsonic API with token authentication."""

    def __init__(self, settings: SubsonicSettings, *, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.plain_password = False  # switched on by error 41

    def _auth(self) -> dict[str, str]:
        s = self.settings
        common = {"u": s.user, "v": s.api_version, "c": s.client_name, "f": "json"}
        if self.plain_password:
            return {**common, "p": "enc:" + s.password.encode("utf-8").hex()}
        salt = secrets.token_hex(8)
        return {**common, "t": token_auth(s.password, salt), "s": salt}

    def call(self, method: str, *, post: bool = False, **params: Any) -> dict:
        """One API call; the ``subsonic-response`` object of an ``ok`` answer."""
        url = f"{self.settings.url}/rest/{method}"
        for _ in range(2):
            fields = [(k, v) for k, v in self._auth().items()]
            for key, value in params.items():
                for item in value if isinstance(value, list | tuple) else [value]:
                    fields.append((key, str(item)))
            try:
                if post:
                    answer = self.session.post(url, data=fields, timeout=self.settings.timeout_s)
                else:
                    answer = self.session.get(url, params=fields, timeout=self.settings.timeout_s)
            except requests.RequestException as exc:
                raise ExportError(f"cannot reach the Subsonic server at {self.settings.url} ({method}): "
                                  f"{type(exc).__name__}") from None
            if answer.status_code == 401 or answer.status_code == 403:
                raise ExportError(f"the Subsonic server refused {method} (HTTP {answer.status_code}): check "
                                  "CTK_SUBSONIC_USER and CTK_SUBSONIC_PASSWORD")
            if answer.status_code != 200:
                raise ExportError(f"the Subsonic server answered HTTP {answer.status_code} to {method}")
            try:
                body = answer.json()["subsonic-response"]
            except (ValueError, KeyError, TypeError):
                raise ExportError(f"{self.settings.url} did not answer {method} like a Subsonic server "
                                  f"(is the URL right?): {answer.text[:120]!r}") from None
            if body.get("status") == "ok":
                return body
            error = body.get("error") or {}
            code = error.get("code")
            if code == TOKEN_NOT_SUPPORTED and not self.plain_password:
                self.plain_password = True
                continue
            if code == WRONG_CREDENTIALS:
                raise ExportError(f"the Subsonic server refused the login of {self.settings.user!r}: "
                                  f"{error.get('message') or 'wrong username or password'}")
            raise ExportError(f"the Subsonic server refused {method} (error {code}: {error.get('message')})")
        raise ExportError(f"the Subsonic server refused {method}")  # not reached

    def ping(self) -> None:
        self.call("ping")

    def search_songs(self, query: str, *, page_size: int, max_pages: int) -> Iterator[list[dict]]:
        """Pages of ``search3`` song results for ``query`` (``songOffset`` paging; stops at a short page)."""
        for page in range(max_pages):
            body = self.call("search3", query=query, artistCount=0, albumCount=0, songCount=page_size,
                             songOffset=page * page_size)
            songs = (body.get("searchResult3") or {}).get("song") or []
            yield songs
            if len(songs) < page_size:
                return

    def playlists(self) -> list[dict]:
        return (self.call("getPlaylists").get("playlists") or {}).get("playlist") or []

    def playlist(self, playlist_id: str) -> dict:
        return self.call("getPlaylist", id=playlist_id).get("playlist") or {}

    def create_playlist(self, name: str, song_ids: list[str]) -> dict:
        """A new playlist ``name`` holding ``song_ids``; the server's playlist object."""
        return self.call("createPlaylist", post=True, name=name, songId=song_ids).get("playlist") or {}

    def replace_songs(self, playlist_id: str, song_ids: list[str]) -> dict:
        """Replace every song of playlist ``playlist_id`` (``createPlaylist`` with ``playlistId``)."""
        return self.call("createPlaylist", post=True, playlistId=playlist_id, songId=song_ids).get("playlist") or {}

    def set_comment(self, playlist_id: str, comment: str) -> None:
        self.call("updatePlaylist", post=True, playlistId=playlist_id, comment=comment)
