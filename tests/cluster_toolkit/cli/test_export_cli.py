import json

import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from playlists.m3u import m3u8_text
from tests.cluster_toolkit.cli._playlist_cli_store import build_store
from tests.playlists.spotify.fake_spotify import FakeSpotify

runner = CliRunner()


@pytest.fixture
def lib(tmp_path):
    store = build_store(tmp_path / "lib", tmp_path / "music")
    playlist = tmp_path / "evening.m3u8"
    playlist.write_text(m3u8_text(store.tracks(), ["jazz000", "metal003", "techno011"], playlist_path=playlist))
    return store, tmp_path, playlist


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200", **(env or {})})


def test_export_json_and_its_dry_run(lib):
    store, tmp, playlist = lib
    res = run("export", "json", playlist, "--dry-run", "--library", store.root)
    assert res.exit_code == 0 and not (tmp / "evening.json").exists()
    res = run("export", "json", playlist, "--library", store.root)
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp / "evening.json").read_text())
    assert [t["track_id"] for t in doc["tracks"]] == ["jazz000", "metal003", "techno011"]
    assert doc["name"] == "evening" and doc["method"] == "file" and doc["metrics"]["n_tracks"] == 3.0
    assert doc["tracks"][0]["path"] == "music/Jazz/000.flac"
    res = run("export", "json", playlist, "--out", tmp / "x.txt", "--library", store.root)
    assert res.exit_code == 2 and "needs a .json file name" in res.output


@pytest.fixture
def fake(httpserver):
    return FakeSpotify(httpserver)


def spotify_env(fake, tmp):
    return {"CTK_SPOTIFY_TOKEN": "good-token", "CTK_SPOTIFY_API_URL": fake.base,
            "CTK_SPOTIFY_TOKEN_URL": fake.token_url, "XDG_CONFIG_HOME": str(tmp / "config")}


def test_export_spotify_end_to_end(lib, fake):
    store, tmp, playlist = lib
    jazz = fake.add_track("Jazz Song 0", "Jazz Band 0", isrc="QZ0000000000")
    techno = fake.add_track("Techno Song 11", "Techno Band 3")  # no ISRC in Spotify's answer: text search
    res = run("export", "spotify", playlist, "--name", "Evening", "--dry-run", "--library", store.root,
              env=spotify_env(fake, tmp))
    assert res.exit_code == 0, res.output
    assert "dry run: would create playlist 'Evening' with 2 items" in res.output and fake.playlists == {}
    res = run("export", "spotify", playlist, "--name", "Evening", "--library", store.root, env=spotify_env(fake, tmp))
    assert res.exit_code == 0, res.output
    (pl,) = fake.playlists.values()
    assert pl["name"] == "Evening" and pl["items"] == [jazz, techno]
    assert "matched 2 of 3 tracks (ISRC 1, search 1)" in res.output
    assert "not matched (not added)" in res.output and "Metal Song 3" in res.output
    assert "good-token" not in res.output
    res = run("export", "spotify", playlist, "--name", "Evening", "--update", "--library", store.root,
              env=spotify_env(fake, tmp))
    assert res.exit_code == 0 and "replaced the items of 'Evening'" in res.output and len(fake.playlists) == 1


def test_export_spotify_errors_are_clear(lib, fake, tmp_path):
    store, tmp, playlist = lib
    env = {**spotify_env(fake, tmp), "CTK_SPOTIFY_TOKEN": ""}
    res = run("export", "spotify", playlist, "--library", store.root, env=env)
    assert res.exit_code == 1 and "no Spotify client id" in res.output and "CTK_SPOTIFY_CLIENT_ID" in res.output
    fake.add_track("Jazz Song 0", "Jazz Band 0", isrc="QZ0000000000")
    fake.fail("GET", "/search", 429, headers={"Retry-After": "86400"}, times=-1)
    res = run("export", "spotify", playlist, "--library", store.root, env=spotify_env(fake, tmp))
    assert res.exit_code == 1 and "asks to wait 86400 s" in res.output
    res = run("export", "spotify", tmp / "nope.m3u8", "--library", store.root, env=spotify_env(fake, tmp))
    assert res.exit_code == 2
