import json
import logging
import os
import socket
import threading
from importlib.metadata import version
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
import requests

from playlists.errors import ExportError
from playlists.spotify import (
    MatchConfig,
    RetryPolicy,
    SpotifyApi,
    SpotifySettings,
    export_to_spotify,
    make_client,
    match_score,
)


def local_tracks(n: int, *, isrc: bool = True, start: int = 0) -> pd.DataFrame:
    ids = range(start, start + n)
    return pd.DataFrame({
        "track_id": [f"local{i}" for i in ids],
        "artist": [f"Band {i}" for i in ids],
        "title": [f"Tune {i}" for i in ids],
        "isrc": [f"QZABC{i:07d}" if isrc else None for i in ids],
        "duration_s": [200.0] * n,
    })


def token_api(fake, *, sleeps=None, policy=RetryPolicy(), token="good-token") -> SpotifyApi:
    settings = SpotifySettings(token=token, api_url=fake.base, token_url=fake.token_url)
    client = make_client(settings)
    return SpotifyApi(client, policy=policy, sleep=(sleeps.append if sleeps is not None else lambda s: None))


def test_230_tracks_go_in_three_ordered_batches_via_items(fake_spotify):
    uris = [fake_spotify.add_track(f"Tune {i}", f"Band {i}", isrc=f"QZABC{i:07d}") for i in range(230)]
    result = export_to_spotify(token_api(fake_spotify), local_tracks(230), name="Evening")
    assert result.action == "create" and not result.dry_run and result.unmatched == []
    assert fake_spotify.playlists[result.playlist_id]["items"] == uris
    posts = [r for r in fake_spotify.requests("POST") if r[1].endswith("/items")]
    assert [len(r[3]["uris"]) for r in posts] == [100, 100, 30]
    assert posts[0][3]["uris"][0] == uris[0] and posts[2][3]["uris"][-1] == uris[-1]
    create = fake_spotify.requests("POST", "/me/playlists")
    assert len(create) == 1 and create[0][3] == {"name": "Evening", "public": False, "description": "Made with ctk"}
    assert result.requests == ["POST /me/playlists"] + [f"POST /playlists/{result.playlist_id}/items"] * 3
    assert all(m.how == "isrc" for m in result.matches)
    assert not [r for r in fake_spotify.log if "/tracks" in r[1]]  # the removed paths are never touched


def test_removed_tracks_paths_answer_403_and_spotipy_226_uses_items(fake_spotify):
    headers = {"Authorization": "Bearer good-token"}
    pid = fake_spotify.add_playlist("Old", [])
    got = requests.post(fake_spotify.base + f"playlists/{pid}/tracks", json={"uris": []}, headers=headers, timeout=5)
    assert got.status_code == 403
    client = make_client(SpotifySettings(token="good-token", api_url=fake_spotify.base))
    client.playlist_add_items(pid, ["spotify:track:t00000"])  # spotipy's own helper, version 2.26
    assert fake_spotify.log[-1][:2] == ("POST", f"/playlists/{pid}/items")
    assert tuple(int(x) for x in version("spotipy").split(".")[:2]) >= (2, 26)


def test_search_pagination_and_scoring_finds_the_right_track_on_page_two(fake_spotify):
    for i in range(12):  # decoys sharing the word "night"
        fake_spotify.add_track(f"Night Song {i}", f"Other Artist {i}")
    right = fake_spotify.add_track("Night Drive (Remastered 2015)", "Chromatics")
    tracks = pd.DataFrame({"track_id": ["x"], "artist": ["Chromatics"], "title": ["Night Drive"], "isrc": [None],
                           "duration_s": [200.0]})
    result = export_to_spotify(token_api(fake_spotify), tracks, name="Drive", match=MatchConfig(page_size=10))
    assert result.uris == [right]
    assert result.matches[0].how == "search" and result.matches[0].score >= 0.8
    searches = [r for r in fake_spotify.requests("GET", "/search")]
    assert [r[2].get("offset") for r in searches] == ["0", "10"]  # second page through the `next` URL
    assert searches[0][2]["q"] == "track:Night Drive artist:Chromatics"


def test_unmatched_tracks_are_reported_and_never_added(fake_spotify):
    good = fake_spotify.add_track("Tune 0", "Band 0", isrc="QZABC0000000")
    fake_spotify.add_track("Tune Up", "Someone Else")  # a weak candidate for "Tune 1 / Band 1"
    tracks = local_tracks(3, isrc=False)
    tracks.loc[0, "isrc"] = "QZABC0000000"
    tracks.loc[2, ["title", "artist"]] = ["Zzyzx", "Nobody"]
    result = export_to_spotify(token_api(fake_spotify), tracks, name="Mixed")
    assert result.uris == [good]
    assert fake_spotify.playlists[result.playlist_id]["items"] == [good]
    unmatched = {m.track_id: m for m in result.unmatched}
    assert set(unmatched) == {"local1", "local2"}
    # "Band 0 - Tune 0" looks close to "Band 1 - Tune 1" but is another song: reported, not added
    assert "threshold 0.80" in unmatched["local1"].reason and unmatched["local1"].candidate == "Band 0 - Tune 0"
    assert "no search results" in unmatched["local2"].reason


def test_dry_run_reads_but_writes_nothing(fake_spotify):
    for i in range(150):
        fake_spotify.add_track(f"Tune {i}", f"Band {i}", isrc=f"QZABC{i:07d}")
    result = export_to_spotify(token_api(fake_spotify), local_tracks(150), name="Evening", dry_run=True)
    assert result.dry_run and result.playlist_id is None and len(result.uris) == 150
    assert result.requests == ["POST /me/playlists", "POST /playlists/{new}/items", "POST /playlists/{new}/items"]
    assert not fake_spotify.requests("POST") and not fake_spotify.requests("PUT")
    assert fake_spotify.playlists == {}


def test_update_replaces_the_items_of_the_playlist_of_that_name(fake_spotify):
    uris = [fake_spotify.add_track(f"Tune {i}", f"Band {i}", isrc=f"QZABC{i:07d}") for i in range(130)]
    for i in range(60):  # page through /me/playlists
        fake_spotify.add_playlist(f"Other {i}", [])
    fake_spotify.add_playlist("Evening", ["spotify:track:someone-elses"], owner="someone")
    pid = fake_spotify.add_playlist("Evening", ["spotify:track:old1", "spotify:track:old2"])
    result = export_to_spotify(token_api(fake_spotify), local_tracks(130), name="Evening", update=True)
    assert result.action == "replace" and result.playlist_id == pid
    assert fake_spotify.playlists[pid]["items"] == uris
    puts = fake_spotify.requests("PUT")
    assert len(puts) == 1 and puts[0][1] == f"/playlists/{pid}/items" and len(puts[0][3]["uris"]) == 100
    assert [len(r[3]["uris"]) for r in fake_spotify.requests("POST")] == [30]
    assert len(fake_spotify.playlists) == 62  # nothing created
    # without --update a second "Evening" is created and the user is told
    again = export_to_spotify(token_api(fake_spotify), local_tracks(2), name="Evening")
    assert again.action == "create" and again.playlist_id != pid
    assert any("--update" in n for n in again.notices)


def test_short_retry_after_is_honoured_then_succeeds(fake_spotify):
    uri = fake_spotify.add_track("Tune 0", "Band 0", isrc="QZABC0000000")
    fake_spotify.fail("POST", r"/playlists/[^/]+/items", 429, headers={"Retry-After": "2"}, times=2)
    sleeps: list[float] = []
    result = export_to_spotify(token_api(fake_spotify, sleeps=sleeps), local_tracks(1), name="Evening")
    assert sleeps == [2.0, 2.0]
    assert fake_spotify.playlists[result.playlist_id]["items"] == [uri]
    assert len([r for r in fake_spotify.requests("POST") if r[1].endswith("/items")]) == 3


def test_long_retry_after_gives_up_at_once_with_a_clear_message(fake_spotify):
    fake_spotify.add_track("Tune 0", "Band 0", isrc="QZABC0000000")
    fake_spotify.fail("GET", "/search", 429, headers={"Retry-After": "7200"})
    sleeps: list[float] = []
    with pytest.raises(ExportError) as err:
        export_to_spotify(token_api(fake_spotify, sleeps=sleeps), local_tracks(1), name="Evening")
    assert "asks to wait 7200 s" in str(err.value) and "try again later" in str(err.value)
    assert sleeps == []


def test_quota_exhaustion_gives_up_after_bounded_attempts(fake_spotify):
    fake_spotify.add_track("Tune 0", "Band 0", isrc="QZABC0000000")
    fake_spotify.fail("POST", "/me/playlists", 429, headers={"Retry-After": "1"}, times=-1)
    sleeps: list[float] = []
    with pytest.raises(ExportError) as err:
        export_to_spotify(token_api(fake_spotify, sleeps=sleeps, policy=RetryPolicy(max_attempts=4)),
                          local_tracks(1), name="Evening")
    assert "after 4 attempts" in str(err.value) and "quota" in str(err.value)
    assert sleeps == [1.0, 1.0, 1.0]
    assert len(fake_spotify.requests("POST", "/me/playlists")) == 4


def test_server_errors_back_off_and_other_errors_explain(fake_spotify):
    fake_spotify.add_track("Tune 0", "Band 0", isrc="QZABC0000000")
    fake_spotify.fail("GET", "/me", 503, times=2)
    sleeps: list[float] = []
    export_to_spotify(token_api(fake_spotify, sleeps=sleeps), local_tracks(1), name="Evening")
    assert sleeps == [1.0, 2.0]
    fake_spotify.fail("POST", "/me/playlists", 403, times=1)
    with pytest.raises(ExportError, match="Spotify refused creating playlist 'Evening' \\(403: scripted failure\\)"):
        export_to_spotify(token_api(fake_spotify), local_tracks(1), name="Evening")


def _write_cache(path, access: str, refresh: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "access_token": access, "token_type": "Bearer", "expires_in": 3600, "expires_at": 4_000_000_000,
        "refresh_token": refresh, "scope": "playlist-read-private playlist-modify-private playlist-modify-public",
    }))


def test_401_refreshes_the_token_then_succeeds_and_never_logs_secrets(fake_spotify, tmp_path, caplog):
    uri = fake_spotify.add_track("Tune 0", "Band 0", isrc="QZABC0000000")
    fake_spotify.refresh_tokens["refresh-secretvalue"] = 1
    cache = tmp_path / "config" / "spotify-token.json"
    _write_cache(cache, "revoked-secretvalue", "refresh-secretvalue")  # not expired locally, refused remotely
    settings = SpotifySettings(client_id="ctk-test", api_url=fake_spotify.base, token_url=fake_spotify.token_url,
                               cache_path=cache)
    caplog.set_level(logging.DEBUG)
    api = SpotifyApi(make_client(settings, open_browser=False), sleep=lambda s: None)
    result = export_to_spotify(api, local_tracks(1), name="Evening")
    assert fake_spotify.playlists[result.playlist_id]["items"] == [uri]
    grants = [r[3]["grant_type"] for r in fake_spotify.requests("POST", "/api/token")]
    assert grants == ["refresh_token"]
    saved = json.loads(cache.read_text())
    assert saved["access_token"] == "access-1-secretvalue" and saved["refresh_token"] == "refresh-secretvalue"
    assert oct(os.stat(cache).st_mode & 0o777) == "0o600"
    assert "Bearer" in caplog.text  # spotipy did log its requests ...
    assert "secretvalue" not in caplog.text  # ... with every token blanked out


def test_a_refused_refresh_or_a_dead_direct_token_is_a_clear_error(fake_spotify, tmp_path):
    fake_spotify.add_track("Tune 0", "Band 0", isrc="QZABC0000000")
    with pytest.raises(ExportError, match="rejected the access token .*CTK_SPOTIFY_TOKEN"):
        export_to_spotify(token_api(fake_spotify, token="expired"), local_tracks(1), name="Evening")
    cache = tmp_path / "tok.json"
    _write_cache(cache, "revoked-secretvalue", "unknown-refresh")
    settings = SpotifySettings(client_id="ctk-test", api_url=fake_spotify.base, token_url=fake_spotify.token_url,
                               cache_path=cache)
    with pytest.raises(ExportError, match="refused to refresh the login"):
        export_to_spotify(SpotifyApi(make_client(settings, open_browser=False)), local_tracks(1), name="Evening")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pkce_login_through_the_loopback_redirect(fake_spotify, tmp_path, monkeypatch):
    uri = fake_spotify.add_track("Tune 0", "Band 0", isrc="QZABC0000000")
    port = _free_port()
    seen = {}

    def browser(url: str, *args, **kwargs) -> bool:
        """Plays the user: approve on the authorize page, Spotify redirects to the loopback address."""
        query = parse_qs(urlparse(url).query)
        seen.update({k: v[0] for k, v in query.items()})
        fake_spotify.codes["the-code"] = query["code_challenge"][0]
        redirect = f"{query['redirect_uri'][0]}?code=the-code&state={query['state'][0]}"
        threading.Thread(target=lambda: requests.get(redirect, timeout=5), daemon=True).start()
        return True

    monkeypatch.setattr("webbrowser.open", browser)
    env = {"CTK_SPOTIFY_CLIENT_ID": "ctk-test", "CTK_SPOTIFY_API_URL": fake_spotify.base,
           "CTK_SPOTIFY_TOKEN_URL": fake_spotify.token_url, "CTK_SPOTIFY_AUTH_URL": fake_spotify.auth_url,
           "CTK_SPOTIFY_REDIRECT_PORT": str(port)}
    settings = SpotifySettings.from_env(env, config_file=tmp_path / "none.json")
    settings = SpotifySettings(**{**settings.__dict__, "cache_path": tmp_path / "cache.json"})
    result = export_to_spotify(SpotifyApi(make_client(settings)), local_tracks(1), name="Evening")
    assert fake_spotify.playlists[result.playlist_id]["items"] == [uri]
    assert seen["redirect_uri"] == f"http://127.0.0.1:{port}/callback"
    assert seen["code_challenge_method"] == "S256" and seen["client_id"] == "ctk-test" and len(seen["state"]) >= 16
    assert "playlist-modify-private" in seen["scope"]
    assert json.loads((tmp_path / "cache.json").read_text())["refresh_token"].startswith("refresh-")


def test_settings_from_env_and_config(tmp_path):
    config = tmp_path / "spotify.json"
    config.write_text(json.dumps({"client_id": "from-file", "redirect_port": 9999}))
    s = SpotifySettings.from_env({"CTK_SPOTIFY_TOKEN": "tok-secret", "CTK_SPOTIFY_API_URL": "http://x/v1"},
                                 config_file=config)
    assert s.client_id == "from-file" and s.redirect_uri == "http://127.0.0.1:9999/callback"
    assert s.api_url == "http://x/v1/" and s.token == "tok-secret" and "tok-secret" not in repr(s)
    assert SpotifySettings.from_env({"CTK_SPOTIFY_CLIENT_ID": "env"}, config_file=config).client_id == "env"
    with pytest.raises(ExportError, match="CTK_SPOTIFY_CLIENT_ID"):
        make_client(SpotifySettings(cache_path=tmp_path / "c.json"))
    config.write_text("[1, 2]")
    with pytest.raises(ExportError, match="JSON object"):
        SpotifySettings.from_env({}, config_file=config)


def test_match_score():
    item = {"name": "Yesterday - Remastered 2009", "artists": [{"name": "The Beatles"}], "duration_ms": 125000}
    assert match_score("Beatles", "Yesterday", 125.0, item) == pytest.approx(1.0)
    assert match_score("Beatles", "Yesterday", 300.0, item) == pytest.approx(0.85)
    assert match_score("Oasis", "Wonderwall", None, item) < 0.5


def test_match_score_keeps_numbered_titles_apart_and_forgives_spelling():
    def item(name, artist):
        return {"name": name, "artists": [{"name": artist}]}

    assert match_score("Band 1", "Tune 1", None, item("Tune 0", "Band 0")) < 0.8
    assert match_score("Queen", "Don't Stop Me Now", None, item("Dont Stop Me Now - Remastered 2011", "Queen")) == 1.0
    assert match_score("Beyonce", "Halo", None, item("Halo", "Beyoncé")) == 1.0
    assert match_score("Pink Floyd", "Colour of the Sky", None, item("Color of the Sky", "Pink Floyd")) >= 0.9


def test_a_loopback_answer_with_the_wrong_state_is_refused(fake_spotify, tmp_path, monkeypatch):
    fake_spotify.add_track("Tune 0", "Band 0", isrc="QZABC0000000")
    port = _free_port()

    def forged(url: str, *args, **kwargs) -> bool:
        query = parse_qs(urlparse(url).query)
        fake_spotify.codes["the-code"] = query["code_challenge"][0]
        redirect = f"{query['redirect_uri'][0]}?code=the-code&state=forged"
        threading.Thread(target=lambda: requests.get(redirect, timeout=5), daemon=True).start()
        return True

    monkeypatch.setattr("webbrowser.open", forged)
    settings = SpotifySettings(client_id="ctk-test", api_url=fake_spotify.base, token_url=fake_spotify.token_url,
                               auth_url=fake_spotify.auth_url, redirect_port=port, cache_path=tmp_path / "c.json")
    with pytest.raises(ExportError, match="Spotify login failed"):
        export_to_spotify(SpotifyApi(make_client(settings)), local_tracks(1), name="Evening")
    assert not fake_spotify.requests("POST", "/api/token") and not (tmp_path / "c.json").exists()
