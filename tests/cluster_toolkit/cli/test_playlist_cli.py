import json

import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.store.saved_playlists import list_playlists
from embeddings.m3u import read_m3u
from tests.cluster_toolkit.cli._playlist_cli_store import PER, RUN_ID, build_store

runner = CliRunner()


@pytest.fixture
def lib(tmp_path):
    store = build_store(tmp_path / "lib", tmp_path / "music")
    return store, tmp_path


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_hull_with_seeds_writes_the_m3u8_and_saves_the_playlist(lib):
    store, tmp = lib
    out = tmp / "lists" / "evening.m3u8"
    res = run("playlist", "--hull", "--seeds", "Jazz Band 0 - Jazz Song 0", "--seeds", str(tmp / "music/Jazz/005.flac"),
              "--seeds", "jazz002", "--length", 8, "--out", out, "--library", store.root)
    assert res.exit_code == 0, res.output
    entries = read_m3u(out)
    assert len(entries) == 8 and len(set(entries)) == 8
    assert entries[0] == str(tmp / "music" / "Jazz" / "000.flac")  # starts at the first seed
    text = out.read_text()
    head = "#EXTM3U\n#PLAYLIST:evening\n#EXTINF:180,Jazz Band 0 - Jazz Song 0\n../music/Jazz/000.flac\n"
    assert text.startswith(head)
    saved = list_playlists(store)
    assert len(saved) == 1 and saved.loc[0, "method"] == "hull" and saved.loc[0, "length"] == 8
    assert json.loads(saved.loc[0, "metrics"])["n_tracks"] == 8
    assert saved.loc[0, "file"] == str(out.resolve())
    said = " ".join(res.output.split())
    assert "quality: mean step" in said and "hull space: the seeds' own span, 2 of" in said
    assert "the 3 seeds form a triangle" in said


def test_dry_run_shows_the_file_and_writes_nothing(lib):
    store, tmp = lib
    out = tmp / "x.json"
    res = run("playlist", "--hull", "--seeds", "metal001", "--length", 5, "--out", out, "--dry-run",
              "--library", store.root)
    assert res.exit_code == 0, res.output
    assert not out.exists() and not store.has_table("playlists")
    assert "dry run: would write" in res.output
    assert '"format": "ctk-playlist"' in res.output and '"method": "hull"' in res.output


def test_cluster_onion_walk_in_both_directions(lib):
    store, tmp = lib
    res = run("playlist", "--hull", "--cluster", f"{RUN_ID}:1", "--length", 6, "--library", store.root)
    assert res.exit_code == 0, res.output
    saved = list_playlists(store)
    inward = list(saved.loc[0, "track_ids"])
    assert len(inward) == 6 and all(t.startswith("metal") for t in inward)
    assert json.loads(saved.loc[0, "params"])["cluster"] == f"cluster 1 of run {RUN_ID}"
    res = run("playlist", "--hull", "--cluster", "latest:1", "--outward", "--length", PER, "--library", store.root)
    assert res.exit_code == 0, res.output
    outward = list(list_playlists(store).iloc[-1]["track_ids"])
    assert sorted(outward) == sorted(f"metal{i:03d}" for i in range(PER))


def test_hull_selection_and_core_are_recorded(lib):
    store, _ = lib
    seeds = ["--seeds", "jazz000", "--seeds", "jazz002", "--seeds", "metal001"]
    res = run("playlist", "--hull", *seeds, "--length", 6, "--core", 0, "--library", store.root)
    assert res.exit_code == 0, res.output
    assert "nearest the hull's core (the seed hull shrunk to 0 of its size" in " ".join(res.output.split())
    res = run("playlist", "--hull", *seeds, "--length", 6, "--hull-select", "cover", "--library", store.root)
    assert res.exit_code == 0, res.output
    params = [json.loads(p) for p in list_playlists(store)["params"]]
    assert [(p["selection"], p.get("core")) for p in params] == [("core", 0.0), ("cover", None)]


def test_song_path(lib):
    store, tmp = lib
    res = run("playlist", "--path", "jazz000", "Techno Band 3 - Techno Song 11", "--length", 7,
              "--artist-window", 1, "--library", store.root)
    assert res.exit_code == 0, res.output
    ids = list(list_playlists(store).loc[0, "track_ids"])
    assert len(ids) == 7 and ids[0] == "jazz000" and ids[-1] == "techno011"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--length", 5], "choose one generator"),
        (["--hull", "--path", "a", "b"], "choose one generator"),
        (["--hull"], "needs either --seeds"),
        (["--hull", "--seeds", "jazz000", "--cluster", "latest:0"], "needs either --seeds"),
        (["--hull", "--seeds", "jazz000", "--outward"], "--outward applies to --cluster"),
        (["--hull", "--cluster", "latest"], "must be RUN:LABEL"),
        (["--hull", "--cluster", "latest:x"], "is not a cluster number"),
        (["--hull", "--cluster", "latest:7"], "has no cluster 7; its clusters are [0, 1, 2]"),
        (["--hull", "--cluster", "nope:1"], "no cluster run 'nope'"),
        (["--hull", "--seeds", "jazz000", "--out", "x.txt"], "unknown playlist format '.txt'"),
        (["--hull", "--seeds", "jazz000", "--hull-select", "middle"], "give core or cover"),
        (["--hull", "--seeds", "jazz000", "--hull-space", "projection", "--core", 0.5], "need --hull-space seeds"),
        (["--hull", "--seeds", "jazz000", "--hull-select", "cover", "--core", 0.5], "--core applies to"),
    ],
)
def test_usage_errors_exit_2(lib, args, message):
    store, _ = lib
    res = run("playlist", *args, "--library", store.root)
    assert res.exit_code == 2, res.output
    assert message in res.output


def test_unknown_seed_and_missing_store_are_errors(lib):
    store, tmp = lib
    res = run("playlist", "--hull", "--seeds", "Jaz Band 0 - Jaz Song 0", "--library", store.root)
    assert res.exit_code == 1
    assert "error: no track in the library (36 tracks) matches seed" in res.output and "close matches" in res.output
    res = run("playlist", "--hull", "--seeds", "x", "--library", tmp / "missing")
    assert res.exit_code == 2 and "error:" in res.output


def test_per_cluster_writes_one_named_playlist_per_cluster(lib):
    store, tmp = lib
    out = tmp / "per-cluster"
    res = run("playlist", "--per-cluster", RUN_ID, "--out", out, "--length", 5, "--library", store.root)
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in out.iterdir())
    assert files == ["cluster-00 Jazz 100% - Jazz Album 100%.m3u8", "cluster-01 Metal 100% - Metal Album 100%.m3u8",
                     "cluster-02 Techno 100% - Techno Album 100%.m3u8"]
    for name, genre in zip(files, ("Jazz", "Metal", "Techno"), strict=True):
        entries = read_m3u(out / name)
        assert len(entries) == 5 and all(f"/music/{genre}/" in e for e in entries)
    assert len(list_playlists(store)) == 3
    bad = run("playlist", "--per-cluster", RUN_ID, "--library", store.root)
    assert bad.exit_code == 2 and "needs --out DIR/" in " ".join(bad.output.split())
