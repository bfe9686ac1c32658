"""Encoders (log-mels -> pooled embeddings) and the heads used while training them."""

from __future__ import annotations

from torch import nn

from embeddings.models.cnn_lstm import CnnLstmEncoder
from embeddings.models.config import EncoderConfig
from embeddings.models.contrastive import ContrastiveModel
from embeddings.models.heads import ProjectionHead, TagHead
from embeddings.models.transformer import SpectrogramTransformer

__all__ = [
    "CnnLstmEncoder",
    "ContrastiveModel",
    "EncoderConfig",
    "ProjectionHead",
    "SpectrogramTransformer",
    "TagHead",
    "build_encoder",
]


def build_encoder(config: EncoderConfig) -> nn.Module:
    """The encoder named by ``config.arch``: ``(B, n_mels, n_frames) -> (B, embedding_dim)``."""
    if config.arch == "cnn-lstm":
        return CnnLstmEncoder(config)
    return SpectrogramTransformer(config)
