"""Scripting: --json output, --version, --quiet, shell completion, the config file and `ctk config`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.store.saved_playlists import list_playlists
from playlists.m3u import m3u8_text
from tests.cluster_toolkit.cli._playlist_cli_store import RUN_ID, build_store

runner = CliRunner()


@pytest.fixture
def lib(tmp_path):
    return build_store(tmp_path / "lib", tmp_path / "music"), tmp_path


def run(*args, env=None, columns=200):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": str(columns), **(env or {})})


def stdout_json(res):
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_version_and_completion():
    res = run("--version")
    assert res.exit_code == 0 and res.stdout.startswith("ctk ") and len(res.stdout.split()) == 2
    assert "--install-completion" in run("--help").stdout  # `ctk --install-completion` sets a shell up
    script = runner.invoke(app, [], prog_name="ctk", env={"_CTK_COMPLETE": "source_bash"})
    assert script.exit_code == 0 and "complete -o default -F _ctk_completion ctk" in script.stdout
    done = runner.invoke(app, [], prog_name="ctk",
                         env={"_CTK_COMPLETE": "complete_bash", "COMP_WORDS": "ctk playl", "COMP_CWORD": "1"})
    assert done.stdout.split() == ["playlist", "playlists"]
    done = runner.invoke(app, [], prog_name="ctk",
                         env={"_CTK_COMPLETE": "complete_bash", "COMP_WORDS": "ctk export ", "COMP_CWORD": "2"})
    assert done.stdout.split() == ["spotify", "mpd", "subsonic", "json"]


def test_status_and_clusters_as_json(lib):
    store, _ = lib
    status = stdout_json(run("status", "--json", "--library", store.root))
    assert status["tracks_ok"] == 36 and status["dim"] == 16 and status["fragments"] == 108
    runs = stdout_json(run("clusters", "list", "--json", "--library", store.root))
    assert [(r["run_id"], r["method"], r["n_clusters"], r["n_noise"]) for r in runs] == [(RUN_ID, "kmeans", 3, 0)]
    shown = stdout_json(run("clusters", "show", "latest", "--json", "--library", store.root))
    assert shown["run_id"] == RUN_ID and [c["size"] for c in shown["clusters"]] == [12, 12, 12]
    assert shown["clusters"][0]["top_genres"][0].startswith("Jazz")


def test_playlist_dry_run_json_writes_and_saves_nothing(lib):
    store, tmp = lib
    doc = stdout_json(run("playlist", "--hull", "--cluster", "latest:1", "--length", "5", "--dry-run", "--json",
                          "--out", tmp / "x.m3u8", "--library", store.root))
    assert doc["format"] == "ctk-playlist" and doc["method"] == "onion" and doc["playlist_id"] is None
    assert len(doc["tracks"]) == 5 and all(t["track_id"].startswith("metal") for t in doc["tracks"])
    assert doc["tracks"][0]["path"].startswith(str(tmp / "music"))  # absolute paths for scripts
    assert not (tmp / "x.m3u8").exists() and list_playlists(store).empty
    doc = stdout_json(run("playlist", "--hull", "--cluster", "latest:1", "--length", "5", "--json",
                          "--library", store.root))
    assert list_playlists(store)["playlist_id"].tolist() == [doc["playlist_id"]]


def test_similar_explain_speaks_of_the_song_not_liked_songs(lib):
    store, _ = lib
    res = run("similar", "Jazz Band 0 - Jazz Song 0", "--n", "2", "--explain", "--dry-run", "--library", store.root)
    assert res.exit_code == 0, res.output
    assert "the song" in res.stdout and "why each song" in res.stdout and "liked" not in res.stdout


def test_similar_and_recommend_as_json(lib):
    store, tmp = lib
    doc = stdout_json(run("similar", "Jazz Band 0 - Jazz Song 0", "--n", "4", "--json", "--library", store.root))
    assert len(doc["tracks"]) == 4 and all(t["track_id"].startswith("jazz") for t in doc["tracks"])
    assert doc["playlist_id"] and len(doc["explanations"]) == 4
    liked = tmp / "liked.m3u8"
    liked.write_text(m3u8_text(store.tracks(), ["techno000", "techno001"], playlist_path=liked))
    doc = stdout_json(run("recommend", "--liked", liked, "--n", "3", "--json", "--dry-run", "--library", store.root))
    assert [e["rank"] for e in doc["explanations"]] == [1, 2, 3] and doc["playlist_id"] is None
    assert all(t["track_id"].startswith("techno") for t in doc["tracks"])


def test_quiet_silences_notices_not_results_or_errors(lib):
    store, tmp = lib
    liked = tmp / "liked.m3u8"
    liked.write_text(m3u8_text(store.tracks(), ["techno000"], playlist_path=liked) + "gone.flac\n")
    loud = run("recommend", "--liked", liked, "--n", "2", "--dry-run", "--library", store.root)
    assert "not in the library and are ignored" in loud.stderr
    quiet = run("--quiet", "recommend", "--liked", liked, "--n", "2", "--dry-run", "--library", store.root)
    assert quiet.exit_code == 0 and quiet.stderr == "" and "recommended (2)" in quiet.stdout
    bad = run("-q", "status", "--library", tmp / "none")
    assert bad.exit_code == 2 and "error:" in bad.stderr


def test_config_file_sits_between_env_and_defaults(lib, tmp_path, monkeypatch):
    store, _ = lib
    config = tmp_path / "config.toml"
    config.write_text(f'library = "{store.root}"\nworkers = 3\n[subsonic]\nurl = "http://nas:4533"\n')
    monkeypatch.setenv("CTK_CONFIG", str(config))
    shown = stdout_json(run("config", "--json"))["settings"]
    assert shown["library"] == {"value": str(store.root), "source": "config file"}
    assert shown["workers"] == {"value": 3, "source": "config file"} and shown["model"]["source"] == "default"
    assert shown["subsonic.url"] == {"value": "http://nas:4533", "source": "config file"}
    assert stdout_json(run("status", "--json"))["tracks_ok"] == 36  # the file's library, no --library needed
    assert stdout_json(run("clusters", "list", "--json"))[0]["run_id"] == RUN_ID  # commands of groups too
    other = tmp_path / "other"
    env = stdout_json(run("config", "--json", env={"CTK_LIBRARY": str(other)}))["settings"]["library"]
    assert env == {"value": str(other), "source": "env CTK_LIBRARY"}
    flag = stdout_json(run("config", "--json", "--library", "x", env={"CTK_LIBRARY": str(other)}))
    assert flag["settings"]["library"] == {"value": "x", "source": "flag"}
    table = run("config", columns=80)
    assert table.exit_code == 0 and "config file" in table.stdout and str(config) in table.stdout
    config.write_text("workers = 'many'\n")
    res = run("status")
    assert res.exit_code != 0 and f"{config}: workers = 'many' must be a int" in res.stderr
    config.write_text("colour = 1\n")
    assert "unknown setting 'colour'" in run("status").stderr
    config.write_text("library = [\n")
    assert "not a readable TOML file" in run("status").stderr


def test_config_workers_and_model_reach_embed(tmp_path, monkeypatch, music_dir):
    config = tmp_path / "config.toml"
    config.write_text('model = "features"\nworkers = 0\n')
    monkeypatch.setenv("CTK_CONFIG", str(config))
    res = run("embed", music_dir, "--library", tmp_path / "lib")
    assert res.exit_code == 0, res.output
    status = stdout_json(run("status", "--json", "--library", tmp_path / "lib"))
    assert status["model_id"].startswith("features") and status["tracks_ok"] == 5


def test_saved_playlists_list_show_export(lib):
    store, tmp = lib
    assert "no saved playlists" in run("playlists", "list", "--library", store.root).stderr
    made = stdout_json(run("playlist", "--hull", "--cluster", "latest:2", "--length", "4", "--name", "Techno mix",
                           "--json", "--library", store.root))
    listed = stdout_json(run("playlists", "list", "--json", "--library", store.root))
    assert [(p["playlist_id"], p["name"], p["length"]) for p in listed] == [(made["playlist_id"], "Techno mix", 4)]
    table = run("playlists", "list", "--library", store.root, columns=80)
    assert made["playlist_id"] in table.stdout and "Techno mix" in table.stdout
    shown = stdout_json(run("playlists", "show", "Techno mix", "--json", "--library", store.root))
    assert [t["track_id"] for t in shown["tracks"]] == [t["track_id"] for t in made["tracks"]]
    res = run("playlists", "show", made["playlist_id"][:8], "--library", store.root)
    assert res.exit_code == 0 and "Techno mix (4 tracks)" in res.stdout
    out = tmp / "again.m3u8"
    res = run("playlists", "export", "Techno mix", "--out", out, "--library", store.root)
    assert res.exit_code == 0, res.output
    assert out.read_text() == m3u8_text(store.tracks(), [t["track_id"] for t in made["tracks"]], playlist_path=out,
                                        name="Techno mix")
    res = run("playlists", "show", "nope", "--library", store.root)
    assert res.exit_code == 2 and "neither a playlist file nor a saved playlist" in res.stderr


def test_80_column_terminal_keeps_headers_and_commands_whole(lib):
    store, _ = lib
    res = run("cluster", "--method", "kmeans", "--k", "3", "--show", "1", "--library", store.root, columns=80)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    run_id = next(line.split()[1] for line in lines if line.strip().startswith("run kmeans-"))
    i = lines.index("next:")
    assert lines[i + 1:i + 3] == [f"  ctk clusters show {run_id}", f"  ctk map --color cluster:{run_id} --out map.html"]
    listed = run("clusters", "list", "--library", store.root, columns=80).stdout
    assert max(len(line) for line in listed.splitlines()) <= 80 and "…" not in listed
    for header in ("run", "method", "clusters", "noise", "silhouette"):
        assert f" {header} " in listed
    assert run_id in listed and "created" not in listed
    assert "created" in run("clusters", "list", "--library", store.root, columns=120).stdout
