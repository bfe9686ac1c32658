import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.store.saved_playlists import list_playlists
from playlists.m3u import m3u8_text
from tests.cluster_toolkit.cli._playlist_cli_store import build_store

runner = CliRunner()


@pytest.fixture
def lib(tmp_path):
    return build_store(tmp_path / "lib", tmp_path / "music"), tmp_path


def run(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def test_recommend_from_a_liked_playlist_with_explanations(lib):
    store, tmp = lib
    liked = tmp / "liked.m3u8"
    tracks = store.tracks()
    liked.write_text(m3u8_text(tracks, ["techno000", "techno001", "techno002"], playlist_path=liked)
                     + "../elsewhere/unknown.flac\n")
    out = tmp / "rec.m3u8"
    res = run("recommend", "--liked", liked, "--n", 5, "--explain", "--out", out, "--library", store.root)
    assert res.exit_code == 0, res.output
    saved = list_playlists(store)
    picks = list(saved.loc[0, "track_ids"])
    assert len(picks) == 5 and all(p.startswith("techno") for p in picks)
    assert not {"techno000", "techno001", "techno002"} & set(picks)
    assert "1 entries of" in res.output and "not in the library" in res.output
    assert "liked songs" in res.output and "why each song" in res.output
    assert "closest liked song" in res.output and "Techno Band" in res.output
    assert "0:00" in res.output or "0:10" in res.output or "0:20" in res.output  # the matching fragment's start
    assert out.read_text().count("#EXTINF") == 5


def test_similar_one_song(lib):
    store, tmp = lib
    res = run("similar", "Jazz Band 1 - Jazz Song 5", "--n", 4, "--explain", "--library", store.root)
    assert res.exit_code == 0, res.output
    picks = list(list_playlists(store).loc[0, "track_ids"])
    assert len(picks) == 4 and "jazz005" not in picks and all(p.startswith("jazz") for p in picks)
    assert list_playlists(store).loc[0, "method"] == "similar"


def test_dry_run_and_errors(lib):
    store, tmp = lib
    res = run("similar", "jazz005", "--n", 3, "--out", tmp / "s.m3u8", "--dry-run", "--library", store.root)
    assert res.exit_code == 0 and "#EXTM3U" in res.output and not (tmp / "s.m3u8").exists()
    assert not store.has_table("playlists")
    res = run("recommend", "--liked", tmp / "missing.m3u8", "--library", store.root)
    assert res.exit_code == 2 and "no such playlist file" in res.output
    empty = tmp / "empty.m3u8"
    empty.write_text("#EXTM3U\n/nowhere/a.flac\n")
    res = run("recommend", "--liked", empty, "--library", store.root)
    assert res.exit_code == 2 and "no liked song" in res.output
    res = run("similar", "Nobody - Nothing", "--library", store.root)
    assert res.exit_code == 1 and "error: no track in the library" in res.output
