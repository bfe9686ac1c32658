import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from embeddings.backends import load_backend
from tests.cluster_toolkit.cli._training_music import write_tones

runner = CliRunner()
SMALL = [
    "--seconds",
    "2",
    "--d-model",
    "32",
    "--layers",
    "1",
    "--heads",
    "2",
    "--embedding-dim",
    "16",
    "--batch-size",
    "8",
    "--val-every",
    "1000",
]


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    return write_tones(tmp_path_factory.mktemp("train-music"), 5)


def _run(*args):
    return runner.invoke(app, ["train", *map(str, args)])


def test_train_then_resume_then_embed_backend(music, tmp_path):
    out = tmp_path / "run"
    result = _run(music, "--out", out, "--max-steps", "2", "--crop-seconds", "1", *SMALL)
    assert result.exit_code == 0, result.output
    assert "status" in result.output and "finished" in result.output and "fragments/s" in result.output
    meta = json.loads((out / "model.json").read_text())
    assert meta["step"] == 2 and meta["data"]["n_tracks"] == 5 and meta["data"]["music_dir"] == str(music)
    assert meta["encoder"]["d_model"] == 32 and meta["encoder"]["n_frames"] == 87
    assert meta["training"]["augment"]["crop_frames"] == 44  # trained on 1 s crops of the 2 s fragments
    resumed = _run("--resume", out, "--max-steps", "3")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "last" / "model.json").read_text())["step"] == 3
    backend = load_backend(str(out))
    assert backend.embed(np.zeros((2, 128, 87), dtype=np.float32)).shape == (2, 16)
    again = _run(music, "--out", out, *SMALL)
    assert again.exit_code == 2 and f"--resume {out}" in again.output


def test_init_starts_from_a_trained_encoder(music, tmp_path):
    from embeddings.checkpoint import load_checkpoint

    base = tmp_path / "base"
    assert _run(music, "--out", base, "--max-steps", "2", *SMALL).exit_code == 0
    # architecture flags are the base model's: --d-model 64 is ignored with --init
    tuned = _run(music, "--out", tmp_path / "tuned", "--init", base, "--max-steps", "1", "--d-model", "64",
                 "--batch-size", "8", "--val-every", "1000", "--seed", "5")
    assert tuned.exit_code == 0, tuned.output
    fresh = _run(music, "--out", tmp_path / "fresh", "--max-steps", "1", *SMALL, "--seed", "5")
    assert fresh.exit_code == 0, fresh.output
    w_base = load_checkpoint(base).encoder_state_dict()
    w_tuned = load_checkpoint(tmp_path / "tuned").encoder_state_dict()
    w_fresh = load_checkpoint(tmp_path / "fresh").encoder_state_dict()
    assert load_checkpoint(tmp_path / "tuned").encoder == load_checkpoint(base).encoder
    # one warm-up step (lr 5e-6) away from the base weights, far from a fresh start with the same seed
    assert max(float((w_tuned[k] - w_base[k]).abs().max()) for k in w_base) < 1e-3
    assert max(float((w_fresh[k] - w_base[k]).abs().max()) for k in w_base) > 0.05
    missing = _run(music, "--out", tmp_path / "x", "--init", tmp_path / "nope")
    assert missing.exit_code == 2 and "--init" in missing.output and "no such checkpoint folder" in missing.output


def test_dry_run_writes_nothing(music, tmp_path):
    result = _run(music, "--out", tmp_path / "dry", "--dry-run", *SMALL)
    assert result.exit_code == 0, result.output
    assert "would train transformer/alibi2d with infonce on 5 files" in result.output
    assert not (tmp_path / "dry").exists()
    queue = _run(music, "--out", tmp_path / "dry", "--dry-run", "--positives", "folder", "--queue", "64", *SMALL)
    assert queue.exit_code == 0, queue.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-steps", "1"], "give MUSIC_DIR and --out DIR"),
        (["--out", "x", "--positives", "playlist"], "--positives playlist needs --playlists"),
        (["--out", "x", "--loss", "triplet"], "--loss 'triplet'"),
        (["--out", "x", "--positional", "sine"], "positional='sine'"),
        (["--out", "x", "--crop-seconds", "20"], "--crop-seconds 20.0: must be in (0, --seconds 10.0]"),
        (["--out", "x", "--queue", "64"], "queue_size > 0 needs loss='infonce' and group positives"),
        (["--out", "x", "--queue", "64", "--positives", "folder", "--queue-momentum", "1"],
         "queue_momentum=1.0 must be in (0, 1)"),
    ],
)
def test_usage_errors_exit_2(music, tmp_path, args, message):
    args = [a if a != "x" else str(tmp_path / "x") for a in args]
    result = _run(*([music] if args[0] != "--max-steps" else []), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_resume_of_a_non_run_or_corrupt_run(music, tmp_path):
    result = _run("--resume", tmp_path)
    assert result.exit_code == 2 and "nothing to resume" in result.output
    out = tmp_path / "run"
    assert _run(music, "--out", out, "--max-steps", "1", *SMALL).exit_code == 0
    (out / "last" / "model.json").write_text("{")
    corrupt = _run("--resume", out)
    assert corrupt.exit_code == 2 and "corrupt JSON" in corrupt.output


def test_ctrl_c_reports_the_checkpoint_and_exits_130(music, tmp_path, monkeypatch):
    import embeddings.training as training
    from embeddings.training import TrainResult

    def interrupted(files, *, out_dir, **kwargs):
        return TrainResult(
            out_dir=out_dir, status="interrupted", step=7, epoch=0, best=None, fragments_per_s=1.0, data={}
        )

    monkeypatch.setattr(training, "train", interrupted)  # the command imports it when it runs
    result = _run(music, "--out", tmp_path / "run", *SMALL)
    assert result.exit_code == 130
    assert f"interrupted at step 7; checkpoint saved. Continue with: ctk train --resume {tmp_path / 'run'}" in (
        " ".join(result.output.split())
    )


def test_a_second_run_into_a_busy_out_folder_is_refused(music, tmp_path):
    from cluster_toolkit.store.lock import StoreLock

    out = tmp_path / "busy"
    out.mkdir()
    with StoreLock(out, command="ctk train elsewhere", what="run folder"):
        result = _run(music, "--out", out, *SMALL)
    assert result.exit_code == 2
    assert "run folder is locked by `ctk train elsewhere`" in " ".join(result.output.split())
    assert not (out / "last").exists() and sorted(p.name for p in out.iterdir()) == [".lock"]
