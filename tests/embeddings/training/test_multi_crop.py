"""Multi-crop (``TrainConfig.local_crops``): each item gives half-length local crops that join its group in the
loss; the run trains, resumes-compatible configs load, and the exported encoder embeds full fragments."""

import json

import numpy as np
import pytest
import torch

from embeddings.backends.encoder import EncoderBackend
from embeddings.config import TrainConfig
from embeddings.errors import ConfigError
from embeddings.training import train
from embeddings.training.data import Batch
from embeddings.training.train import local_crops
from tests.embeddings.tiny import check_new_train_field, quick_train_config


def test_config_checks_and_old_checkpoints_load():
    config = TrainConfig(local_crops=2)
    check_new_train_field(config, "local_crops")
    with pytest.raises(ConfigError, match="local_crops=-1 must be >= 0"):
        TrainConfig(local_crops=-1)


class _Run:
    def __init__(self, config):
        self.config, self.device = config, "cpu"


class _State:
    aug_rng = torch.Generator().manual_seed(0)


def test_local_crops_are_half_length_and_ordered_by_crop():
    mels = torch.randn(6, 16, 40)
    batch = Batch(mels=mels, group_ids=torch.tensor([0, 0, 1, 1, 2, 2]), tracks=torch.arange(6), epoch=0,
                  planner_state={})
    config = quick_train_config(local_crops=2)
    crops = local_crops(_Run(config), _State(), batch)
    assert crops.shape == (12, 16, 20)
    # no augmentation but the crop: every local crop is a window of its own item
    for k in range(12):
        item = mels[k % 6]
        windows = item.unfold(1, 20, 1).permute(1, 0, 2)  # (21, 16, 20)
        assert any(torch.equal(crops[k], w) for w in windows)
    assert local_crops(_Run(quick_train_config()), _State(), batch) is None


def test_a_multi_crop_run_trains_and_exports_a_full_length_encoder(music, tiny_audio, tiny_fragments, tiny_encoder,
                                                                   tmp_path):
    config = quick_train_config(local_crops=2, epochs=4, lr=3e-3)
    result = train(music, out_dir=tmp_path / "run", encoder=tiny_encoder, config=config, audio=tiny_audio,
                   fragments=tiny_fragments)
    assert result.status == "finished"
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = np.array([r["loss"] for r in records if r["kind"] == "train"])
    assert len(losses) >= 4 and np.isfinite(losses).all()
    backend = EncoderBackend.from_checkpoint(result.out_dir)
    full = np.zeros((3, tiny_encoder.n_mels, tiny_encoder.n_frames), np.float32)
    assert backend.embed(full).shape == (3, tiny_encoder.embedding_dim)
