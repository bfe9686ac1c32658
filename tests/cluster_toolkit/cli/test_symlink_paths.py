"""A track reached through a symlinked folder, a relative path or a moved folder is the same track everywhere."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.ingest import content_hash
from cluster_toolkit.store import LibraryStore
from embeddings.m3u import read_m3u

runner = CliRunner()
N = 8


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def linked(tmp_path):
    """Real FLAC files in ``real/``, reached as ``music/`` (a symlink): the store keeps the link paths."""
    real = tmp_path / "real" / "Album"
    real.mkdir(parents=True)
    t = np.arange(2205) / 22050
    for i in range(N):
        sf.write(real / f"{i:03d}.flac", 0.1 * np.sin(2 * np.pi * (220 + 40 * i) * t), 22050)
    (tmp_path / "music").symlink_to(tmp_path / "real")
    rng = np.random.default_rng(0)
    rows, vecs = [], []
    for i in range(N):
        link_path = tmp_path / "music" / "Album" / f"{i:03d}.flac"
        rows.append({"track_id": content_hash(link_path), "path": str(link_path), "size": 1, "mtime": 1.0,
                     "title": f"Song {i}", "artist": f"Band {i % 3}", "status": "ok", "n_fragments": 1})
        vecs.append(rng.normal(size=8))
    store = LibraryStore.open(tmp_path / "lib", create=True)
    store.set_model({"name": "toy", "dim": 8}, "toy-000000000002", 8)
    store.commit_batch(pd.DataFrame(rows), track_embeddings=np.asarray(vecs, dtype=np.float32),
                       fragments=pd.DataFrame({"track_id": [r["track_id"] for r in rows], "fragment_index": 0,
                                               "start_s": 0.0, "split": "train"}),
                       fragment_embeddings=np.asarray(vecs, dtype=np.float32))
    return store, tmp_path, [r["track_id"] for r in rows]


def test_liked_m3u_with_resolved_paths_finds_the_link_paths_of_the_store(linked):
    store, tmp, ids = linked
    liked = tmp / "liked.m3u8"
    liked.write_text("#EXTM3U\n" + "".join(f"{tmp / 'real' / 'Album' / f'{i:03d}.flac'}\n" for i in (0, 1, 2)))
    code, out = run("recommend", "--liked", liked, "--n", 3, "--library", store.root)
    assert code == 0, out
    assert "not in the library" not in out and "no liked song" not in out


def test_seeds_by_real_relative_and_moved_paths(linked, monkeypatch):
    store, tmp, ids = linked
    shutil.copytree(tmp / "real", tmp / "moved")
    monkeypatch.chdir(tmp)
    out_file = tmp / "lists" / "x.json"
    code, out = run("playlist", "--hull", "--seeds", tmp / "real" / "Album" / "000.flac",
                    "--seeds", os.path.join("music", "Album", "001.flac"), "--seeds", "moved/Album/002.flac",
                    "--length", 5, "--out", out_file, "--allow-near-duplicates", "--library", store.root)
    assert code == 0, out
    import json

    tracks = json.loads(out_file.read_text())["tracks"]
    assert [t["track_id"] for t in tracks][:1] == [ids[0]]
    assert {ids[0], ids[1], ids[2]} <= {t["track_id"] for t in tracks}
    code, out = run("similar", "moved/Album/003.flac", "--n", 2, "--library", store.root)
    assert code == 0, out


def test_m3u_written_into_a_symlinked_folder_points_at_the_files(linked):
    store, tmp, ids = linked
    (tmp / "elsewhere" / "lists").mkdir(parents=True)
    (tmp / "music" / "Album" / "lists").symlink_to(tmp / "elsewhere" / "lists")  # inside the music folder
    out_file = tmp / "music" / "Album" / "lists" / "mix.m3u8"
    code, out = run("playlist", "--hull", "--seeds", ids[0], "--seeds", ids[4], "--length", 4, "--out", out_file,
                    "--allow-near-duplicates", "--library", store.root)
    assert code == 0, out
    entries = read_m3u(out_file)
    assert len(entries) == 4 and all(os.path.isfile(e) for e in entries)
    # and the file reads back as the same tracks
    code, out = run("recommend", "--liked", out_file, "--n", 2, "--library", store.root)
    assert code == 0 and "not in the library" not in out, out
