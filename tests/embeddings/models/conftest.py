import pytest

from embeddings.models.config import EncoderConfig


@pytest.fixture
def tiny():
    """A tiny encoder config for fast tests; override fields with ``tiny(positional=...)``."""

    def make(**kwargs):
        base = dict(
            n_mels=32,
            n_frames=64,
            patch_time=8,
            patch_freq=8,
            stride_time=8,
            stride_freq=8,
            d_model=32,
            n_layers=2,
            n_heads=4,
            dropout=0.0,
            embedding_dim=24,
            projection_dims=(32, 16),
            cnn_channels=(16, 16),
            lstm_hidden=12,
        )
        base.update(kwargs)
        return EncoderConfig(**base)

    return make
