import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from embeddings.backends import load_backend
from tests.cluster_toolkit.cli._training_music import write_tones

runner = CliRunner()
TINY = ["--seconds", "2", "--d-model", "32", "--layers", "1", "--heads", "2", "--embedding-dim", "16"]


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    return write_tones(tmp_path_factory.mktemp("finetune-music"), 6)


@pytest.fixture(scope="module")
def base(music, tmp_path_factory):
    out = tmp_path_factory.mktemp("finetune-base") / "base"
    result = runner.invoke(
        app, ["train", str(music), "--out", str(out), "--max-steps", "2", "--batch-size", "8", *TINY]
    )
    assert result.exit_code == 0, result.output
    return out


def _run(*args):
    return runner.invoke(app, ["finetune", *map(str, args)])


def test_finetune_prints_collapse_check_writes_model_and_resumes(music, base, tmp_path):
    out = tmp_path / "km"
    args = ["--kmeans-loss", "--k", "3", "--model", base, "--out", out, "--weight", "0.5"]
    result = _run(music, *args, "--epochs", "1", "--crop-seconds", "1", "--batch-size", "8")
    assert result.exit_code == 0, result.output
    assert "collapse check" in result.output and "effective rank" in result.output and "finished" in result.output
    assert "ctk finetune: " in result.output and "ctk train: " not in result.output
    meta = json.loads((out / "model.json").read_text())
    assert meta["training"]["kmeans_k"] == 3 and meta["training"]["kmeans_weight"] == 0.5
    assert meta["training"]["augment"]["crop_frames"] == 44 and meta["training"]["batch_size"] == 8
    assert meta["data"]["init_from"] == str(base) and meta["encoder"]["d_model"] == 32
    fits = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "kmeans"]
    n_train = meta["data"]["n_train_fragments"]  # every train fragment is embedded for each refit
    assert len(fits) == 2 and all(sum(f["cluster_sizes"]) == f["n_fragments"] == n_train for f in fits)
    assert load_backend(str(out)).embed(np.zeros((1, 128, 87), dtype=np.float32)).shape == (1, 16)
    step = meta["step"]
    again = _run(*args)
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = _run("--kmeans-loss", "--out", out, "--resume", "--epochs", "2")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "last" / "model.json").read_text())["step"] == 2 * step


def test_dec_term_is_stored_in_the_checkpoint_and_resumes_as_dec(music, base, tmp_path):
    out = tmp_path / "dec"
    args = ["--cluster-loss", "dec", "--k", "3", "--model", base, "--out", out, "--weight", "2"]
    result = _run(music, *args, "--epochs", "1", "--crop-seconds", "1", "--batch-size", "8")
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "model.json").read_text())
    assert meta["training"]["cluster_loss"] == "dec" and meta["training"]["kmeans_weight"] == 2.0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    terms = [r["val_kmeans_loss"] for r in records if "val_kmeans_loss" in r]
    assert terms and all(0 <= t < 0.5 for t in terms)  # a KL between soft assignments, not a squared distance
    resumed = _run("--out", out, "--resume", "--epochs", "2")  # the saved term is used, no flag needed
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "last" / "model.json").read_text())["training"]["cluster_loss"] == "dec"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k", "3", "--out", "o"], "say which clustering term: --cluster-loss kmeans|dec"),
        (["--cluster-loss", "soft", "--out", "o"], "--cluster-loss soft: must be one of kmeans, dec"),
        (["--kmeans-loss", "--cluster-loss", "dec", "--out", "o"], "contradict each other"),
        (["--kmeans-loss", "--k", "3"], "give --out"),
        (["--kmeans-loss", "--k", "1", "--out", "o"], "--k 1: must be >= 2"),
        (["--kmeans-loss", "--weight", "0", "--out", "o"], "--weight 0.0: must be > 0"),
        (["--kmeans-loss", "--model", "nowhere", "--out", "o"], "--model nowhere: no such checkpoint"),
        (["--kmeans-loss", "--out", "o", "--resume"], "holds no fine-tuning run"),
    ],
)
def test_usage_errors_exit_2(music, base, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = _run(music, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "o").exists()


def test_missing_music_and_plain_run_resume(base, tmp_path):
    result = _run(tmp_path / "none", "--kmeans-loss", "--model", base, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "not a folder" in result.output
    result = _run("--kmeans-loss", "--out", base, "--resume")  # a ctk train run, not a fine-tuning
    assert result.exit_code == 2 and "plain training run" in result.output
