"""Audio + lyrics -> one fused track vector, read top to bottom.

    audio fragment vectors (B, Na, audio_dim)      lyric segment vectors (B, Nt, text_dim)
      -> linear to d_model                           -> linear to d_model
      -> n_layers self-attention (audio only)        -> n_layers self-attention (lyrics only)
      -> audio attends to lyrics (cross)             <- lyrics attend to audio (cross)
         a + CrossAttn(a, t), LayerNorm                 t + CrossAttn(t, a), LayerNorm
      -> masked mean over every real token of both modalities          (B, d_model)
      -> LayerNorm, linear                                              (B, embedding_dim)

Audio tokens are the fragment vectors the store already holds (any audio model's), lyric tokens are the
text encoder's vectors of runs of lyric lines (:func:`embeddings.text_encoder.lyric_segments`), so the
fusion model trains and runs on stored vectors without decoding audio. The design follows the
"self-attention within each modality, cross-attention between them, pool" pattern of audio-lyrics
fusion models (e.g. the cross-modal Transformer of Tsai et al., "Multimodal Transformer for Unaligned
Multimodal Language Sequences", ACL 2019), at ctk's small size.

Padding: ``audio_mask`` / ``lyrics_mask`` are ``True`` on real tokens. Padded tokens are masked out of
every attention and out of the mean, so appending padding never changes a track's vector. A track
without lyrics (``lyrics_mask`` all False, or ``lyrics=None`` for the whole batch) takes the audio-only
path: no cross-attention term is added and only its audio tokens are pooled, exactly what
:meth:`FusionModel.forward` computes with ``lyrics=None``. Every row keeps at least one unmasked key in
each attention (an all-masked row would be NaN), and those rows' results are discarded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from embeddings.errors import CheckpointError, ConfigError
from embeddings.fusion_config import FusionConfig

__all__ = ["FusionConfig", "FusionModel", "load_fusion", "masked_mean", "save_fusion"]


def _self_attention(config: FusionConfig) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        config.d_model, config.n_heads, dim_feedforward=2 * config.d_model, dropout=config.dropout,
        batch_first=True, norm_first=True,
    )
    return nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)


def _safe_padding(mask: torch.Tensor) -> torch.Tensor:
    """Key-padding mask for ``nn.MultiheadAttention`` (True = ignore) that leaves key 0 open on rows with
    no real token, so their attention stays finite (those rows' results are discarded)."""
    padding = ~mask
    empty = ~mask.any(dim=1)
    padding[:, 0] &= ~empty
    return padding


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` ``(B, N, D)`` over the tokens where ``mask`` ``(B, N)`` is True -> ``(B, D)``."""
    kept = torch.where(mask.unsqueeze(-1), x, torch.zeros_like(x))
    return kept.sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp_min(1).to(x.dtype)


class FusionModel(nn.Module):
    """Fused track vectors from audio fragment tokens and lyric segment tokens (see the module docstring)."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.audio_in = nn.Linear(config.audio_dim, d)
        self.lyrics_in = nn.Linear(config.text_dim, d)
        self.audio_self = _self_attention(config)
        self.lyrics_self = _self_attention(config)
        self.audio_from_lyrics = nn.MultiheadAttention(d, config.n_heads, dropout=config.dropout, batch_first=True)
        self.lyrics_from_audio = nn.MultiheadAttention(d, config.n_heads, dropout=config.dropout, batch_first=True)
        self.audio_norm = nn.LayerNorm(d)
        self.lyrics_norm = nn.LayerNorm(d)
        self.out_norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, config.embedding_dim)

    def _check(self, name: str, x: torch.Tensor, mask: torch.Tensor, dim: int) -> None:
        if x.ndim != 3 or x.shape[-1] != dim:
            raise ConfigError(f"FusionModel: {name} must be (B, N, {dim}), got {tuple(x.shape)}")
        if mask.shape != x.shape[:2] or mask.dtype != torch.bool:
            raise ConfigError(f"FusionModel: {name}_mask must be bool {tuple(x.shape[:2])}, got {tuple(mask.shape)}")

    def forward(
        self,
        audio: torch.Tensor,
        audio_mask: torch.Tensor,
        lyrics: torch.Tensor | None = None,
        lyrics_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``audio`` ``(B, Na, audio_dim)`` + ``audio_mask`` ``(B, Na)``, optional ``lyrics`` ``(B, Nt, text_dim)``
        + ``lyrics_mask`` ``(B, Nt)`` (True = real token) -> fused vectors ``(B, embedding_dim)``."""
        self._check("audio", audio, audio_mask, self.config.audio_dim)
        if not bool(audio_mask.any(dim=1).all()):
            raise ConfigError("FusionModel: every track needs at least one audio token")
        audio = audio.masked_fill(~audio_mask.unsqueeze(-1), 0.0)  # padding never reaches a number
        a = self.audio_self(self.audio_in(audio), src_key_padding_mask=~audio_mask)
        if lyrics is None:
            return self._pool(self.audio_norm(a), audio_mask)
        if lyrics_mask is None:
            raise ConfigError("FusionModel: lyrics need a lyrics_mask")
        self._check("lyrics", lyrics, lyrics_mask, self.config.text_dim)
        has_lyrics = lyrics_mask.any(dim=1)  # (B,)
        lyrics = lyrics.masked_fill(~lyrics_mask.unsqueeze(-1), 0.0)
        lyrics_padding = _safe_padding(lyrics_mask)
        t = self.lyrics_self(self.lyrics_in(lyrics), src_key_padding_mask=lyrics_padding)
        heard, _ = self.audio_from_lyrics(a, t, t, key_padding_mask=lyrics_padding, need_weights=False)
        read, _ = self.lyrics_from_audio(t, a, a, key_padding_mask=~audio_mask, need_weights=False)
        heard = torch.where(has_lyrics[:, None, None], heard, torch.zeros_like(heard))
        a = self.audio_norm(a + heard)
        t = self.lyrics_norm(t + read)
        return self._pool(torch.cat([a, t], dim=1), torch.cat([audio_mask, lyrics_mask], dim=1))

    def _pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.out(self.out_norm(masked_mean(tokens, mask)))


#: Files of a fusion checkpoint folder.
FUSION_FORMAT = "ctk-fusion"
FUSION_WEIGHTS = "fusion.safetensors"
FUSION_CONFIG = "fusion.json"


def save_fusion(model: FusionModel, out_dir: str | Path, *, info: dict[str, Any]) -> Path:
    """Write ``fusion.safetensors`` and ``fusion.json`` (format, config, weights hash and ``info``: the audio
    and text models the tokens came from, steps, losses) into ``out_dir``; returns the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / FUSION_WEIGHTS
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(weights))
    meta = {"format": FUSION_FORMAT, "version": 1, "config": model.config.to_dict(),
            "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), **info}
    (out / FUSION_CONFIG).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def load_fusion(path: str | Path) -> tuple[FusionModel, dict[str, Any]]:
    """The model saved by :func:`save_fusion` in eval mode, and its ``fusion.json``; a missing, foreign or
    altered checkpoint is a :class:`CheckpointError` naming the file."""
    folder = Path(path)
    meta_path, weights = folder / FUSION_CONFIG, folder / FUSION_WEIGHTS
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        raw = weights.read_bytes()
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{folder}: not a fusion checkpoint ({exc.__class__.__name__}: {exc})") from None
    if meta.get("format") != FUSION_FORMAT:
        raise CheckpointError(f"{meta_path}: format {meta.get('format')!r} is not {FUSION_FORMAT!r}")
    if hashlib.sha256(raw).hexdigest() != meta.get("weights_sha256"):
        raise CheckpointError(f"{weights}: weights do not match the hash in {FUSION_CONFIG} (altered or cut)")
    model = FusionModel(FusionConfig(**meta["config"]))
    model.load_state_dict(load_file(str(weights)))
    return model.eval(), meta
