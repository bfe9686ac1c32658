"""The auxiliary descriptor head (``TrainConfig.aux_descriptors``): shapes, targets computed once, the loss
learns on the toy tracks, the exported encoder is unchanged in shape and loads without the head."""

import json

import numpy as np
import pytest
import torch

from embeddings.audio import load_audio
from embeddings.backends.encoder import EncoderBackend
from embeddings.backends.features import FeaturesBackend
from embeddings.checkpoint import load_checkpoint
from embeddings.config import AudioConfig, FragmentConfig, TrainConfig, config_from_dict
from embeddings.errors import ConfigError
from embeddings.melspec import log_mel
from embeddings.training import train
from embeddings.training.descriptors import CLIP, DescriptorHead, DescriptorTargets, descriptor_loss
from embeddings.training.train import TrainState
from tests.embeddings.tiny import quick_train_config, tiny_encoder

# the default front end (the `features` statistics are fitted for it), 1 s fragments -> 44 frames
AUDIO = AudioConfig()
FRAGMENTS = FragmentConfig(n_seconds=1.0, step=1.0, validation_probability=0.25, min_track_seconds=1.0, seed=0)
ENCODER = tiny_encoder(
    n_mels=128, n_frames=44, patch_freq=16, stride_freq=16, embedding_dim=16, projection_dims=(16, 8)
)


def _mels(music, n=4):
    """Default-front-end log-mels of the first second of the first ``n`` fixture tracks ``(n, 128, 44)``."""
    clips = [load_audio(path, sr=AUDIO.sample_rate).y[: AUDIO.sample_rate] for path, _ in music[:n]]
    return log_mel(torch.from_numpy(np.stack(clips)).float(), config=AUDIO).float()


def test_head_and_targets_have_the_descriptor_shapes(music):
    mels = _mels(music)
    targets = DescriptorTargets(AUDIO)
    assert targets.dim == FeaturesBackend().dim
    y = targets.targets(mels, ["a", "b", "c", "d"])
    assert y.shape == (4, targets.dim) and y.dtype == torch.float32
    expected = np.clip(np.concatenate([FeaturesBackend().embed(m[None]) for m in mels.numpy()]), -CLIP, CLIP)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    head = DescriptorHead(16, targets.dim)
    assert head(torch.zeros(5, 16)).shape == (5, targets.dim)
    assert descriptor_loss(head, torch.zeros(4, 16), y).shape == ()


def test_targets_are_computed_once_per_fragment(music):
    mels = _mels(music)
    targets = DescriptorTargets(AUDIO)
    first = targets.targets(mels[:2], [(0, 0), (1, 0)])
    assert targets.computed == 2
    # the same fragments again (as another batch's items, whatever their log-mels now): read from the cache
    again = targets.targets(torch.zeros_like(mels[:3]), [(1, 0), (0, 0), (1, 0)])
    assert targets.computed == 2 and len(targets) == 2
    assert torch.equal(again[0], first[1]) and torch.equal(again[1], first[0]) and torch.equal(again[2], first[1])
    targets.targets(mels[2:], [(2, 0), (0, 0)])
    assert targets.computed == 3
    # a target does not depend on the other items of its batch
    alone = DescriptorTargets(AUDIO).targets(mels[2:3], [(2, 0)])
    assert torch.equal(alone[0], targets.targets(mels[:1], [(2, 0)])[0])


def test_train_config_round_trip_and_check():
    config = TrainConfig(aux_descriptors=0.5)
    assert config_from_dict(TrainConfig, json.loads(json.dumps(config.to_dict()))) == config
    old = {k: v for k, v in TrainConfig().to_dict().items() if k != "aux_descriptors"}  # a checkpoint from before
    assert config_from_dict(TrainConfig, old).aux_descriptors == 0.0
    with pytest.raises(ConfigError, match="aux_descriptors"):
        TrainConfig(aux_descriptors=-1.0)


def _aux_run(music, out, *, resume=False, on_progress=None, **kwargs):
    config = quick_train_config(**{"epochs": 8, "lr": 3e-3, "cache_tracks": 8, "log_every": 1,
                                   "aux_descriptors": 1.0, "schedule": "plateau", **kwargs})
    return train(music, out_dir=out, encoder=ENCODER, config=config, audio=AUDIO, fragments=FRAGMENTS,
                 resume=resume, on_progress=on_progress)


def test_descriptor_loss_falls_and_the_head_is_not_exported(music, tmp_path):
    result = _aux_run(music, tmp_path / "run", val_every=10)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train_losses = [r["descriptor_loss"] for r in records if r["kind"] == "train"]
    val_losses = [r["val_descriptor_loss"] for r in records if r["kind"] == "val"]
    assert len(train_losses) >= 10 and len(val_losses) >= 2
    # the toy tracks' descriptors are learnable from the embedding: the error falls on train and validation
    assert np.mean(train_losses[-3:]) < 0.9 * np.mean(train_losses[:3])
    assert val_losses[-1] < val_losses[0]
    assert all(np.isfinite(r["contrastive_loss"]) for r in records if r["kind"] == "train")

    exported = load_checkpoint(result.out_dir)
    assert exported.contents == "encoder" and exported.training.aux_descriptors == 1.0
    assert not any("aux" in k or "linear" in k for k in exported.state_dict)
    backend = EncoderBackend.from_checkpoint(result.out_dir)
    assert backend.embed(_mels(music).numpy()).shape == (4, ENCODER.embedding_dim)
    # the resumable checkpoint loads as a plain full model too; the head rides in the training state
    full = load_checkpoint(result.out_dir / "last")
    assert full.contents == "full" and not any(k.startswith("aux") for k in full.state_dict)
    state = TrainState.read(result.out_dir / "last")
    assert state["aux_head"]["linear.weight"].shape == (FeaturesBackend().dim, ENCODER.embedding_dim)


def test_interrupt_then_resume_restores_the_head(music, tmp_path):
    """Interrupted at step 3 and resumed, the run ends with the head (and losses) of an uninterrupted run."""
    whole = _aux_run(music, tmp_path / "whole", epochs=2)

    def interrupt(event):
        if event.get("event") == "step" and event["step"] == 3:
            raise KeyboardInterrupt

    part = _aux_run(music, tmp_path / "part", epochs=2, on_progress=interrupt)
    assert part.status == "interrupted" and part.step == 3
    resumed = _aux_run(music, tmp_path / "part", epochs=2, resume=True)
    assert resumed.step == whole.step

    def descriptor_losses(out):
        records = map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
        return [r["descriptor_loss"] for r in records if r["kind"] == "train"]

    assert descriptor_losses(tmp_path / "part") == pytest.approx(descriptor_losses(tmp_path / "whole"), rel=1e-5)
    a = TrainState.read(whole.out_dir / "last")["aux_head"]
    b = TrainState.read(tmp_path / "part" / "last")["aux_head"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=1e-5)
