"""``train`` in two CPU processes (gloo, started by torch's elastic launcher) against one process."""

import json

import pytest
import torch

from embeddings.checkpoint import load_checkpoint, load_encoder
from embeddings.errors import ConfigError
from embeddings.training import train
from embeddings.training.distributed import current_world, launch
from tests.embeddings.tiny import quick_train_config, tiny_encoder

# no BatchNorm anywhere (a one-layer projection head): PyTorch has no CPU SyncBatchNorm, and per-process
# batch statistics would make the two runs differ for a reason the test is not about
ENCODER = tiny_encoder(n_frames=63, embedding_dim=16, projection_dims=(8,))


def _records(out, kind):
    return [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["kind"] == kind]


def test_two_processes_train_like_one_on_the_same_global_batch_and_resume(
    music, tmp_path, tiny_audio, tiny_fragments
):
    # skip-gram samples its negatives: both processes must draw those of the single process; a constant
    # learning rate (no warm-up, no cosine) lets a 2-step run resumed to 4 steps follow the 4-step run
    recipe = dict(epochs=5, loss="skipgram", schedule="plateau", warmup_steps=0, lr=3e-3, checkpoint_every=2)
    config = quick_train_config(max_steps=4, **recipe)
    common = dict(encoder=ENCODER, audio=tiny_audio, fragments=tiny_fragments)
    single = train(music, out_dir=tmp_path / "one", config=config, **common)

    # spawn (the CLI's default): fresh interpreters. A fork of the test process, which by then holds the threads
    # of every library the suite imported, is faster to start but can hang on a lock held at the fork
    first = launch(2, train, music, out_dir=tmp_path / "two", config=quick_train_config(max_steps=2, **recipe),
                   start_method="spawn", **common)
    assert first.status == "finished" and first.step == 2
    resumed = launch(2, train, music, out_dir=tmp_path / "two", config=config, resume=True, start_method="spawn",
                     **common)
    assert resumed.status == "finished" and resumed.step == 4 == single.step

    one, two = _records(tmp_path / "one", "train"), _records(tmp_path / "two", "train")
    assert [r["step"] for r in two] == [1, 2, 3, 4]  # rank 0 alone writes the log
    # float32 sums in another order (a share of the batch per process, DDP's average of two gradients)
    # differ in the last bits; four Adam steps keep that far below 1e-5
    for a, b in zip(one, two, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5, abs=1e-6)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-4, abs=1e-6)
    assert two[0]["fragments_per_s"] > 0
    w1 = load_encoder(load_checkpoint(tmp_path / "one" / "last")).state_dict()
    w2 = load_encoder(load_checkpoint(tmp_path / "two" / "last")).state_dict()
    assert max(float((w1[k] - w2[k]).abs().max()) for k in w1) < 1e-5
    assert load_checkpoint(tmp_path / "two").contents == "encoder"  # the export ctk embed loads
    state = torch.load(tmp_path / "two" / "last" / "train_state.pt", weights_only=False)
    assert len(state["rank_streams"]) == 2  # each process's augmentation stream, for the next resume


def test_an_error_in_the_processes_is_raised_by_the_launcher_as_it_is(music, tmp_path, tiny_audio, tiny_fragments):
    with pytest.raises(ConfigError, match="need at least 2 usable tracks to train, found 1"):
        launch(2, train, music[:1], out_dir=tmp_path / "run", encoder=ENCODER, config=quick_train_config(),
               audio=tiny_audio, fragments=tiny_fragments, start_method="spawn")
    assert not (tmp_path / "run" / "last").exists()


def _rank_one_refuses() -> str:
    if current_world().rank == 1:
        raise ConfigError("rank 1 refuses its input")
    return "rank 0 finished"


def test_a_ctk_error_of_another_rank_than_0_is_raised_too():
    # rank 0 finishing must not hide that rank 1 stopped on its input (the run did not finish)
    with pytest.raises(ConfigError, match="rank 1 refuses its input"):
        launch(2, _rank_one_refuses, start_method="spawn")
