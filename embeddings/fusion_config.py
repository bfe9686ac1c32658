"""The fusion model's configs, torch-free (``ctk train-fusion --help`` reads its defaults from here).

``FusionConfig`` -> :class:`embeddings.models.fusion.FusionModel`; ``FusionTrainConfig`` ->
:func:`embeddings.training.fusion.train_fusion`. Both are stored in a fusion checkpoint's ``fusion.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from embeddings.config import require_one_of, require_positive
from embeddings.errors import ConfigError

__all__ = ["NEGATIVE_WEIGHTS", "FusionConfig", "FusionTrainConfig"]

#: ``FusionTrainConfig.negative_weights``: plain InfoNCE, or Soft InfoNCE weighted by lyric similarity.
NEGATIVE_WEIGHTS = ("none", "lyrics")


@dataclass(frozen=True)
class FusionConfig:
    """Sizes of the fusion model: input widths, ``d_model``, heads, self-attention layers per modality,
    dropout, and the width of the fused vector."""

    audio_dim: int
    text_dim: int = 384
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 1
    dropout: float = 0.1
    embedding_dim: int = 128

    def __post_init__(self) -> None:
        require_positive(audio_dim=self.audio_dim, text_dim=self.text_dim, d_model=self.d_model, n_heads=self.n_heads,
                         n_layers=self.n_layers, embedding_dim=self.embedding_dim)
        if self.d_model % self.n_heads:
            raise ConfigError(f"FusionConfig d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"FusionConfig dropout={self.dropout} must be in [0, 1)")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class FusionTrainConfig:
    """Steps, batch, AdamW, temperature; each audio view holds at most ``max_audio_tokens`` fragments, each
    lyric run is dropped from the fused view with ``lyric_dropout``."""

    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    temperature: float = 0.1
    max_audio_tokens: int = 16
    lyric_dropout: float = 0.1
    negative_weights: str = "none"
    beta: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        require_positive(steps=self.steps, lr=self.lr, temperature=self.temperature,
                         max_audio_tokens=self.max_audio_tokens)
        require_one_of(NEGATIVE_WEIGHTS, negative_weights=self.negative_weights)
        if self.batch_size < 2 or not 0 <= self.lyric_dropout < 1:
            raise ConfigError(
                f"batch_size={self.batch_size} must be >= 2, lyric_dropout={self.lyric_dropout} in [0, 1)"
            )
