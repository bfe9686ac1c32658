"""The seeds' CNN+LSTM backbone, kept for comparison with the Transformer.

    log-mel (B, n_mels, n_frames)           mel bins are the input channels
      -> per-fragment standardisation
      -> [Conv1d(k=3) -> BatchNorm -> ReLU -> MaxPool(2)] x len(cnn_channels)   over time
      -> bidirectional LSTM(lstm_hidden)    (B, n_frames / 2^L, 2 * lstm_hidden)
      -> mean over time, linear             (B, embedding_dim)

It has no positional encoding to extrapolate: convolutions and the LSTM run over any length,
so longer inputs work as they are; the mean over time makes the output length-independent.
"""

from __future__ import annotations

import torch
from torch import nn

from embeddings.errors import ConfigError
from embeddings.models.config import EncoderConfig
from embeddings.models.transformer import normalise_input


class CnnLstmEncoder(nn.Module):
    """Log-mels ``(B, n_mels, n_frames)`` -> pooled embeddings ``(B, embedding_dim)``."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        if config.arch != "cnn-lstm":
            raise ConfigError(f"CnnLstmEncoder needs arch='cnn-lstm', got {config.arch!r}")
        self.config = config
        layers: list[nn.Module] = []
        channels = config.n_mels
        for width in config.cnn_channels:
            layers += [
                nn.Conv1d(channels, width, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm1d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool1d(2, ceil_mode=True),
            ]
            channels = width
        self.cnn = nn.Sequential(*layers)
        self.lstm = nn.LSTM(channels, config.lstm_hidden, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(config.dropout)
        self.to_embedding = nn.Linear(2 * config.lstm_hidden, config.embedding_dim)

    def forward(self, log_mels: torch.Tensor) -> torch.Tensor:
        if log_mels.dim() != 3 or log_mels.shape[1] != self.config.n_mels:
            raise ConfigError(
                f"expected log-mels (batch, n_mels={self.config.n_mels}, n_frames), got {tuple(log_mels.shape)}"
            )
        x = self.cnn(normalise_input(log_mels, self.config))  # (B, C, T')
        x, _ = self.lstm(x.transpose(1, 2))  # (B, T', 2 * hidden)
        return self.to_embedding(self.drop(x.mean(dim=1)))
