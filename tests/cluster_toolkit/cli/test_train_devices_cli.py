"""``ctk train --devices 2``: two CPU processes (gloo) started by torch's elastic launcher."""

import json

import numpy as np
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from embeddings.backends import load_backend
from tests.cluster_toolkit.cli._training_music import write_tones
from tests.cluster_toolkit.cli.test_train_cli import SMALL

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, ["train", *map(str, args)])


def test_two_processes_train_and_export_a_model_that_embeds(tmp_path):
    # spawned, as the command does (a fork of the suite's multithreaded process can hang). Resume and equality
    # with one process are tested on the library function (tests/embeddings/training/test_distributed_training.py)
    (tmp_path / "music").mkdir()
    music = write_tones(tmp_path / "music", 5)
    out = tmp_path / "run"
    result = _run(music, "--out", out, "--max-steps", "2", "--crop-seconds", "1", "--devices", "2", *SMALL)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "training on 2 CPU processes (gloo); batch 8 split between them" in flat and "finished" in flat
    meta = json.loads((out / "model.json").read_text())
    assert meta["step"] == 2 and meta["data"]["n_tracks"] == 5
    assert (out / "last" / "train_state.pt").is_file() and (out / "metrics.jsonl").is_file()

    backend = load_backend(str(out))
    assert backend.embed(np.zeros((2, 128, 87), dtype=np.float32)).shape == (2, 16)


def test_devices_must_be_positive(tmp_path):
    result = _run(tmp_path, "--out", tmp_path / "run", "--devices", "0")
    assert result.exit_code == 2 and "--devices" in result.output
