"""The ``ctk serve`` web app: a JSON API over a library store and the page that uses it.

API (all JSON unless said otherwise):

=======================================  ===================================================================
``GET /api/info``                        the library: tracks, model, cluster run, whether writes need a token
``GET /api/search?q=&page=&per_page=``   typo-tolerant search over artist, title and album (ranked, paged)
``GET /api/tracks/{id}``                 tags, cluster and audio URL of one track
``GET /api/tracks/{id}/similar?n=``      the most similar tracks, the fragment that matched and why
``GET /api/map``                         the UMAP map (202 while it is being computed)
``POST /api/playlist``                   a hull walk or a path from a selection of tracks (computes only)
``POST /api/playlists``                  save a playlist: the store's ``playlists`` table + an M3U8 file
``GET /api/playlists/{id}.m3u8``         a saved playlist as M3U8 text (absolute paths)
``POST /api/spotify``                    send a playlist to Spotify (when Spotify is configured, see below)
``GET /audio/{path}``                    a track's audio file, with HTTP range requests (see files.py)
=======================================  ===================================================================

Spotify is offered when a token is at hand without a login: ``$CTK_SPOTIFY_TOKEN``, or a client id whose token
cache exists (``ctk export spotify`` logged in once); the export is :func:`playlists.spotify.export_to_spotify`.

Safety: audio only for library tracks inside the music root (:mod:`cluster_toolkit.serve.files`); request
bodies above ``max_body`` bytes get 413 and over-long parameters 422; the write endpoints (``POST
/api/playlists``, ``POST /api/spotify``) need the token when one is set (``X-CTK-Token`` header), and
without a token answer only clients on the loopback interface; writes must be JSON and, when the browser
sends an ``Origin``, come from this server's own page (another site cannot post to it); a loopback server
answers only requests addressed to a loopback name (``hosts``: no DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import json
import math
import mimetypes
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, StringConstraints
from starlette.middleware.trustedhost import TrustedHostMiddleware

from cluster_toolkit.errors import CtkError
from cluster_toolkit.serve.files import FileRefused
from cluster_toolkit.serve.state import ServedLibrary
from cluster_toolkit.store import LibraryStore
from playlists.errors import ExportError, PlaylistError

STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024
MAX_QUERY = 200
MAX_LENGTH = 500
MAX_SEEDS = 500
TOKEN_HEADER = "X-CTK-Token"

TrackId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PlaylistRequest(BaseModel):
    """A hull walk through the selection's hull, or a path from its first track to its last."""

    method: Literal["hull", "path"] = "hull"
    seeds: list[TrackId] = Field(min_length=1, max_length=MAX_SEEDS)
    length: int = Field(20, ge=2, le=MAX_LENGTH)


class SaveRequest(BaseModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]
    track_ids: list[TrackId] = Field(min_length=1, max_length=MAX_LENGTH)
    method: Annotated[str, StringConstraints(min_length=1, max_length=40)] = "serve"
    overwrite: bool = False


class SpotifyRequest(BaseModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]
    track_ids: list[TrackId] = Field(min_length=1, max_length=MAX_LENGTH)
    update: bool = False


def spotify_settings() -> Any:
    """Spotify settings usable without an interactive login, or None (see the module doc)."""
    from playlists.errors import ExportError
    from playlists.spotify import SpotifySettings

    try:
        settings = SpotifySettings.from_env()
    except ExportError:
        return None
    return settings if settings.token or (settings.client_id and settings.cache_path.is_file()) else None


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``limit`` bytes, declared (``Content-Length``) or streamed.

    The body (at most ``limit`` bytes) is read here before the app sees it, then handed on unchanged.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._refuse(scope, send)
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.limit:
                return await self._refuse(scope, send)
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> dict:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: dict, send: Any) -> None:
        response = JSONResponse({"detail": f"request body over {self.limit} bytes"}, status_code=413)
        await response(scope, None, send)


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address, or ``localhost``) is this machine's loopback interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def create_app(library: str | Path | LibraryStore | ServedLibrary, *, token: str | None = None,
               music_root: str | Path | None = None, playlists_dir: str | Path | None = None,
               max_body: int = MAX_BODY, spotify: Any = "auto", hosts: list[str] | None = None) -> FastAPI:
    """The app over ``library`` (a store path, an open store, or an already loaded :class:`ServedLibrary`).

    Args:
        token: when set, saving needs it in the ``X-CTK-Token`` header; when None, only loopback clients
            may save.
        music_root: the folder audio is served from (default: the folder holding every track).
        playlists_dir: where saved M3U8 files go (default: ``<music root>/Playlists``).
        max_body: the largest request body accepted, in bytes.
        spotify: :class:`~playlists.spotify.SpotifySettings` to send playlists with, None for no Spotify,
            ``"auto"`` for :func:`spotify_settings`.
        hosts: the ``Host`` names answered (400 for any other), e.g. ``["127.0.0.1", "localhost"]`` for a
            loopback server, so that a web page whose domain is made to resolve to 127.0.0.1 (DNS rebinding)
            cannot read or write through the user's browser; None answers any.
    """
    served = library if isinstance(library, ServedLibrary) else ServedLibrary(
        library, music_root=music_root, playlists_dir=playlists_dir)
    app = FastAPI(title="ctk", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.served = served
    app.add_middleware(BodyLimit, limit=max_body)
    if hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    spotify = spotify_settings() if spotify == "auto" else spotify
    lib = served.library
    position = {tid: i for i, tid in enumerate(lib.track_ids)}

    @app.exception_handler(CtkError)
    async def _ctk_error(request: Request, exc: CtkError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(ExportError)
    async def _export_error(request: Request, exc: ExportError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=502)

    @app.exception_handler(PlaylistError)
    async def _playlist_error(request: Request, exc: PlaylistError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    def row_of(track_id: str) -> int:
        index = position.get(track_id)
        if index is None:
            raise HTTPException(404, f"no track {track_id!r} in the library")
        return index

    def may_write(request: Request) -> None:
        if token is not None:
            if not secrets.compare_digest(request.headers.get(TOKEN_HEADER, ""), token):
                raise HTTPException(403, f"saving needs the server's token in the {TOKEN_HEADER} header")
        elif not is_loopback(request.client.host if request.client else None):
            raise HTTPException(403, "this server has no token: only its own machine may save (start it with "
                                     "--token, or it makes one when bound to another address)")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HTTPException(415, "send JSON (Content-Type: application/json)")
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.headers.get("host"):
            raise HTTPException(403, f"requests from {origin} may not write to this server")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/info")
    def info() -> dict:
        return {
            "tracks": len(lib),
            "model_id": served.store.model_id,
            "cluster_run": served.clusters.run_id if served.clusters else None,
            "music_root": served.music.root,
            "playable": len(served.music.tracks),
            "playlists_dir": str(served.playlists_dir),
            "token_required": token is not None,
            "spotify": spotify is not None,
            "load_seconds": round(served.load_seconds, 3),
        }

    @app.get("/api/search")
    def search(q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY)],
               page: Annotated[int, Query(ge=1, le=10_000)] = 1,
               per_page: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
        found = served.search.search(q, page=page, per_page=per_page)
        results = [{**served.track_row(r), "score": s} for r, s in zip(found.rows, found.scores)]
        return {"query": q, "total": found.total, "page": page, "per_page": per_page, "results": results}

    @app.get("/api/tracks/{track_id}")
    def track(track_id: TrackId) -> dict:
        return served.track_row(row_of(track_id))

    @app.get("/api/tracks/{track_id}/similar")
    def similar_tracks(track_id: TrackId, n: Annotated[int, Query(ge=1, le=50)] = 10) -> dict:
        from playlists.recommend import similar

        seed_row = row_of(track_id)
        rec = similar(lib, served.fragments, served.fragment_vectors, track_id, n=n, rules=served.rules,
                      index=served.index)
        seed = served.track_row(seed_row)
        span = (served.store.meta.get("fragment") or {}).get("n_seconds")
        picks = []
        for pick in rec.picks.itertuples(index=False):
            row = served.track_row(position[pick.track_id])
            start, seed_start = _num(pick.fragment_start_s), _num(pick.closest_liked_start_s)
            reasons = []
            if start is not None and seed_start is not None:
                reasons.append(f"{_clock(start)} of this song sounds like {_clock(seed_start)} of "
                               f"{pick.closest_liked} (cosine distance {pick.closest_liked_distance:.3f})")
            if row["cluster"] and seed["cluster"] and row["cluster"]["label"] == seed["cluster"]["label"] >= 0:
                reasons.append(f"same cluster: {row['cluster']['name']}")
            for tag in ("artist", "album", "genre"):
                if row[tag] and row[tag] == seed[tag]:
                    reasons.append(f"same {tag}: {row[tag]}")
            picks.append({**row, "rank": int(pick.rank), "distance": float(pick.distance),
                          "fragment_start_s": start, "fragment_seconds": span, "seed_start_s": seed_start,
                          "seed_distance": float(pick.closest_liked_distance), "why": reasons})
        return {"seed": seed, "similar": picks, "notices": list(rec.playlist.notices)}

    map_body: dict[int, bytes] = {}  # the map's JSON, made once (the layout never changes once ready)

    @app.get("/api/map")
    def map_data() -> Response:
        layout = served.map
        if layout.error:
            return JSONResponse({"status": "failed", "error": layout.error}, status_code=500)
        if layout.coords is None:
            return JSONResponse({"status": "computing"}, status_code=202)
        if id(layout) not in map_body:
            map_body[id(layout)] = json.dumps({
                "status": "ready", "ids": lib.track_ids,
                "x": np.round(layout.coords[:, 0].astype(np.float64), 4).tolist(),
                "y": np.round(layout.coords[:, 1].astype(np.float64), 4).tolist(),
                "g": layout.group.tolist(), "names": layout.names, "colors": layout.colors, "title": layout.title,
                "hover": layout.hover, "cached": layout.cached,
            }, ensure_ascii=False, separators=(",", ":")).encode()
        return Response(map_body[id(layout)], media_type="application/json")

    @app.post("/api/playlist")
    def make_playlist(body: PlaylistRequest) -> dict:
        from playlists.hull import hull_walk
        from playlists.path import song_path

        for tid in body.seeds:
            row_of(tid)
        if body.method == "path":
            if len(body.seeds) < 2:
                raise HTTPException(422, "a path needs two tracks: select its start and its end")
            playlist = song_path(lib, body.seeds[0], body.seeds[-1], length=body.length, rules=served.rules)
        else:
            playlist = hull_walk(lib, body.seeds, length=body.length, rules=served.rules)
        rows = [served.track_row(position[t]) for t in playlist.track_ids]
        return {"method": playlist.method, "track_ids": playlist.track_ids, "tracks": rows,
                "metrics": {k: float(v) for k, v in playlist.metrics.items()}, "notices": playlist.notices}

    @app.post("/api/playlists", dependencies=[Depends(may_write)])
    def save(body: SaveRequest) -> dict:
        from cluster_toolkit.store.saved_playlists import playlist_from_ids, save_playlist
        from playlists.m3u import m3u8_text, write_m3u8

        for tid in body.track_ids:
            row_of(tid)
        out = served.playlists_dir / (safe_file_name(body.name) + ".m3u8")
        if out.exists() and not body.overwrite:
            raise HTTPException(409, f"{out} exists; save under another name or overwrite it")
        playlist = playlist_from_ids(lib, body.track_ids, method=body.method, params={"source": "ctk serve"})
        write_m3u8(m3u8_text(lib.tracks, body.track_ids, playlist_path=out, relative=True, name=body.name), out)
        pid = save_playlist(served.store, playlist, name=body.name, file=out)
        return {"playlist_id": pid, "file": str(out), "m3u8_url": f"/api/playlists/{pid}.m3u8",
                "tracks": len(body.track_ids)}

    @app.get("/api/playlists/{playlist_id}.m3u8")
    def playlist_file(playlist_id: Annotated[str, StringConstraints(max_length=64)]) -> PlainTextResponse:
        from cluster_toolkit.store.saved_playlists import find_saved_playlist, saved_playlist
        from playlists.m3u import m3u8_text

        try:
            row = find_saved_playlist(served.store, playlist_id)
        except CtkError as exc:
            raise HTTPException(404, str(exc)) from None
        kept = [t for t in saved_playlist(row).track_ids if t in position]
        text = m3u8_text(lib.tracks, kept, relative=False, name=str(row["name"]))
        return PlainTextResponse(text, media_type="audio/x-mpegurl",
                                 headers={"Content-Disposition": f'attachment; filename="{playlist_id}.m3u8"'})

    @app.post("/api/spotify", dependencies=[Depends(may_write)])
    def to_spotify(body: SpotifyRequest) -> dict:
        from playlists._io import tracks_in_order
        from playlists.errors import ExportError
        from playlists.spotify import SpotifyApi, export_to_spotify, make_client

        if spotify is None:
            raise HTTPException(404, "Spotify is not configured: set CTK_SPOTIFY_TOKEN, or log in once with "
                                     "`ctk export spotify` (docs/playlists.md)")
        for tid in body.track_ids:
            row_of(tid)

        def no_login(url: str) -> None:
            raise ExportError("the Spotify login has expired: log in again with `ctk export spotify`")

        api = SpotifyApi(make_client(spotify, open_browser=False, on_login_url=no_login))
        result = export_to_spotify(api, tracks_in_order(lib.tracks, body.track_ids), name=body.name,
                                   update=body.update)
        unmatched = [f"{m.artist} - {m.title}: {m.reason}" for m in result.unmatched]
        return {"name": result.name, "url": result.url, "playlist_id": result.playlist_id, "action": result.action,
                "items": len(result.uris), "unmatched": unmatched, "notices": result.notices}

    @app.api_route("/audio/{path:path}", methods=["GET", "HEAD"])
    def audio(path: str) -> FileResponse:
        try:
            file = served.music.resolve(path)
        except FileRefused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        media = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return FileResponse(file, media_type=media)

    return app


def safe_file_name(name: str) -> str:
    """A playlist name as a file name: letters, digits, space, ``-_.()``, at most 80 characters."""
    safe = "".join(ch if ch.isalnum() or ch in " -_.()" else "_" for ch in name).strip(" .")
    return safe[:80] or "playlist"
