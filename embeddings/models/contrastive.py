"""Encoder + projection head (+ optional tag head): the network that is trained.

``forward`` returns both the pooled embeddings (what ``ctk embed`` stores) and the projections
(what the contrastive loss sees); a checkpoint holds the whole module, ``embed`` uses the encoder.
"""

from __future__ import annotations

import torch
from torch import nn

from embeddings.models.cnn_lstm import CnnLstmEncoder
from embeddings.models.config import EncoderConfig
from embeddings.models.heads import ProjectionHead, TagHead
from embeddings.models.transformer import SpectrogramTransformer


class ContrastiveModel(nn.Module):
    """``(B, n_mels, n_frames)`` -> ``(embeddings (B, embedding_dim), projections (B, projection_dims[-1]))``."""

    def __init__(self, config: EncoderConfig, *, n_tags: int = 0) -> None:
        super().__init__()
        self.config = config
        self.encoder = CnnLstmEncoder(config) if config.arch == "cnn-lstm" else SpectrogramTransformer(config)
        self.head = ProjectionHead([config.embedding_dim, *config.projection_dims])
        self.tag_head = TagHead(config.embedding_dim, n_tags) if n_tags else None

    def forward(self, log_mels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings = self.encoder(log_mels)
        return embeddings, self.head(embeddings)
