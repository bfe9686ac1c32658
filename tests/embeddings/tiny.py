"""Tiny encoders for fast tests, from one helper, and a tiny training check shared by the model tests."""

import json
from functools import partial

import torch

from embeddings.config import AugmentConfig, TrainConfig, config_from_dict
from embeddings.losses import InfoNCELoss
from embeddings.models.config import EncoderConfig


def tiny_encoder(**fields) -> EncoderConfig:
    """A tiny encoder config: 16 mel bands x 32 frames cut into 8x8 patches, width 16, one block of two
    heads, no dropout, a 12-d embedding and an 8-d projection; ``fields`` override any of it."""
    base = dict(
        n_mels=16,
        n_frames=32,
        patch_time=8,
        patch_freq=8,
        stride_time=8,
        stride_freq=8,
        d_model=16,
        n_layers=1,
        n_heads=2,
        dropout=0.0,
        embedding_dim=12,
        projection_dims=(8,),
    )
    return EncoderConfig(**{**base, **fields})


TINY = tiny_encoder()  # the checkpoint and encoder-backend tests
# the training tests' audio: 1 s fragments at 8 kHz, hop 128 -> 63 frames
TINY_TRAIN = tiny_encoder(n_frames=63, embedding_dim=16, projection_dims=(16, 8))
# the model tests' size (override more with ``TINY_MODEL(positional=...)``): two blocks, room for both archs
TINY_MODEL = partial(
    tiny_encoder,
    n_mels=32,
    n_frames=64,
    d_model=32,
    n_layers=2,
    n_heads=4,
    embedding_dim=24,
    projection_dims=(32, 16),
    cnn_channels=(16, 16),
    lstm_hidden=12,
)


def quick_train_config(**fields) -> TrainConfig:
    """A training recipe of a few seconds for the eight-track test library: batches of four pairs of
    fragments, no augmentation, a log record every step, no validation or checkpoint on the way."""
    base = dict(
        batch_size=8,
        views=2,
        warmup_steps=2,
        val_every=1000,
        checkpoint_every=4,
        log_every=1,
        pool_groups=8,
        cache_tracks=8,
        val_tracks=8,
        augment=AugmentConfig.none(),
        seed=0,
    )
    return TrainConfig(**{**base, **fields})


def fit_two_views(model: torch.nn.Module, *, n_mels: int, n_frames: int, steps: int = 15) -> list[float]:
    """Train ``model`` (a ContrastiveModel) with InfoNCE on two noisy views of four random log-mels;
    returns the loss of each step. A model whose gradients reach its weights drives it down."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, n_mels, n_frames, generator=generator)
    views = torch.cat([x, x + 0.1 * torch.randn(x.shape, generator=generator)])
    groups = torch.arange(4).repeat(2)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        _, projections = model(views)
        loss = InfoNCELoss()(projections, groups)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def check_new_train_field(config: TrainConfig, field: str) -> None:
    """``config`` survives a JSON round trip, and a checkpoint's training config written before ``field``
    existed still loads, with the field's default."""
    assert config_from_dict(TrainConfig, json.loads(json.dumps(config.to_dict()))) == config
    old = {k: v for k, v in TrainConfig().to_dict().items() if k != field}
    assert getattr(config_from_dict(TrainConfig, old), field) == getattr(TrainConfig(), field)
