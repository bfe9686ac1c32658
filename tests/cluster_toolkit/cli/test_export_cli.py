import json

import numpy as np
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


def test_export_mpd_to_a_real_mpd(lib, tmp_path):
    from tests.playlists.mpd_server import running_mpd, write_tagged_flac

    store, tmp, playlist = lib
    for genre, i in (("Jazz", 0), ("Metal", 3), ("Techno", 11)):
        write_tagged_flac(tmp / "music" / genre / f"{i:03d}.flac", artist=f"{genre} Band {i % 4}",
                          title=f"{genre} Song {i}")
    with running_mpd(tmp / "mpd", tmp / "music") as (port, playlist_dir):
        args = ["--host", "127.0.0.1", "--port", port, "--library", store.root]
        res = run("export", "mpd", playlist, "--name", "Evening", "--dry-run", *args)
        assert res.exit_code == 0, res.output
        assert "dry run: would create MPD playlist 'Evening' with 3 songs" in res.output
        assert not (playlist_dir / "Evening.m3u").exists()
        res = run("export", "mpd", playlist, "--name", "Evening", "--music-dir", tmp / "music", *args)
        assert res.exit_code == 0, res.output
        assert "matched 3 of 3 tracks (path 3, tags 0)" in res.output
        assert "created MPD playlist 'Evening'" in res.output
        assert (playlist_dir / "Evening.m3u").read_text().split() == ["Jazz/000.flac", "Metal/003.flac",
                                                                      "Techno/011.flac"]
        res = run("export", "mpd", playlist, "--name", "Evening", *args)
        assert res.exit_code == 1 and "give --update to replace it" in res.output
        res = run("export", "mpd", playlist, "--name", "Evening", "--update", "--library", store.root,
                  env={"MPD_HOST": "127.0.0.1", "MPD_PORT": str(port)})
        assert res.exit_code == 0 and "replaced MPD playlist 'Evening'" in res.output
    res = run("export", "mpd", playlist, "--host", "127.0.0.1", "--port", port, "--library", store.root)
    assert res.exit_code == 1 and f"cannot reach MPD at 127.0.0.1:{port}" in res.output


def test_export_subsonic_end_to_end(lib, httpserver):
    from tests.playlists.subsonic.fake_subsonic import FakeSubsonic

    store, tmp, playlist = lib
    fake = FakeSubsonic(httpserver)
    jazz = fake.add_song("Jazz Song 0", "Jazz Band 0", duration=180)
    techno = fake.add_song("Techno Song 11", "Techno Band 3", duration=191)
    env = {"CTK_SUBSONIC_URL": fake.url, "CTK_SUBSONIC_USER": "ann", "CTK_SUBSONIC_PASSWORD": "sesame"}
    res = run("export", "subsonic", playlist, "--library", store.root, env=env)
    assert res.exit_code == 0, res.output
    (pl,) = fake.playlists.values()
    assert pl["name"] == "evening" and [s["id"] for s in pl["entry"]] == [jazz, techno]
    assert "matched 2 of 3 tracks" in res.output and "Metal Song 3" in res.output and "sesame" not in res.output
    res = run("export", "subsonic", playlist, "--update", "--library", store.root, env=env)
    assert res.exit_code == 0 and "replaced the songs of 'evening'" in res.output and len(fake.playlists) == 1
    res = run("export", "subsonic", playlist, "--library", store.root, env={**env, "CTK_SUBSONIC_PASSWORD": "x"})
    assert res.exit_code == 1 and "refused the login of 'ann'" in res.output
    res = run("export", "subsonic", playlist, "--library", store.root, env={**env, "CTK_SUBSONIC_URL": ""})
    assert res.exit_code == 1 and "needs CTK_SUBSONIC_URL" in res.output


def test_export_reads_a_saved_playlist_by_id_or_name(lib):
    store, tmp, playlist = lib
    res = run("playlist", "--hull", "--cluster", "latest:0", "--length", "4", "--name", "Jazzy",
              "--library", store.root)
    assert res.exit_code == 0, res.output
    res = run("export", "json", "Jazzy", "--out", tmp / "jazzy.json", "--library", store.root)
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp / "jazzy.json").read_text())
    assert len(doc["tracks"]) == 4 and doc["name"] == "Jazzy"
    assert all(t["track_id"].startswith("jazz") for t in doc["tracks"])
    res = run("export", "json", "nothing-like-it", "--out", tmp / "x.json", "--library", store.root)
    assert res.exit_code == 2 and "neither a playlist file nor a saved playlist" in res.output
    assert "Jazzy" in res.output


def test_moved_music_is_found_by_content_then_tags_and_the_fix_is_named(lib, tmp_path):
    store, tmp, _ = lib
    tracks = store.tracks()
    moved = tmp / "moved"
    # a copy of a track's bytes under a new folder: found by content (the track id is the content hash)
    from cluster_toolkit.ingest import content_hash

    (moved / "a").mkdir(parents=True)
    copy = moved / "a" / "song.flac"
    copy.write_bytes(b"same bytes")
    tid = content_hash(copy)
    row = tracks[tracks["track_id"] == "jazz001"].assign(track_id=tid, path=str(tmp / "music" / "old" / "song.flac"))
    store.commit_batch(row.reset_index(drop=True), track_embeddings=np.ones((1, 16), dtype=np.float32))
    m3u = moved / "moved.m3u8"
    m3u.write_text("#EXTM3U\n#EXTINF:181,ignored\na/song.flac\n#EXTINF:191,Techno Band 3 - Techno Song 11\n"
                   "gone/elsewhere.flac\n#EXTINF:1,Nobody - Nothing\nb/ghost.flac\n")
    res = run("export", "json", m3u, "--library", store.root)
    assert res.exit_code == 0, res.output
    doc = json.loads((moved / "moved.json").read_text())
    assert [t["track_id"] for t in doc["tracks"]] == [tid, "techno011"]
    assert "2 entries were found by their content or tags, not their path (1 by content, 1 by tags)" in res.output
    assert "ctk embed NEW_MUSIC_FOLDER" in res.output and "1 of 3 entries" in res.output
    (moved / "none.m3u8").write_text("b/ghost.flac\n")
    res = run("export", "json", moved / "none.m3u8", "--library", store.root)
    assert res.exit_code == 2 and "none of its entries are tracks of the library (by path, content or tags)" in \
        res.output and "ctk embed NEW_MUSIC_FOLDER" in res.output


def test_a_track_reached_through_a_symlink_is_the_same_track(lib):
    store, tmp, _ = lib
    real = tmp / "music" / "Jazz"
    real.mkdir(parents=True, exist_ok=True)
    (real / "000.flac").write_bytes(b"x")
    link = tmp / "linked"
    link.symlink_to(tmp / "music")
    tracks = store.tracks()  # the library was embedded through the link (like the dev corpus's split folders)
    tracks.loc[tracks["track_id"] == "jazz000", "path"] = str(link / "Jazz" / "000.flac")
    store.replace_tracks(tracks)
    m3u = tmp / "real.m3u8"
    m3u.write_text("music/Jazz/000.flac\n")  # the real path: differs from the stored one as text
    res = run("export", "json", m3u, "--library", store.root)
    assert res.exit_code == 0, res.output
    assert [t["track_id"] for t in json.loads((tmp / "real.json").read_text())["tracks"]] == ["jazz000"]
    assert "not their path" not in res.output
