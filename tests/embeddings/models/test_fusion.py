"""Fusion model: shapes, padding that changes nothing, the audio-only path for tracks without lyrics."""

from __future__ import annotations

import pytest
import torch

from embeddings.errors import ConfigError
from embeddings.models.fusion import FusionConfig, FusionModel

CONFIG = FusionConfig(audio_dim=12, text_dim=8, d_model=16, n_heads=4, n_layers=2, dropout=0.1, embedding_dim=10)


def _model(seed: int = 0) -> FusionModel:
    torch.manual_seed(seed)
    return FusionModel(CONFIG).eval()


def _inputs(seed: int, batch: int = 3, n_audio: int = 5, n_lyrics: int = 4):
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(batch, n_audio, CONFIG.audio_dim, generator=g)
    lyrics = torch.randn(batch, n_lyrics, CONFIG.text_dim, generator=g)
    return audio, torch.ones(batch, n_audio, dtype=torch.bool), lyrics, torch.ones(batch, n_lyrics, dtype=torch.bool)


def test_shapes_and_lyrics_matter():
    model = _model()
    audio, am, lyrics, lm = _inputs(0)
    fused = model(audio, am, lyrics, lm)
    assert fused.shape == (3, 10) and torch.isfinite(fused).all()
    assert model(audio, am).shape == (3, 10)
    other = model(audio, am, torch.randn_like(lyrics), lm)
    assert (fused - other).abs().max() > 1e-3  # the lyrics reach the fused vector


def test_padding_tokens_change_nothing():
    model = _model()
    audio, am, lyrics, lm = _inputs(1)
    am[1, 3:] = False  # track 1: 3 real fragments
    lm[0, 2:] = False  # track 0: 2 real lyric runs
    fused = model(audio, am, lyrics, lm)
    # replace what is under the padding by garbage and add more padded tokens: same vectors
    audio2 = torch.where(am[..., None], audio, torch.full_like(audio, 1e3))
    lyrics2 = torch.where(lm[..., None], lyrics, torch.randn_like(lyrics) * 50)
    audio2 = torch.cat([audio2, torch.randn(3, 4, CONFIG.audio_dim)], dim=1)
    am2 = torch.cat([am, torch.zeros(3, 4, dtype=torch.bool)], dim=1)
    lyrics2 = torch.cat([lyrics2, torch.randn(3, 2, CONFIG.text_dim)], dim=1)
    lm2 = torch.cat([lm, torch.zeros(3, 2, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(model(audio2, am2, lyrics2, lm2), fused, atol=1e-5, rtol=1e-5)
    # and a track's vector does not depend on the others in its batch
    alone = model(audio[1:2, :3], am[1:2, :3], lyrics[1:2], lm[1:2])
    torch.testing.assert_close(alone, fused[1:2], atol=1e-5, rtol=1e-5)


def test_missing_lyrics_is_the_audio_only_path():
    model = _model()
    audio, am, lyrics, lm = _inputs(2)
    lm[1] = False  # track 1 has no lyrics
    lyrics[1] = float("nan")  # whatever sits in its lyric slots is never read
    fused = model(audio, am, lyrics, lm)
    audio_only = model(audio, am)
    assert torch.isfinite(fused).all()
    torch.testing.assert_close(fused[1], audio_only[1], atol=1e-6, rtol=1e-6)
    assert (fused[0] - audio_only[0]).abs().max() > 1e-3


def test_gradients_stay_finite_with_a_track_without_lyrics():
    model = _model().train()
    audio, am, lyrics, lm = _inputs(3)
    lm[2] = False
    am[0, 4:] = False
    model(audio, am, lyrics, lm).pow(2).sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_bad_inputs_are_refused():
    model = _model()
    audio, am, lyrics, lm = _inputs(4)
    with pytest.raises(ConfigError, match=r"audio must be \(B, N, 12\)"):
        model(audio[..., :5], am)
    with pytest.raises(ConfigError, match="lyrics_mask must be bool"):
        model(audio, am, lyrics, lm[:, :2])
    with pytest.raises(ConfigError, match="lyrics need a lyrics_mask"):
        model(audio, am, lyrics)
    am[0] = False
    with pytest.raises(ConfigError, match="at least one audio token"):
        model(audio, am)
    with pytest.raises(ConfigError, match="divisible by n_heads"):
        FusionConfig(audio_dim=4, d_model=10, n_heads=4)
