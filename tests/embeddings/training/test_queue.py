"""MoCo queue (``TrainConfig.queue_size``): the FIFO of past keys, the momentum key encoder, a tiny run whose
queue fills and whose key encoder trails the model, its resume, and the configs it refuses."""

import importlib
import json

import numpy as np
import pytest
import torch

from embeddings.config import TrainConfig
from embeddings.errors import ConfigError
from embeddings.models import ContrastiveModel
from embeddings.training import train
from embeddings.training.distributed import World
from embeddings.training.queue import KeyQueue, MomentumKeys
from embeddings.training.train import STATE
from tests.embeddings.tiny import TINY, check_new_train_field, quick_train_config


def test_key_queue_is_a_fifo_of_fixed_capacity():
    queue = KeyQueue(5, 2)
    assert len(queue) == 0 and queue.keys.shape == (0, 2) and queue.ids.dtype == torch.long
    keys, ids = queue.push(torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), torch.tensor([0, 1, 2]))
    assert ids.tolist() == [0, 1, 2] and keys[:, 0].tolist() == [0.0, 1.0, 2.0]
    keys, ids = queue.push(torch.tensor([[3.0, 3.0], [4.0, 4.0], [5.0, 5.0]]), torch.tensor([3, 4, 5]))
    assert len(queue) == 5 and ids.tolist() == [1, 2, 3, 4, 5]  # the oldest went
    assert keys[:, 1].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    keys, ids = queue.push(torch.arange(14.0).reshape(7, 2), torch.arange(10, 17))  # more than fits
    assert ids.tolist() == [12, 13, 14, 15, 16] and keys[0].tolist() == [4.0, 5.0]
    other = KeyQueue(5, 2)
    other.load_state_dict(queue.state_dict())
    assert torch.equal(other.keys, queue.keys) and torch.equal(other.ids, queue.ids)


def test_key_queue_stores_detached_float_keys_and_refuses_bad_shapes():
    queue = KeyQueue(4, 3)
    z = torch.randn(2, 3, requires_grad=True)
    keys, _ = queue.push(z.double() * 2, torch.tensor([1, 2], dtype=torch.int32))
    assert not keys.requires_grad and keys.dtype == torch.float32 and queue.ids.dtype == torch.long
    with pytest.raises(ConfigError, match=r"keys must be \(B, 3\) and ids \(B,\)"):
        queue.push(torch.randn(2, 4), torch.tensor([1, 2]))
    with pytest.raises(ConfigError, match=r"keys must be \(B, 3\) and ids \(B,\)"):
        queue.push(torch.randn(2, 3), torch.tensor([1, 2, 3]))
    with pytest.raises(ConfigError, match="size=0"):
        KeyQueue(0, 3)


def test_the_key_encoder_moves_by_its_momentum():
    torch.manual_seed(0)
    model = ContrastiveModel(TINY, n_tags=3)
    keys = MomentumKeys(model, size=8, momentum=0.75)
    assert keys.encoder.tag_head is None and not any(p.requires_grad for p in keys.encoder.parameters())
    before = {k: v.clone() for k, v in keys.encoder.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    keys.update(model)
    weights = dict(model.named_parameters())
    for name, key in keys.encoder.named_parameters():
        torch.testing.assert_close(key, 0.75 * before[name] + 0.25 * weights[name].detach())
    projections = keys.encode(torch.randn(4, TINY.n_mels, TINY.n_frames))
    assert projections.shape == (4, TINY.projection_dims[-1]) and not projections.requires_grad
    with pytest.raises(ConfigError, match=r"momentum=1.0 must be in \(0, 1\)"):
        MomentumKeys(model, size=8, momentum=1.0)


def test_config_round_trip_and_refusals():
    config = TrainConfig(positives="folder", queue_size=256, queue_momentum=0.95)
    check_new_train_field(config, "queue_size")
    check_new_train_field(config, "queue_momentum")
    assert TrainConfig().queue_size == 0 and TrainConfig().queue_momentum == 0.99
    with pytest.raises(ConfigError, match="queue_size=-1 must be >= 0"):
        TrainConfig(positives="folder", queue_size=-1)
    for momentum in (0.0, 1.0, 1.5):
        with pytest.raises(ConfigError, match=rf"queue_momentum={momentum} must be in \(0, 1\)"):
            TrainConfig(positives="folder", queue_size=8, queue_momentum=momentum)
    with pytest.raises(ConfigError, match="needs loss='infonce' and group positives.*positives='track'"):
        TrainConfig(queue_size=8)
    with pytest.raises(ConfigError, match="needs loss='infonce'.*loss='soft-infonce'"):
        TrainConfig(positives="folder", loss="soft-infonce", queue_size=8)
    with pytest.raises(ConfigError, match="loss='barlow'"):
        TrainConfig(positives="tag", loss="barlow", queue_size=8)


def _folder_run(music, tiny_audio, tiny_fragments, tiny_encoder, out, on_progress=None, **fields):
    config = quick_train_config(positives="folder", views=4, batch_size=8, max_steps=6, lr=3e-3, **fields)
    return train(music, out_dir=out, encoder=tiny_encoder, config=config, audio=tiny_audio, fragments=tiny_fragments,
                 on_progress=on_progress)


def _losses(out):
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return np.array([r["loss"] for r in records if r["kind"] == "train"])


def test_a_queue_run_fills_its_queue_and_its_key_encoder_trails_the_model(
    music, tiny_audio, tiny_fragments, tiny_encoder, tmp_path
):
    """Two folders of four toy tracks, two groups of four items a batch, a queue of 12 keys."""
    result = _folder_run(music, tiny_audio, tiny_fragments, tiny_encoder, tmp_path / "queue", queue_size=12,
                         queue_momentum=0.9)
    assert result.status == "finished" and result.step == 6
    losses = _losses(tmp_path / "queue")
    assert len(losses) == 6 and np.isfinite(losses).all()
    plain = _losses(_folder_run(music, tiny_audio, tiny_fragments, tiny_encoder, tmp_path / "plain").out_dir)
    assert losses[0] == pytest.approx(plain[0], rel=1e-6)  # an empty queue: InfoNCE exactly
    assert not np.allclose(losses[1:], plain[1:])  # then the queued keys join the loss

    state = torch.load(tmp_path / "queue" / "last" / STATE, weights_only=False)
    queue = state["keys"]["queue"]
    assert queue["keys"].shape == (12, tiny_encoder.projection_dims[-1]) and torch.isfinite(queue["keys"]).all()
    assert sorted(set(queue["ids"].tolist())) == [0, 1]  # the two folders, by their global group number
    assert "keys" not in torch.load(tmp_path / "plain" / "last" / STATE, weights_only=False)  # off: as before

    torch.manual_seed(0)  # the run's initial weights
    initial = ContrastiveModel(tiny_encoder).state_dict()
    trained = {k: v.float() for k, v in _full_weights(tmp_path / "queue").items()}
    key = state["keys"]["encoder"]
    names = [k for k in key if key[k].is_floating_point() and "running" not in k]
    lag = sum(float((key[k] - trained[k]).norm() ** 2) for k in names) ** 0.5
    travel = sum(float((initial[k] - trained[k]).norm() ** 2) for k in names) ** 0.5
    assert 0 < lag < 0.8 * travel  # it trails the model, nearer to it than the start was


def _full_weights(out):
    from embeddings.checkpoint import load_checkpoint

    return load_checkpoint(out / "last").state_dict


def test_a_resumed_queue_run_continues_like_an_uninterrupted_one(
    music, tiny_audio, tiny_fragments, tiny_encoder, tmp_path
):
    fields = dict(queue_size=12, queue_momentum=0.9)
    _folder_run(music, tiny_audio, tiny_fragments, tiny_encoder, tmp_path / "full", **fields)

    def interrupt(event):
        if event.get("event") == "step" and event["step"] == 3:
            raise KeyboardInterrupt

    part = _folder_run(music, tiny_audio, tiny_fragments, tiny_encoder, tmp_path / "part", on_progress=interrupt,
                       **fields)
    assert part.status == "interrupted" and part.step == 3
    config = quick_train_config(positives="folder", views=4, batch_size=8, max_steps=6, lr=3e-3, **fields)
    train(music, out_dir=tmp_path / "part", encoder=tiny_encoder, config=config, audio=tiny_audio,
          fragments=tiny_fragments, resume=True)
    np.testing.assert_allclose(_losses(tmp_path / "part"), _losses(tmp_path / "full"), rtol=1e-5)
    a, b = (torch.load(tmp_path / run / "last" / STATE, weights_only=False)["keys"] for run in ("full", "part"))
    torch.testing.assert_close(a["queue"]["keys"], b["queue"]["keys"], atol=1e-5, rtol=1e-5)
    assert torch.equal(a["queue"]["ids"], b["queue"]["ids"])


def test_a_queue_refuses_several_processes(music, tiny_audio, tiny_fragments, tiny_encoder, tmp_path, monkeypatch):
    train_module = importlib.import_module("embeddings.training.train")  # the package's ``train`` is the function
    monkeypatch.setattr(train_module, "current_world", lambda: World(rank=0, size=2))
    with pytest.raises(ConfigError, match="--queue trains on one process only"):
        _folder_run(music, tiny_audio, tiny_fragments, tiny_encoder, tmp_path / "ddp", queue_size=12)
