"""The ``ctk serve`` JSON API over real HTTP (uvicorn on 127.0.0.1) on a small embedded library."""

from __future__ import annotations

import http.client
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from cluster_toolkit.serve import create_app
from cluster_toolkit.store.saved_playlists import list_playlists
from tests.cluster_toolkit.serve.conftest import ARTISTS


def get(server, path: str, **params) -> httpx.Response:
    return httpx.get(server.url + path, params=params or None, timeout=30)


def raw_get(server, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    """GET with the path sent exactly as written (httpx would normalise ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    out = response.status, response.read()
    conn.close()
    return out


def track_id(server, query: str) -> str:
    return get(server, "/api/search", q=query).json()["results"][0]["track_id"]


def test_info_counts_tracks_and_playable_files(server, served_library):
    music, _, _ = served_library
    info = get(server, "/api/info").json()
    # 12 songs + Bridge + the song reached through the symlink; the text file behind passwd.flac failed to decode
    assert info["tracks"] == 14
    assert info["playable"] == 13  # the symlinked song lies outside the music root
    assert info["music_root"] == str(music.resolve())
    assert info["cluster_run"].startswith("kmeans-") and info["token_required"] is False


@pytest.mark.parametrize(("query", "artist", "title"), [
    ("junipr lane paper boats", "Juniper Lane", "Paper Boats"),  # typo in the artist
    ("paper boots clara", "Clara Vey", "Paper Boats"),  # typo in the title, word order
    ("glass harbor northern", "Glass Harbour", "Northern Lights"),  # spelling variant
    ("BRIDGE crossings", "Various", "Bridge"),  # title + album, case
])
def test_search_is_typo_tolerant_across_title_artist_and_album(server, query, artist, title):
    best = get(server, "/api/search", q=query).json()["results"][0]
    assert (best["artist"], best["title"]) == (artist, title)


def test_search_by_album_with_accents_ranks_that_album_first(server):
    found = get(server, "/api/search", q="midnight cafe").json()
    assert [r["album"] for r in found["results"][:4]] == ["Midnight Café"] * 4
    assert found["results"][0]["score"] >= found["results"][-1]["score"]
    assert get(server, "/api/search", q="zzqxv wkkp").json()["total"] == 0


def test_search_pages_do_not_overlap_and_cover_the_total(server):
    first = get(server, "/api/search", q="blue hour", per_page=2, page=1).json()
    total = first["total"]
    assert total >= 3 and len(first["results"]) == 2
    pages = [first] + [get(server, "/api/search", q="blue hour", per_page=2, page=p).json()
                       for p in range(2, (total + 1) // 2 + 1)]
    ids = [r["track_id"] for page in pages for r in page["results"]]
    assert len(ids) == total == len(set(ids))
    assert {r["artist"] for r in first["results"]} <= {a for a, _, _ in ARTISTS}  # the 3 "Blue Hour"s come first
    scores = [r["score"] for page in pages for r in page["results"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("params", [{"q": "x" * 201}, {"q": ""}, {"q": "blue", "per_page": 101},
                                    {"q": "blue", "page": 0}])
def test_search_parameters_are_bounded(server, params):
    assert get(server, "/api/search", **params).status_code == 422


def test_track_page_has_tags_cluster_and_audio(server):
    tid = track_id(server, "juniper lane slow rivers")
    track = get(server, f"/api/tracks/{tid}").json()
    assert (track["artist"], track["title"], track["album"]) == ("Juniper Lane", "Slow Rivers", "Midnight Café")
    assert track["duration_s"] == pytest.approx(10.0, abs=0.05)
    assert track["audio_url"] == "/audio/Juniper%20Lane/03%20Slow%20Rivers.flac"
    assert track["cluster"]["label"] >= 0 and "Juniper Lane" in track["cluster"]["name"]
    assert get(server, "/api/tracks/" + "0" * 32).status_code == 404


def test_similar_tracks_name_the_fragments_that_matched(server):
    """Bridge's first 5 s sound like Juniper Lane, its last 5 s like Glass Harbour: each similar song
    is matched through the right half."""
    tid = track_id(server, "bridge")
    found = get(server, f"/api/tracks/{tid}/similar", n=8).json()
    picks = found["similar"]
    assert found["seed"]["title"] == "Bridge" and len(picks) >= 6
    assert tid not in [p["track_id"] for p in picks]
    assert [p["distance"] for p in picks] == sorted(p["distance"] for p in picks)
    halves = {p["artist"]: set() for p in picks}
    for p in picks:
        halves[p["artist"]].add(p["seed_start_s"])
        assert p["fragment_seconds"] == 5.0 and p["fragment_start_s"] in (0.0, 5.0)
        assert p["why"][0].startswith(f"{p['fragment_start_s'] // 60:.0f}:{p['fragment_start_s'] % 60:02.0f} of "
                                      "this song sounds like")
    assert halves["Juniper Lane"] == {0.0} and halves["Glass Harbour"] == {5.0}
    same = get(server, f"/api/tracks/{track_id(server, 'juniper lane blue hour')}/similar", n=5).json()["similar"]
    for pick in same:
        assert ("same artist: Juniper Lane" in pick["why"]) == (pick["artist"] == "Juniper Lane")
    assert any(pick["artist"] == "Juniper Lane" for pick in same)
    assert get(server, f"/api/tracks/{tid}/similar", n=51).status_code == 422


def test_map_has_every_track_with_its_cluster_colour(server, served):
    data = get(server, "/api/map").json()
    assert data["status"] == "ready" and len(data["ids"]) == len(data["x"]) == len(data["g"]) == 14
    assert data["title"].startswith("cluster (kmeans-")
    assert sorted(set(data["g"])) == list(range(len(data["names"])))
    assert "Various - Bridge" in data["hover"]


def test_audio_is_served_whole_and_by_ranges(server, served_library):
    music, _, _ = served_library
    file = music / "Clara Vey" / "02 Paper Boats.flac"
    data, size = file.read_bytes(), file.stat().st_size
    url = "/audio/Clara%20Vey/02%20Paper%20Boats.flac"
    whole = get(server, url)
    assert whole.status_code == 200 and whole.content == data and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/flac"
    part = httpx.get(server.url + url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    tail = httpx.get(server.url + url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == data[-50:]
    assert tail.headers["content-range"] == f"bytes {size - 50}-{size - 1}/{size}"
    rest = httpx.get(server.url + url, headers={"Range": f"bytes={size - 10}-"})
    assert rest.status_code == 206 and rest.content == data[-10:]
    assert httpx.get(server.url + url, headers={"Range": f"bytes={size + 10}-"}).status_code == 416


@pytest.mark.parametrize(("path", "status"), [
    ("/audio/../outside/passwd.txt", 403),  # .. climbs out
    ("/audio/Juniper%20Lane/../../outside/secret.flac", 403),
    ("/audio/%2E%2E/outside/secret.flac", 403),  # encoded dots
    ("/audio/..%2F..%2Foutside%2Fpasswd.txt", 403),  # encoded slashes
    ("/audio/..%5Coutside%5Csecret.flac", 404),  # a backslash is a file name character here: no such track
    ("/audio//etc/passwd", 403),  # absolute
    ("/audio/%2Fetc%2Fpasswd", 403),
    ("/audio/Linked/escape.flac", 403),  # a symlink inside the root to a song outside it
    ("/audio/Linked/passwd.flac", 403),  # ... to a text file outside it
    ("/audio/.ctk/store.json", 404),  # inside the root but not a track
    ("/audio/Juniper%20Lane/missing.flac", 404),
    ("/audio/Juniper%20Lane/01%20Blue%20Hour.flac%00.txt", 404),
])
def test_no_file_outside_the_library_is_served(server, served_library, path, status):
    _, _, outside = served_library
    code, body = raw_get(server, path)
    assert code == status, (path, code, body[:200])
    assert b"not for the web" not in body and body != (outside / "secret.flac").read_bytes()


def test_playlist_from_a_selection_hull_and_path(server):
    glass = [r["track_id"] for r in get(server, "/api/search", q="glass harbour").json()["results"][:3]]
    hull = httpx.post(server.url + "/api/playlist", json={"method": "hull", "seeds": glass, "length": 5}).json()
    assert hull["method"] == "hull" and len(hull["tracks"]) == 5
    assert set(glass) <= set(hull["track_ids"]) and hull["track_ids"][0] == glass[0]
    assert set(hull["metrics"]) >= {"mean_step", "max_step"}
    a, b = track_id(server, "juniper lane blue hour"), track_id(server, "glass harbour blue hour")
    path = httpx.post(server.url + "/api/playlist", json={"method": "path", "seeds": [a, b], "length": 4}).json()
    assert path["method"] == "path" and path["track_ids"][0] == a and path["track_ids"][-1] == b
    assert len(path["track_ids"]) == 4
    bad = httpx.post(server.url + "/api/playlist", json={"method": "path", "seeds": [a], "length": 4})
    assert bad.status_code == 422 and "two tracks" in bad.json()["detail"]
    unknown = httpx.post(server.url + "/api/playlist", json={"seeds": ["f" * 32], "length": 4})
    assert unknown.status_code == 404


def test_save_writes_the_m3u8_and_the_store_row(server, served, served_library):
    music, _, _ = served_library
    ids = [track_id(server, q) for q in ("clara vey blue hour", "clara vey paper boats", "bridge")]
    body = {"name": "Evening / test", "track_ids": ids, "method": "hull"}
    saved = httpx.post(server.url + "/api/playlists", json=body).json()
    out = Path(saved["file"])
    assert out == music.parent / "playlists" / "Evening _ test.m3u8"
    assert out.read_text(encoding="utf-8") == (
        "#EXTM3U\n#PLAYLIST:Evening / test\n"
        "#EXTINF:10,Clara Vey - Blue Hour\n../music/Clara Vey/01 Blue Hour.flac\n"
        "#EXTINF:10,Clara Vey - Paper Boats\n../music/Clara Vey/02 Paper Boats.flac\n"
        "#EXTINF:10,Various - Bridge\n../music/Various/Bridge.flac\n"
    )
    row = list_playlists(served.store).set_index("playlist_id").loc[saved["playlist_id"]]
    assert list(row["track_ids"]) == ids and row["name"] == "Evening / test" and row["file"] == str(out)
    text = get(server, saved["m3u8_url"]).text
    assert f"{music / 'Various' / 'Bridge.flac'}\n" in text and text.startswith("#EXTM3U\n#PLAYLIST:Evening / test")
    again = httpx.post(server.url + "/api/playlists", json=body)
    assert again.status_code == 409 and "exists" in again.json()["detail"]
    assert httpx.post(server.url + "/api/playlists", json={**body, "overwrite": True}).status_code == 200


def test_request_bodies_and_lists_are_bounded(server):
    big = httpx.post(server.url + "/api/playlists", content=b"{" + b" " * 100_000 + b"}",
                     headers={"Content-Type": "application/json"})
    assert big.status_code == 413

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b" " * 10_000

    streamed = httpx.post(server.url + "/api/playlist", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    many = httpx.post(server.url + "/api/playlist", json={"seeds": ["a"] * 501, "length": 5})
    assert many.status_code == 422
    long = httpx.post(server.url + "/api/playlist", json={"seeds": ["a"], "length": 501})
    assert long.status_code == 422
    assert httpx.post(server.url + "/api/playlists", json={"name": "n" * 121, "track_ids": ["a"]}).status_code == 422


def test_writes_need_the_token_when_one_is_set(served):
    ids = list(served.library.track_ids[:2])
    body = {"name": "token test", "track_ids": ids, "overwrite": True}
    client = TestClient(create_app(served, token="s3cret-token-0123456789"), client=("203.0.113.9", 5000))
    assert client.post("/api/playlists", json=body).status_code == 403
    wrong = client.post("/api/playlists", json=body, headers={"X-CTK-Token": "guess"})
    assert wrong.status_code == 403 and "token" in wrong.json()["detail"]
    assert client.post("/api/playlists", json=body, headers={"X-CTK-Token": "s3cret-token-0123456789"}).status_code \
        == 200
    assert client.get("/api/search", params={"q": "bridge"}).status_code == 200  # reading needs no token


def test_without_a_token_only_loopback_clients_may_write(served):
    body = {"name": "loopback test", "track_ids": list(served.library.track_ids[:2]), "overwrite": True}
    remote = TestClient(create_app(served), client=("203.0.113.9", 5000))
    refused = remote.post("/api/playlists", json=body)
    assert refused.status_code == 403 and "only its own machine" in refused.json()["detail"]
    local = TestClient(create_app(served), client=("127.0.0.1", 5000), base_url="http://127.0.0.1:8765")
    assert local.post("/api/playlists", json=body).status_code == 200
    # another web site cannot make the browser write: its Origin is refused, a form post is not JSON
    other = local.post("/api/playlists", json=body, headers={"Origin": "http://evil.example"})
    assert other.status_code == 403
    form = local.post("/api/playlists", content=b"name=x",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    same = local.post("/api/playlists", json=body, headers={"Origin": "http://127.0.0.1:8765"})
    assert same.status_code == 200


def test_page_and_static_files_are_served(server):
    page = get(server, "/")
    assert page.status_code == 200 and '<script src="/static/app.js">' in page.text
    assert "textContent" in get(server, "/static/app.js").text
    assert get(server, "/static/../conftest.py").status_code == 404


def test_send_to_spotify_when_configured(served, httpserver):
    from playlists.spotify import SpotifySettings
    from tests.playlists.spotify.fake_spotify import FakeSpotify

    fake = FakeSpotify(httpserver)
    uris = [fake.add_track("Blue Hour", "Clara Vey", duration_s=10), fake.add_track("Bridge", "Various", duration_s=10)]
    tracks = served.library.tracks
    wanted = [(a, t) for a, t in (("Clara Vey", "Blue Hour"), ("Various", "Bridge"), ("Juniper Lane", "Slow Rivers"))]
    ids = [str(tracks[(tracks["artist"] == a) & (tracks["title"] == t)]["track_id"].iloc[0]) for a, t in wanted]
    settings = SpotifySettings(token="good-token", api_url=fake.base, token_url=fake.token_url)
    client = TestClient(create_app(served, spotify=settings), client=("127.0.0.1", 5000))
    assert client.get("/api/info").json()["spotify"] is True
    sent = client.post("/api/spotify", json={"name": "From ctk serve", "track_ids": ids})
    assert sent.status_code == 200, sent.text
    doc = sent.json()
    assert doc["action"] == "create" and doc["items"] == 2 and doc["unmatched"][0].startswith("Juniper Lane - Slow")
    (playlist,) = fake.playlists.values()
    assert playlist["name"] == "From ctk serve" and playlist["items"] == uris
    off = TestClient(create_app(served, spotify=None), client=("127.0.0.1", 5000))
    assert off.get("/api/info").json()["spotify"] is False
    missing = off.post("/api/spotify", json={"name": "x", "track_ids": ids})
    assert missing.status_code == 404 and "CTK_SPOTIFY_TOKEN" in missing.json()["detail"]


def test_a_loopback_server_answers_only_loopback_host_names(served):
    """A page on another domain made to resolve to 127.0.0.1 (DNS rebinding) sends its own Host: refused."""
    app = create_app(served, hosts=["127.0.0.1", "localhost"])
    assert TestClient(app, base_url="http://127.0.0.1:8765").get("/api/info").status_code == 200
    assert TestClient(app, base_url="http://localhost:8765").get("/api/search", params={"q": "x"}).status_code == 200
    rebound = TestClient(app, base_url="http://evil.example:8765")
    assert rebound.get("/api/info").status_code == 400
    assert rebound.get("/audio/Clara%20Vey/02%20Paper%20Boats.flac").status_code == 400
