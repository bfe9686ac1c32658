"""A stateful fake of the Spotify Web API and token endpoint, served over real HTTP on 127.0.0.1.

State: the user, valid access tokens, refresh tokens, PKCE codes, a track catalogue with a
paged search, playlists with their items, scripted failures, and a log of every request.
The removed ``/tracks`` playlist paths answer 403, like the real API.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import parse_qs, urlencode

from werkzeug import Request, Response

from embeddings.tags import normalise_text


def _error(status: int, message: str, headers: dict | None = None) -> Response:
    body = json.dumps({"error": {"status": status, "message": message}})
    return Response(body, status=status, headers=headers or {}, content_type="application/json")


def _ok(doc: dict, status: int = 200) -> Response:
    return Response(json.dumps(doc), status=status, content_type="application/json")


class FakeSpotify:
    def __init__(self, httpserver):
        self.server = httpserver
        self.base = httpserver.url_for("/v1/")
        self.token_url = httpserver.url_for("/api/token")
        self.auth_url = httpserver.url_for("/authorize")
        self.user = {"id": "listener", "display_name": "A Listener"}
        self.tokens: set[str] = {"good-token"}
        self.refresh_tokens: dict[str, int] = {}
        self.codes: dict[str, str] = {}  # code -> PKCE challenge
        self.catalogue: list[dict] = []
        self.playlists: dict[str, dict] = {}
        self.log: list[tuple[str, str, dict, object]] = []
        self.failures: list[tuple[str, str, int, dict, int]] = []  # method, path regex, status, headers, times
        self.issued = 0
        httpserver.expect_request(re.compile(r"^/v1/.*")).respond_with_handler(self._api)
        httpserver.expect_request("/api/token", method="POST").respond_with_handler(self._token)

    # ---------------------------------------------------------------- set-up helpers
    def add_track(self, name: str, artist: str, *, isrc: str | None = None, duration_s: float = 200.0) -> str:
        n = len(self.catalogue)
        uri = f"spotify:track:t{n:05d}"
        self.catalogue.append({
            "id": f"t{n:05d}", "uri": uri, "name": name, "artists": [{"name": artist}],
            "duration_ms": int(duration_s * 1000), "external_ids": {"isrc": isrc} if isrc else {},
        })
        return uri

    def add_playlist(self, name: str, uris: list[str], owner: str = "listener") -> str:
        pid = f"pl{len(self.playlists):04d}"
        self.playlists[pid] = {"id": pid, "name": name, "owner": {"id": owner}, "items": list(uris),
                               "external_urls": {"spotify": f"https://open.spotify.com/playlist/{pid}"}}
        return pid

    def fail(self, method: str, path: str, status: int, *, headers: dict | None = None, times: int = 1) -> None:
        """Answer the next ``times`` matching requests with ``status`` (times=-1: always)."""
        self.failures.append((method, path, status, headers or {}, times))

    def requests(self, method: str | None = None, prefix: str = "") -> list[tuple[str, str, dict, object]]:
        return [r for r in self.log if (method is None or r[0] == method) and r[1].startswith(prefix)]

    def new_token(self) -> str:
        self.issued += 1
        token = f"access-{self.issued}-secretvalue"
        self.tokens.add(token)
        return token

    # ---------------------------------------------------------------- handlers
    def _scripted(self, method: str, path: str) -> Response | None:
        for i, (m, pattern, status, headers, times) in enumerate(self.failures):
            if m == method and re.fullmatch(pattern, path) and times != 0:
                if times > 0:
                    self.failures[i] = (m, pattern, status, headers, times - 1)
                return _error(status, "scripted failure", headers)
        return None

    def _api(self, request: Request) -> Response:
        path = request.path[len("/v1"):]
        body = request.get_json(silent=True)
        self.log.append((request.method, path, dict(request.args), body))
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return _error(401, "The access token expired")
        if re.fullmatch(r"/playlists/[^/]+/tracks|/users/[^/]+/playlists(/.*)?", path):
            return _error(403, "Forbidden: this endpoint was removed, use /playlists/{id}/items")
        scripted = self._scripted(request.method, path)
        if scripted is not None:
            return scripted
        if path == "/me" and request.method == "GET":
            return _ok(self.user)
        if path == "/search" and request.method == "GET":
            return self._search(request)
        if path == "/me/playlists" and request.method == "GET":
            return self._page(list(self.playlists.values()), request, "/me/playlists", {})
        if path == "/me/playlists" and request.method == "POST":
            pid = self.add_playlist(body["name"], [])
            doc = {k: v for k, v in self.playlists[pid].items() if k != "items"}
            return _ok({**doc, "public": body.get("public"), "description": body.get("description")}, 201)
        match = re.fullmatch(r"/playlists/([^/]+)/items", path)
        if match and match.group(1) in self.playlists:
            playlist = self.playlists[match.group(1)]
            uris = body.get("uris", []) if isinstance(body, dict) else []
            if len(uris) > 100:
                return _error(400, "You can add a maximum of 100 tracks per request.")
            if request.method == "POST":
                playlist["items"].extend(uris)
                return _ok({"snapshot_id": f"s{len(playlist['items'])}"}, 201)
            if request.method == "PUT":
                playlist["items"] = list(uris)
                return _ok({"snapshot_id": "replaced"})
        return _error(404, f"no such resource {request.method} {path}")

    def _page(self, items: list, request: Request, path: str, extra: dict) -> Response:
        limit = int(request.args.get("limit", 20))
        offset = int(request.args.get("offset", 0))
        chunk = items[offset: offset + limit]
        nxt = None
        if offset + limit < len(items):
            query = urlencode({**extra, "limit": limit, "offset": offset + limit})
            nxt = self.server.url_for(f"/v1{path}") + "?" + query
        return _ok({"items": chunk, "limit": limit, "offset": offset, "total": len(items), "next": nxt})

    def _search(self, request: Request) -> Response:
        q = request.args.get("q", "")
        if q.startswith("isrc:"):
            code = q[5:].strip().upper()
            hits = [t for t in self.catalogue if t["external_ids"].get("isrc", "").upper() == code]
        else:
            # loose like the real thing: any track sharing a word with the query, in catalogue order
            words = set(normalise_text(re.sub(r"\b(track|artist):", " ", q)).split())
            hits = [t for t in self.catalogue
                    if words & set(normalise_text(t["name"] + " " + t["artists"][0]["name"]).split())]
        page = json.loads(self._page(hits, request, "/search", {"q": q, "type": "track"}).data)
        return _ok({"tracks": page})

    def _token(self, request: Request) -> Response:
        form = parse_qs(request.get_data(as_text=True))
        grant = form.get("grant_type", [""])[0]
        self.log.append(("POST", "/api/token", {}, {"grant_type": grant}))
        scope = "playlist-read-private playlist-modify-private playlist-modify-public"
        if grant == "refresh_token":
            refresh = form.get("refresh_token", [""])[0]
            if refresh not in self.refresh_tokens:
                return Response(json.dumps({"error": "invalid_grant"}), status=400, content_type="application/json")
            return _ok({"access_token": self.new_token(), "token_type": "Bearer", "expires_in": 3600, "scope": scope})
        if grant == "authorization_code":
            code = form.get("code", [""])[0]
            verifier = form.get("code_verifier", [""])[0]
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            if self.codes.get(code) != digest:
                return Response(json.dumps({"error": "invalid_grant"}), status=400, content_type="application/json")
            refresh = f"refresh-{len(self.refresh_tokens)}-secretvalue"
            self.refresh_tokens[refresh] = 1
            return _ok({"access_token": self.new_token(), "token_type": "Bearer", "expires_in": 3600,
                        "refresh_token": refresh, "scope": scope})
        return Response(json.dumps({"error": "unsupported_grant_type"}), status=400, content_type="application/json")
