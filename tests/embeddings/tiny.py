"""The tiny encoder configurations shared by the checkpoint, encoder-backend and training tests."""

from dataclasses import replace

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

# the training tests' audio: 1 s fragments at 8 kHz, hop 128 -> 63 frames
TINY_TRAIN = replace(TINY, n_frames=63, embedding_dim=16, projection_dims=(16, 8))
