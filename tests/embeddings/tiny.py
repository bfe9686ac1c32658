"""The tiny encoder configuration shared by the checkpoint and encoder-backend tests."""

from embeddings.models.config import EncoderConfig

TINY = EncoderConfig(
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
