"""A stateful fake Subsonic server (REST API 1.16) served over real HTTP on 127.0.0.1.

Built from the published API: every request carries ``u`` and either ``t``/``s`` (token =
md5(password + salt)) or ``p`` (plain or ``enc:`` hex); answers are
``{"subsonic-response": {"status": ..., "version": ...}}`` with error codes 10 (missing
parameter), 40 (wrong username or password), 41 (token authentication not supported) and 70
(not found). State: users, songs with a paged ``search3`` (``songCount``/``songOffset``; every
query word must occur in title, artist or album), playlists with their entries, and a log of
every request (method, endpoint, parameters).
"""

from __future__ import annotations

import hashlib
import json
import re

from werkzeug import Request, Response

from embeddings.tags import normalise_text

VERSION = "1.16.1"


def _answer(payload: dict | None = None, *, error: tuple[int, str] | None = None) -> Response:
    body = {"status": "failed" if error else "ok", "version": VERSION, "type": "fake", "openSubsonic": False}
    if error:
        body["error"] = {"code": error[0], "message": error[1]}
    body.update(payload or {})
    return Response(json.dumps({"subsonic-response": body}), content_type="application/json")


class FakeSubsonic:
    def __init__(self, httpserver, *, user: str = "ann", password: str = "sesame", token_auth: bool = True):
        self.url = httpserver.url_for("/").rstrip("/")
        self.users = {user: password}
        self.token_auth = token_auth
        self.songs: list[dict] = []
        self.playlists: dict[str, dict] = {}
        self.log: list[tuple[str, str, dict]] = []
        httpserver.expect_request(re.compile(r"^/rest/.*")).respond_with_handler(self._handle)

    def add_song(self, title: str, artist: str, *, duration: int = 200, album: str = "Album") -> str:
        sid = f"so-{len(self.songs):04d}"
        self.songs.append({"id": sid, "title": title, "artist": artist, "album": album, "duration": duration,
                           "isDir": False, "type": "music"})
        return sid

    def calls(self, endpoint: str) -> list[dict]:
        return [params for _, name, params in self.log if name == endpoint]

    # ---------------------------------------------------------------- the API
    def _login(self, args) -> tuple[int, str] | None:
        user = args.get("u")
        if not user or not (args.get("t") or args.get("p")):
            return 10, "Required parameter is missing: u, and t+s or p"
        password = self.users.get(user)
        if args.get("t"):
            if not self.token_auth:
                return 41, "Token authentication not supported for LDAP users."
            ok = password is not None and hashlib.md5((password + args.get("s", "")).encode()).hexdigest() == args["t"]
        else:
            given = args["p"]
            given = bytes.fromhex(given[4:]).decode() if given.startswith("enc:") else given
            ok = password is not None and given == password
        return None if ok else (40, "Wrong username or password.")

    def _handle(self, request: Request) -> Response:
        args = request.values  # query string and form body together
        endpoint = request.path.removeprefix("/rest/").removesuffix(".view")
        params = {k: args.getlist(k) if len(args.getlist(k)) > 1 else args.get(k) for k in args}
        self.log.append((request.method, endpoint, params))
        if args.get("f") != "json":
            return Response("<subsonic-response status='failed'/>", content_type="text/xml")
        error = self._login(args)
        if error:
            return _answer(error=error)
        user = args["u"]
        if endpoint == "ping":
            return _answer()
        if endpoint == "search3":
            words = normalise_text(args.get("query", "")).split()
            hits = [s for s in self.songs
                    if all(w in normalise_text(f"{s['title']} {s['artist']} {s['album']}") for w in words)]
            count, offset = int(args.get("songCount", 20)), int(args.get("songOffset", 0))
            return _answer({"searchResult3": {"song": hits[offset: offset + count]}})
        if endpoint == "getPlaylists":
            listed = [{k: v for k, v in p.items() if k != "entry"} for p in self.playlists.values()]
            return _answer({"playlists": {"playlist": listed}})
        if endpoint == "getPlaylist":
            playlist = self.playlists.get(args.get("id", ""))
            return _answer({"playlist": playlist}) if playlist else _answer(error=(70, "Playlist not found"))
        if endpoint == "createPlaylist":
            ids = args.getlist("songId")
            by_id = {s["id"]: s for s in self.songs}
            if any(i not in by_id for i in ids):
                return _answer(error=(70, "Song not found"))
            if args.get("playlistId"):
                playlist = self.playlists.get(args["playlistId"])
                if playlist is None:
                    return _answer(error=(70, "Playlist not found"))
            elif args.get("name"):
                pid = f"pl-{len(self.playlists) + 1}"
                playlist = self.playlists[pid] = {"id": pid, "name": args["name"], "owner": user, "comment": ""}
            else:
                return _answer(error=(10, "Required parameter is missing: name or playlistId"))
            playlist["entry"] = [by_id[i] for i in ids]
            playlist["songCount"] = len(ids)
            return _answer({"playlist": playlist})
        if endpoint == "updatePlaylist":
            playlist = self.playlists.get(args.get("playlistId", ""))
            if playlist is None:
                return _answer(error=(70, "Playlist not found"))
            for key in ("name", "comment"):
                if args.get(key) is not None:
                    playlist[key] = args[key]
            return _answer()
        return _answer(error=(0, f"unknown method {endpoint}"))
