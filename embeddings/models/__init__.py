"""Encoders (log-mels -> pooled embeddings) and the heads used while training them.

The torch modules are imported on first use, so ``from embeddings.models.config import EncoderConfig``
(the CLI's option defaults) imports no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from embeddings.models.config import EncoderConfig

if TYPE_CHECKING:
    from torch import nn

    from embeddings.models.cnn_lstm import CnnLstmEncoder
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

_HOMES = {
    "CnnLstmEncoder": "cnn_lstm",
    "ContrastiveModel": "contrastive",
    "ProjectionHead": "heads",
    "TagHead": "heads",
    "SpectrogramTransformer": "transformer",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"embeddings.models.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'embeddings.models' has no attribute {name!r}")


def build_encoder(config: EncoderConfig) -> nn.Module:
    """The encoder named by ``config.arch``: ``(B, n_mels, n_frames) -> (B, embedding_dim)``."""
    if config.arch == "cnn-lstm":
        from embeddings.models.cnn_lstm import CnnLstmEncoder

        return CnnLstmEncoder(config)
    from embeddings.models.transformer import SpectrogramTransformer

    return SpectrogramTransformer(config)
