"""The smaller faults of issue #11: odd playlist files, odd file names, odd feature values, a mixed
fragment layout, a Spotify login nobody completes, playlist files other users cannot read."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest
import requests
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.errors import StoreError
from cluster_toolkit.ingest import EmbedConfig, embed_library
from cluster_toolkit.store.tabular import read_feature_table
from embeddings.config import FragmentConfig
from embeddings.m3u import read_m3u
from playlists.errors import ExportError
from playlists.m3u import m3u8_text, write_m3u8
from playlists.spotify import SpotifySettings
from playlists.spotify.client import make_auth_manager, make_session
from tests.cluster_toolkit.cli._playlist_cli_store import build_store
from tests.faults.conftest import short_tracks

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.fixture
def lib(tmp_path):
    return build_store(tmp_path / "lib", tmp_path / "music"), tmp_path


@pytest.mark.parametrize(
    "content",
    [
        np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes(),  # binary, NUL bytes in it
        "#EXTM3U\n/music/Jazz/000.flac\n".encode("utf-16-le"),  # UTF-16 without a byte-order mark
    ],
    ids=["binary", "utf16-no-bom"],
)
def test_a_binary_or_unmarked_utf16_playlist_is_a_one_line_error_for_recommend_and_export(lib, content):
    store, tmp = lib
    liked = tmp / "liked.m3u8"
    liked.write_bytes(content)
    for args in (("recommend", "--liked", liked), ("export", "json", liked)):
        res = run(*args, "--library", store.root)
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
        assert "not a text playlist" in res.output and "Traceback" not in res.output
        assert "embedded null byte" not in res.output


def test_a_utf16_playlist_with_a_byte_order_mark_is_read(tmp_path):
    playlist = tmp_path / "windows.m3u8"
    playlist.write_bytes("#EXTM3U\r\n/music/Jazz/000.flac\r\n".encode("utf-16"))
    assert read_m3u(playlist) == [os.path.abspath("/music/Jazz/000.flac")]


def test_a_newline_in_a_file_name_keeps_the_m3u8_one_entry_per_track(tmp_path):
    odd = str(tmp_path / "music" / "first line\nsecond line.flac")
    tracks = pd.DataFrame({"track_id": ["a", "b"], "path": [odd, str(tmp_path / "music" / "plain.flac")],
                           "artist": ["A", "B"], "title": ["x", "y"], "duration_s": [60.0, 61.0]})  # fmt: skip
    out = tmp_path / "list.m3u8"
    text = m3u8_text(tracks, ["a", "b"], playlist_path=out)
    entries = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert entries == [f"file://{tmp_path}/music/first%20line%0Asecond%20line.flac", "music/plain.flac"]
    write_m3u8(text, out)
    assert read_m3u(out) == [odd, str(tmp_path / "music" / "plain.flac")]


def test_playlist_files_are_readable_by_other_users(tmp_path):
    old = os.umask(0o022)
    try:
        out = write_m3u8("#EXTM3U\n", tmp_path / "new.m3u8")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    out.chmod(0o640)  # a mode the user chose survives rewrites
    write_m3u8("#EXTM3U\n/x.flac\n", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_inf_in_a_feature_table_is_imputed_and_reported_not_a_constant_column(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"id": [f"t{i}" for i in range(10)], "name": [f"song {i}" for i in range(10)],
                       "energy": rng.uniform(0, 1, 10), "tempo": rng.uniform(80, 160, 10),
                       "valence": rng.uniform(0, 1, 10)})  # fmt: skip
    df.loc[3, "tempo"] = np.inf
    df.loc[7, "tempo"] = -np.inf
    path = tmp_path / "features.csv"
    df.to_csv(path, index=False)
    table = read_feature_table(path)
    assert "tempo" in table.columns and table.dropped == []
    assert table.infinite == {"tempo": 2} and np.isfinite(table.matrix).all()
    res = run("import-features", path, "--library", tmp_path / "lib")
    assert res.exit_code == 0, res.output
    assert "infinite values treated as missing and imputed: tempo (2)" in " ".join(res.output.split())


def test_embed_with_another_fragment_length_is_refused_unless_reembed(tmp_path):
    music = short_tracks(tmp_path / "music", 2, seconds=12)
    embed_library(music, tmp_path / "lib", EmbedConfig(workers=0))
    longer = EmbedConfig(workers=0, fragment=FragmentConfig(n_seconds=10, step=10))
    with pytest.raises(StoreError, match="holds fragments of 5 s every 5 s, this run asks for 10 s every 10 s"):
        embed_library(music, tmp_path / "lib", longer)
    summary = embed_library(music, tmp_path / "lib", EmbedConfig(workers=0, reembed=True, fragment=longer.fragment))
    assert summary.analysed == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_spotify_login_without_a_browser_prints_the_url_and_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr("webbrowser.open", lambda url: False)  # no browser on this machine
    settings = SpotifySettings(client_id="cid", redirect_port=_free_port(), cache_path=tmp_path / "token.json",
                               auth_url="http://127.0.0.1:9/authorize", login_timeout_s=0.5)  # fmt: skip
    shown = []
    auth = make_auth_manager(settings, session=make_session(), on_login_url=shown.append)
    t0 = time.monotonic()
    with pytest.raises(ExportError, match="no Spotify login came back to .* within 0.5 s.*CTK_SPOTIFY_TOKEN"):
        auth.get_access_token()
    assert time.monotonic() - t0 < 10
    assert len(shown) == 1 and shown[0].startswith("http://127.0.0.1:9/authorize?client_id=cid")
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", settings.redirect_port))


def test_spotify_login_through_the_loopback_still_works(tmp_path, monkeypatch):
    monkeypatch.setattr("webbrowser.open", lambda url: False)
    settings = SpotifySettings(client_id="cid", redirect_port=_free_port(), cache_path=tmp_path / "token.json",
                               login_timeout_s=30)  # fmt: skip

    def browser(url: str) -> None:  # what the user's browser does after the login page
        state = parse_qs(urlparse(url).query)["state"][0]
        requests.get(f"{settings.redirect_uri}?code=the-code&state={state}", timeout=5)

    def login_page(url: str) -> None:  # called once the loopback server listens
        threading.Thread(target=browser, args=(url,)).start()

    auth = make_auth_manager(settings, session=make_session(), on_login_url=login_page)
    assert auth.get_authorization_code() == "the-code"
