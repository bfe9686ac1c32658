"""MPD export against a real ``mpd`` on 127.0.0.1 (started by the fixture over a temporary music folder)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from playlists.errors import ExportError
from playlists.mpd import MpdSettings, connect_mpd, export_to_mpd, infer_music_dir, mpd_uri
from tests.playlists.mpd_server import running_mpd, write_tagged_flac

SONGS = [("Jazz/one.flac", "Ada Quartet", "Blue Room"), ("Jazz/two.flac", "Ada Quartet", "Green Hour"),
         ("Rock/three.flac", "Loud Ones", "Engine")]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mpd")
    music = root / "music"
    for rel, artist, title in SONGS:
        write_tagged_flac(music / rel, artist=artist, title=title)
    with running_mpd(root / "server", music, password="s3cret") as (port, playlist_dir):
        yield {"port": port, "music": music, "playlists": playlist_dir}


@pytest.fixture
def client(server):
    c = connect_mpd(MpdSettings(host="127.0.0.1", port=server["port"], password="s3cret"))
    yield c
    for p in c.listplaylists():
        c.rm(p["playlist"])
    c.disconnect()


def tracks(root: Path, rels, *, tags=SONGS) -> pd.DataFrame:
    by_rel = {rel: (artist, title) for rel, artist, title in tags}
    rows = []
    for i, rel in enumerate(rels):
        artist, title = by_rel.get(rel, ("Nobody", f"Unknown {i}"))
        rows.append({"track_id": f"t{i}", "path": str(root / rel), "artist": artist, "title": title,
                     "duration_s": 1.0})
    return pd.DataFrame(rows)


def test_mpd_uri_is_the_path_under_the_music_directory(tmp_path):
    assert mpd_uri(str(tmp_path / "m" / "A" / "x.flac"), tmp_path / "m") == "A/x.flac"
    assert mpd_uri(str(tmp_path / "elsewhere" / "x.flac"), tmp_path / "m") is None
    assert mpd_uri(str(tmp_path / "m"), tmp_path / "m") is None


def test_settings_from_env_read_mpc_conventions():
    s = MpdSettings.from_env({"MPD_HOST": "pw@box", "MPD_PORT": "6601", "CTK_MPD_MUSIC_DIR": "/srv/music"})
    assert (s.host, s.port, s.password, s.music_dir) == ("box", 6601, "pw", Path("/srv/music"))
    assert "pw" not in repr(s)
    assert MpdSettings.from_env({}, port=7000).port == 7000 and MpdSettings.from_env({}).host == "localhost"
    with pytest.raises(ExportError, match="MPD_PORT='x' is not a port number"):
        MpdSettings.from_env({"MPD_PORT": "x"})


def test_export_by_path_writes_a_stored_playlist_in_order(server, client):
    table = tracks(server["music"], ["Rock/three.flac", "Jazz/one.flac"])
    result = export_to_mpd(client, table, name="Evening", music_dir=server["music"])
    assert result.action == "create" and [m.how for m in result.matches] == ["path", "path"]
    assert client.listplaylist("Evening") == ["Rock/three.flac", "Jazz/one.flac"]
    on_disk = (server["playlists"] / "Evening.m3u").read_text().split()
    assert on_disk == ["Rock/three.flac", "Jazz/one.flac"]
    assert not any(p["playlist"].endswith("ctk-partial") for p in client.listplaylists())


def test_moved_copy_infers_the_music_directory_and_falls_back_to_tags(server, client, tmp_path):
    copy = tmp_path / "laptop" / "Music"  # the same layout elsewhere: suffixes find MPD's folder
    table = tracks(copy, ["Jazz/two.flac", "Jazz/one.flac"])
    assert infer_music_dir(client, table["path"].tolist()) == copy
    result = export_to_mpd(client, table, name="Copy")
    assert result.music_dir == copy and "MPD's music directory is" in result.notices[0]
    assert client.listplaylist("Copy") == ["Jazz/two.flac", "Jazz/one.flac"]
    # another layout: nothing under the music directory, but the tags are in MPD's database
    odd = pd.DataFrame([
        {"track_id": "a", "path": str(tmp_path / "flat" / "engine.flac"), "artist": "Loud Ones", "title": "Engine",
         "duration_s": 1.0},
        {"track_id": "b", "path": str(tmp_path / "flat" / "ghost.flac"), "artist": "Nobody", "title": "Ghost",
         "duration_s": 1.0},
    ])  # fmt: skip
    result = export_to_mpd(client, odd, name="Tags", music_dir=server["music"])
    assert [m.how for m in result.matches] == ["tags", None]
    assert "outside MPD's music directory" in result.unmatched[0].reason
    assert client.listplaylist("Tags") == ["Rock/three.flac"]


def test_unknown_file_under_the_music_directory_names_the_database_update(server, client):
    table = tracks(server["music"], ["Jazz/one.flac", "Jazz/new.flac"])
    result = export_to_mpd(client, table, name="New", music_dir=server["music"])
    assert result.uris == ["Jazz/one.flac"]
    assert "Jazz/new.flac is not in MPD's database (update it: `mpc update`)" in result.unmatched[0].reason
    with pytest.raises(ExportError, match="none of the 1 tracks is in MPD's database"):
        export_to_mpd(client, tracks(server["music"], ["Jazz/new.flac"]), name="X", music_dir=server["music"])


def test_existing_playlist_needs_update_and_is_replaced_whole(server, client):
    export_to_mpd(client, tracks(server["music"], ["Jazz/one.flac"]), name="Mix", music_dir=server["music"])
    again = tracks(server["music"], ["Jazz/two.flac", "Rock/three.flac"])
    with pytest.raises(ExportError, match="already has a stored playlist named 'Mix'; give --update"):
        export_to_mpd(client, again, name="Mix", music_dir=server["music"])
    planned = export_to_mpd(client, again, name="Mix", music_dir=server["music"], update=True, dry_run=True)
    assert planned.action == "replace" and planned.dry_run and client.listplaylist("Mix") == ["Jazz/one.flac"]
    export_to_mpd(client, again, name="Mix", music_dir=server["music"], update=True)
    assert client.listplaylist("Mix") == ["Jazz/two.flac", "Rock/three.flac"]
    assert sorted(p["playlist"] for p in client.listplaylists()) == ["Mix"]


def test_connection_and_password_errors_are_clear(server):
    with pytest.raises(ExportError, match="MPD refused the password"):
        connect_mpd(MpdSettings(host="127.0.0.1", port=server["port"], password="wrong"))
    c = connect_mpd(MpdSettings(host="127.0.0.1", port=server["port"]))  # no password: no permission to read
    with pytest.raises(ExportError, match=r"MPD refused reading its database: .*permission.*MPD_HOST=password@host"):
        export_to_mpd(c, tracks(server["music"], ["Jazz/one.flac"]), name="P", music_dir=server["music"])
    c.disconnect()
    with pytest.raises(ExportError, match=r"cannot reach MPD at 127.0.0.1:1: .*is mpd running"):
        connect_mpd(MpdSettings(host="127.0.0.1", port=1, timeout_s=2))
    with pytest.raises(ExportError, match="without '/'"):
        export_to_mpd(None, pd.DataFrame(), name="a/b")
