"""train_fusion on small stored-vector tracks: it learns, saves a checkpoint that reloads exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from embeddings.errors import CheckpointError, ConfigError
from embeddings.models.fusion import FusionConfig, load_fusion
from embeddings.training.fusion import FusionTrack, FusionTrainConfig, fuse, train_fusion

MODEL = FusionConfig(audio_dim=8, text_dim=6, d_model=16, n_heads=2, n_layers=1, dropout=0.0, embedding_dim=8)


@pytest.fixture(autouse=True)
def _one_thread():
    """A model this small trains fastest on one thread (the suite shares a busy CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tracks(n: int = 12, seed: int = 0) -> list[FusionTrack]:
    """Each track: fragments scattered around its own centre; lyrics on every other track."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        centre = rng.normal(size=MODEL.audio_dim)
        audio = (centre + 0.3 * rng.normal(size=(int(rng.integers(3, 7)), MODEL.audio_dim))).astype(np.float32)
        lyrics = rng.normal(size=(int(rng.integers(1, 4)), MODEL.text_dim)).astype(np.float32) if i % 2 else None
        out.append(FusionTrack(audio=audio, lyrics=lyrics, group=f"g{i // 4}" if i < 8 else None))
    return out


@pytest.mark.parametrize("weights", ["none", "lyrics"])
def test_loss_falls_and_checkpoint_reloads(tmp_path, weights):
    tracks = _tracks()
    config = FusionTrainConfig(steps=60, batch_size=8, lr=3e-3, negative_weights=weights, seed=1)
    result = train_fusion(tracks, model_config=MODEL, config=config, out_dir=tmp_path / "fusion",
                          info={"audio_model": "test-audio"})
    first, last = np.mean(result.losses[:10]), np.mean(result.losses[-10:])
    assert last < first - 0.2, (first, last)
    records = [json.loads(line) for line in (tmp_path / "fusion" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 61))
    model, meta = load_fusion(tmp_path / "fusion")
    assert meta["audio_model"] == "test-audio" and meta["training"]["negative_weights"] == weights
    np.testing.assert_allclose(fuse(model, tracks), fuse(result.model, tracks), atol=1e-6)


def test_same_seed_same_run():
    config = FusionTrainConfig(steps=5, batch_size=6, seed=3)
    a = train_fusion(_tracks(), model_config=MODEL, config=config).losses
    b = train_fusion(_tracks(), model_config=MODEL, config=config).losses
    assert a == b


def test_fuse_without_lyrics_is_the_audio_only_vector():
    tracks = _tracks()
    model = train_fusion(tracks, model_config=MODEL, config=FusionTrainConfig(steps=3, batch_size=4)).model
    fused, audio_only = fuse(model, tracks, batch_size=5), fuse(model, tracks, lyrics=False)
    assert fused.shape == (12, 8) and np.isfinite(fused).all()
    np.testing.assert_allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-5)
    no_lyrics = [i for i, t in enumerate(tracks) if t.lyrics is None]
    np.testing.assert_allclose(fused[no_lyrics], audio_only[no_lyrics], atol=1e-6)
    with_lyrics = [i for i, t in enumerate(tracks) if t.lyrics is not None]
    assert np.abs(fused[with_lyrics] - audio_only[with_lyrics]).max() > 1e-3


def test_altered_checkpoint_and_bad_tracks_are_refused(tmp_path):
    train_fusion(_tracks(), model_config=MODEL, config=FusionTrainConfig(steps=2, batch_size=4), out_dir=tmp_path)
    weights = tmp_path / "fusion.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8])
    with pytest.raises(CheckpointError, match="do not match the hash"):
        load_fusion(tmp_path)
    with pytest.raises(CheckpointError, match="not a fusion checkpoint"):
        load_fusion(tmp_path / "nowhere")
    bad = [FusionTrack(audio=np.zeros((2, 5), np.float32))] * 3
    with pytest.raises(ConfigError, match=r"track 0: audio must be \(n >= 1, 8\)"):
        train_fusion(bad, model_config=MODEL)
    with pytest.raises(ConfigError, match="negative_weights='tags'"):
        FusionTrainConfig(negative_weights="tags")
