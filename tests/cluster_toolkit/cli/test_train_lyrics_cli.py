"""ctk train --loss soft-infonce --negative-weights lyrics|tags|none on real tones with lyrics sidecars."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from embeddings.config import TrainConfig
from embeddings.errors import ConfigError
from tests.cluster_toolkit.cli._training_music import write_tones
from tests.cluster_toolkit.cli.test_train_cli import SMALL

runner = CliRunner()


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    root = write_tones(tmp_path_factory.mktemp("train-lyrics-music"), 5)
    (root / "t0.txt").write_text("sunlight on the water\nwe sail away", encoding="utf-8")
    (root / "t1.lrc").write_text("[00:01.00]sunlight on the water\n[00:02.00]we sail away", encoding="utf-8")
    (root / "t2.txt").write_text("[Instrumental]", encoding="utf-8")
    (root / "t3.txt").write_text("tax forms and spreadsheets", encoding="utf-8")
    return root


def _run(*args):
    return runner.invoke(app, ["train", *map(str, args)])


@pytest.mark.parametrize(("weights", "with_lyrics"), [("lyrics", 3), ("none", None), ("tags", None)])
def test_soft_infonce_with_each_negative_weight_source(music, tmp_path, weights, with_lyrics):
    out = tmp_path / "run"
    result = _run(music, "--out", out, "--max-steps", "2", "--loss", "soft-infonce", "--negative-weights", weights,
                  *SMALL)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "model.json").read_text())
    assert meta["training"]["negative_weights"] == weights
    assert meta["data"].get("n_tracks_with_lyrics") == with_lyrics  # t0, t1, t3 (t2 is instrumental)


def test_negative_weights_need_soft_infonce(music, tmp_path):
    result = _run(music, "--out", tmp_path / "x", "--negative-weights", "lyrics", *SMALL)
    assert result.exit_code == 2
    assert "negative_weights='lyrics' needs loss='soft-infonce' (loss='infonce' weighs every negative alike)" in (
        result.output
    )
    bad = _run(music, "--out", tmp_path / "x", "--loss", "soft-infonce", "--negative-weights", "words", *SMALL)
    assert bad.exit_code == 2 and "--negative-weights 'words': expected one of tags, lyrics, none" in bad.output
    assert TrainConfig().negative_weights == "tags"  # what soft-infonce used before the option existed
    with pytest.raises(ConfigError, match="needs loss='soft-infonce'"):
        TrainConfig(loss="barlow", negative_weights="none")


def test_resume_keeps_the_lyric_weights(music, tmp_path):
    out = tmp_path / "run"
    assert _run(music, "--out", out, "--max-steps", "1", "--loss", "soft-infonce", "--negative-weights", "lyrics",
                *SMALL).exit_code == 0
    resumed = _run("--resume", out, "--max-steps", "2")
    assert resumed.exit_code == 0, resumed.output
    meta = json.loads((out / "last" / "model.json").read_text())
    assert meta["step"] == 2 and meta["training"]["negative_weights"] == "lyrics"
    assert meta["data"]["n_tracks_with_lyrics"] == 3
    shutil.rmtree(out)
