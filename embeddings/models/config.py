"""Frozen configuration of an encoder: everything needed to rebuild it from a checkpoint.

``EncoderConfig`` -> ``build_encoder(config)``. A checkpoint stores ``asdict(config)`` so that
``ctk embed`` can rebuild the exact network knowing nothing of the training flags.
"""

from __future__ import annotations

from dataclasses import dataclass

from embeddings.config import require_one_of, require_positive
from embeddings.errors import ConfigError

ARCHITECTURES = ("transformer", "cnn-lstm")
POSITIONALS = ("alibi1d", "alibi2d", "rope1d", "rope2d", "learned", "none")
INPUT_NORMS = ("fragment", "fixed")
#: fields added after the first checkpoints; recorded in a backend description only when not at their
#: default, so a library embedded with an older checkpoint keeps its model id
LATER_FIELDS = {"input_norm": "fragment", "input_mean_db": -20.0, "input_std_db": 18.0}


@dataclass(frozen=True)
class EncoderConfig:
    """Shape of the encoder and its projection head.

    Transformer fields: the log-mel ``(n_mels, n_frames)`` is cut into patches of ``patch_freq`` mel bins
    x ``patch_time`` frames taken every ``stride_freq`` x ``stride_time`` (equal sizes: no overlap), each
    patch becomes one token of width ``d_model``; ``n_layers`` pre-norm blocks of ``n_heads`` heads with an
    MLP of ``mlp_ratio * d_model``; ``dropout`` on the residual branches (0 by default: the augmentations
    regularise a contrastive model, and on a CPU every dropout mask costs time). ``n_frames`` is the
    fragment length the model is trained on: it only sizes the ``learned`` position table (longer inputs
    interpolate it); the other variants need no size.

    CNN+LSTM fields: ``cnn_channels`` Conv1d layers over time with the mel bins as input channels, each
    followed by max-pooling by 2, then an LSTM of ``lstm_hidden`` units (bidirectional).

    Both: the mean-pooled track-level vector has ``embedding_dim`` dimensions (the embedding ``ctk embed``
    stores); ``projection_dims`` are the hidden and output widths of the projection head, used for the
    training loss only.

    Input: ``input_norm="fragment"`` standardises each log-mel fragment over all its bins (the model is
    blind to level); ``"fixed"`` maps dB by one fixed affine map, ``(x - input_mean_db) / input_std_db``
    (defaults: the mean and std of the dev corpus's log-mel bins), so level and dynamics stay visible.
    """

    arch: str = "transformer"
    positional: str = "alibi2d"
    n_mels: int = 128
    n_frames: int = 431
    patch_time: int = 16
    patch_freq: int = 16
    stride_time: int = 16
    stride_freq: int = 16
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.0
    embedding_dim: int = 256
    projection_dims: tuple[int, ...] = (256, 128)
    cnn_channels: tuple[int, ...] = (128, 128, 128)
    lstm_hidden: int = 128
    input_norm: str = "fragment"
    input_mean_db: float = -20.0
    input_std_db: float = 18.0

    def __post_init__(self) -> None:
        # JSON round trips turn tuples into lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "projection_dims", tuple(int(d) for d in self.projection_dims))
        object.__setattr__(self, "cnn_channels", tuple(int(c) for c in self.cnn_channels))
        require_one_of(ARCHITECTURES, arch=self.arch)
        require_one_of(INPUT_NORMS, input_norm=self.input_norm)
        require_one_of(POSITIONALS, positional=self.positional)
        require_positive(
            n_mels=self.n_mels,
            n_frames=self.n_frames,
            patch_time=self.patch_time,
            patch_freq=self.patch_freq,
            stride_time=self.stride_time,
            stride_freq=self.stride_freq,
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            embedding_dim=self.embedding_dim,
            lstm_hidden=self.lstm_hidden,
            mlp_ratio=self.mlp_ratio,
            input_std_db=self.input_std_db,
        )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout={self.dropout} must be in [0, 1)")
        if self.arch == "transformer":
            if self.patch_freq > self.n_mels:
                raise ConfigError(f"patch_freq={self.patch_freq} is larger than n_mels={self.n_mels}")
            if self.d_model % self.n_heads:
                raise ConfigError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
            head_dim = self.d_model // self.n_heads
            needed = 4 if self.positional == "rope2d" else 2
            if self.positional.startswith("rope") and head_dim % needed:
                raise ConfigError(
                    f"{self.positional} needs a head dimension divisible by {needed}; "
                    f"d_model={self.d_model} / n_heads={self.n_heads} = {head_dim}"
                )
        if not self.projection_dims or any(d <= 0 for d in self.projection_dims):
            raise ConfigError(f"projection_dims={list(self.projection_dims)} must be non-empty and positive")
        if not self.cnn_channels or any(c <= 0 for c in self.cnn_channels):
            raise ConfigError(f"cnn_channels={list(self.cnn_channels)} must be non-empty and positive")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def grid(self, n_frames: int) -> tuple[int, int]:
        """Patch grid ``(n_freq_patches, n_time_patches)`` of a ``(n_mels, n_frames)`` input.

        Inputs shorter than one patch are padded to one patch by the model.
        """
        n_frames = max(n_frames, self.patch_time)
        n_freq = (self.n_mels - self.patch_freq) // self.stride_freq + 1
        n_time = (n_frames - self.patch_time) // self.stride_time + 1
        return n_freq, n_time
