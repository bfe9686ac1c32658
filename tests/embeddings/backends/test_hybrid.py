"""The ``hybrid`` backend: a standardised encoder vector beside the `features` vector of the same fragment."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from embeddings.backends import DEFAULT_BACKEND, load_backend, model_id
from embeddings.backends.base import EmbeddingBackend
from embeddings.backends.encoder import EncoderBackend
from embeddings.backends.features import FeaturesBackend, feature_descriptors, write_feature_stats
from embeddings.backends.hybrid import (
    POOLING_STATS_FILE,
    STATS_FILE,
    HybridBackend,
    sha256_of,
    write_embedding_stats,
    write_pooling_stats,
)
from embeddings.checkpoint import save_checkpoint
from embeddings.config import AudioConfig, FragmentConfig
from embeddings.errors import CheckpointError
from embeddings.melspec import log_mel
from embeddings.models import ContrastiveModel
from tests.embeddings.tiny import TINY

AUDIO = AudioConfig()  # the features need ctk's front end (their contrast bands reach 12.8 kHz)
SR = AUDIO.sample_rate
ENCODER = replace(TINY, n_mels=AUDIO.n_mels, n_frames=44)


def fragments(n: int, seed: int = 0) -> np.ndarray:
    """``n`` log-mel fragments of 1 s: tones with a beat at several levels (level differs per fragment)."""
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    ys = [
        rng.uniform(0.05, 0.8) * np.sin(2 * np.pi * rng.uniform(100, 2000) * t)
        * (np.sin(2 * np.pi * rng.uniform(1, 6) * t) > 0)
        + 0.01 * rng.standard_normal(SR)
        for _ in range(n)
    ]
    return log_mel(np.stack(ys).astype(np.float32), config=AUDIO).numpy()


@pytest.fixture
def model_dir(tmp_path):
    """A tiny encoder checkpoint with embedding statistics fitted on 40 fragments, and features statistics
    for the same front end."""
    torch.manual_seed(0)
    model = ContrastiveModel(ENCODER).eval()
    path = save_checkpoint(tmp_path / "enc", module=model.encoder, name="tiny", contents="encoder",
                           encoder=ENCODER, audio=AUDIO, fragments=FragmentConfig())
    fit = fragments(40)
    encoder = EncoderBackend.from_checkpoint(path)
    write_embedding_stats(path / STATS_FILE, encoder.embed(fit), weights_sha256=encoder.checkpoint.weights_sha256,
                          fitted_on={"folder": "synthetic"})
    write_feature_stats(tmp_path / "features.json", feature_descriptors(fit, audio=AUDIO), audio=AUDIO,
                        fitted_on={"folder": "synthetic"})
    return path, tmp_path / "features.json", fit


def hybrid(model_dir, **kwargs) -> HybridBackend:
    path, features_stats, _ = model_dir
    features = FeaturesBackend(AUDIO, stats_path=features_stats)
    return HybridBackend(EncoderBackend.from_checkpoint(path), features, **kwargs)


def test_concatenates_the_standardised_blocks_scaled_to_equal_weight(model_dir):
    backend = hybrid(model_dir)
    assert isinstance(backend, EmbeddingBackend)
    x = fragments(6, seed=1)
    out = backend.embed(x)
    assert out.shape == (6, 12 + backend.features.dim) == (6, backend.dim) and out.dtype == np.float32
    stats = json.loads((model_dir[0] / STATS_FILE).read_text())
    e = (backend.encoder.embed(x) - np.array(stats["mean"])) / np.array(stats["std"]) / np.sqrt(12)
    f = backend.features.embed(x) / np.sqrt(backend.features.dim)
    learned, feats = backend.split(out)
    assert np.allclose(learned, e, atol=1e-5) and np.allclose(feats, f, atol=1e-5)
    # on the fragments the statistics were fitted on, each block has mean squared norm 1: neither dominates
    fitted = backend.embed(model_dir[2])
    learned, feats = backend.split(fitted)
    assert np.mean((learned**2).sum(axis=1)) == pytest.approx(1.0, rel=1e-3)
    assert np.mean((feats**2).sum(axis=1)) == pytest.approx(1.0, rel=1e-3)


def test_track_vectors_are_the_combined_track_vectors_of_both_backends(model_dir):
    backend = hybrid(model_dir)
    x = fragments(5, seed=2)
    pooled = backend.embed(x).mean(axis=0, keepdims=True)
    combined = backend.combine(backend.encoder.embed(x).mean(axis=0, keepdims=True),
                               backend.features.embed(x).mean(axis=0, keepdims=True))
    assert np.allclose(pooled, combined, atol=1e-5)


def test_block_weights_shift_the_balance(model_dir):
    x = fragments(4, seed=3)
    even, leaning = hybrid(model_dir).embed(x), hybrid(model_dir, learned_weight=2.0).embed(x)
    assert np.allclose(leaning[:, :12], 2 * even[:, :12], atol=1e-5)
    assert np.allclose(leaning[:, 12:], even[:, 12:])
    assert model_id(hybrid(model_dir).describe()) != model_id(hybrid(model_dir, learned_weight=2.0).describe())


def test_statistics_of_other_weights_or_missing_are_refused(model_dir, tmp_path):
    path, features_stats, fit = model_dir
    torch.manual_seed(1)
    other = save_checkpoint(tmp_path / "other", module=ContrastiveModel(ENCODER).encoder, name="tiny",
                            contents="encoder", encoder=ENCODER, audio=AUDIO, fragments=FragmentConfig())
    with pytest.raises(CheckpointError, match="embedding_stats.json.*fit them with"):
        HybridBackend(EncoderBackend.from_checkpoint(other))
    (other / STATS_FILE).write_text((path / STATS_FILE).read_text())
    with pytest.raises(CheckpointError, match="fitted for other weights"):
        HybridBackend(EncoderBackend.from_checkpoint(other))


def test_load_backend_builds_hybrid_from_a_checkpoint_path(model_dir):
    path = model_dir[0]
    with pytest.raises(CheckpointError, match="hybrid: .*nowhere: no such checkpoint folder"):
        load_backend(f"hybrid:{path.parent / 'nowhere'}")
    backend = load_backend(f"hybrid:{path}")  # with the shipped features statistics
    assert backend.dim == 12 + FeaturesBackend().dim and backend.encoder.checkpoint.path == path


def test_bundled_hybrid_has_both_blocks():
    assert DEFAULT_BACKEND == "hybrid+std" and load_backend("hybrid+std").dim == 2 * 256 + FeaturesBackend().dim
    backend = load_backend("hybrid")
    assert backend.name == "hybrid" and backend.dim == 256 + FeaturesBackend().dim
    x = log_mel(np.random.default_rng(0).normal(0, 0.1, (2, 10 * 22050)).astype(np.float32), config=backend.audio)
    out = backend.embed(x.numpy())
    assert out.shape == (2, backend.dim) and np.isfinite(out).all()


def with_pooling_stats(model_dir, weight: float = 0.5):
    """``pooling_stats.json`` fitted on 8 tracks of 5 fragments each; returns the per-track stds it was fitted on."""
    path, _, fit = model_dir
    base = hybrid(model_dir)
    stds = np.stack([base.standardised(base.encoder.embed(fit[i : i + 5])).std(axis=0) for i in range(0, 40, 5)])
    write_pooling_stats(path / POOLING_STATS_FILE, stds, weight=weight,
                        weights_sha256=base.encoder.checkpoint.weights_sha256,
                        embedding_stats_sha256=sha256_of(path / STATS_FILE), fitted_on={"folder": "synthetic"})
    return stds


def test_mean_std_pooling_adds_the_standardised_std_block_to_track_vectors_only(model_dir):
    stds = with_pooling_stats(model_dir, weight=0.5)
    plain, pooled = hybrid(model_dir), hybrid(model_dir, pooling="mean+std")
    assert pooled.dim == plain.dim + 12
    x = fragments(5, seed=4)
    frags = pooled.embed(x)
    np.testing.assert_array_equal(frags[:, : plain.dim], plain.embed(x))
    assert not frags[:, plain.dim :].any()  # a fragment has no spread: fragment cosines are hybrid's
    track = pooled.pool(frags)
    np.testing.assert_allclose(track[: plain.dim], plain.embed(x).mean(axis=0), atol=1e-6)
    z = (plain.encoder.embed(x) - plain._mean) * plain._scale * np.sqrt(12)
    expected = 0.5 * (z.std(axis=0) - stds.mean(axis=0)) / stds.std(axis=0) / np.sqrt(12)
    np.testing.assert_allclose(track[plain.dim :], expected, atol=1e-4)
    # the block of the fitting tracks is standardised: mean 0, each dimension's variance w^2 / dim_e
    fit = model_dir[2]
    blocks = np.stack([pooled.pool(pooled.embed(fit[i : i + 5]))[plain.dim :] for i in range(0, 40, 5)])
    np.testing.assert_allclose(blocks.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(blocks.std(axis=0), 0.5 / np.sqrt(12), rtol=1e-3)


def test_a_one_fragment_track_gets_a_neutral_std_block_not_the_value_of_zero_spread(model_dir):
    """A jingle shorter than two fragments has no spread to measure: its std block is zero (neutral), so short
    tracks are not pulled together by the shared, far-below-average value a zero std would standardise to."""
    stds = with_pooling_stats(model_dir, weight=0.5)
    plain, pooled = hybrid(model_dir), hybrid(model_dir, pooling="mean+std")
    one = pooled.pool(pooled.embed(fragments(1, seed=5)))
    assert not one[plain.dim :].any()
    np.testing.assert_allclose(one[: plain.dim], plain.embed(fragments(1, seed=5))[0], atol=1e-6)
    zero_spread = 0.5 * (0.0 - stds.mean(axis=0)) / stds.std(axis=0) / np.sqrt(12)
    assert np.linalg.norm(zero_spread) > 0.5  # what the block would have been: a large shared offset
    two = pooled.pool(pooled.embed(fragments(2, seed=6)))
    assert np.abs(two[plain.dim :]).max() > 0  # from two fragments on, the spread is measured


def test_pooling_changes_the_model_id_but_mean_pooling_keeps_it(model_dir):
    with_pooling_stats(model_dir)
    plain, pooled = hybrid(model_dir), hybrid(model_dir, pooling="mean+std")
    assert "pooling" not in plain.describe()["config"]
    assert pooled.describe()["config"]["pooling"] == "mean+std"
    assert model_id(plain.describe()) == model_id(hybrid(model_dir, pooling="mean").describe())
    assert model_id(pooled.describe()) != model_id(plain.describe())
    with_pooling_stats(model_dir, weight=1.0)
    assert model_id(hybrid(model_dir, pooling="mean+std").describe()) != model_id(pooled.describe())


def test_pooling_statistics_missing_or_of_other_stats_are_refused(model_dir):
    path = model_dir[0]
    with pytest.raises(CheckpointError, match="pooling statistics not found.*fit_pooling_stats.py"):
        hybrid(model_dir, pooling="mean+std")
    with pytest.raises(CheckpointError, match="pooling 'max' is not one of mean, mean\\+std"):
        hybrid(model_dir, pooling="max")
    with_pooling_stats(model_dir)
    stats = json.loads((path / STATS_FILE).read_text())
    stats["mean"][0] += 1.0  # refitted embedding statistics: the pooling statistics no longer belong to them
    (path / STATS_FILE).write_text(json.dumps(stats))
    with pytest.raises(CheckpointError, match="pooling_stats.json were fitted for other weights or embedding"):
        hybrid(model_dir, pooling="mean+std")


def test_analyse_file_pools_with_the_backends_pooling(model_dir, tmp_path):
    import soundfile as sf

    from embeddings.inference import analyse_file, pool_fragments

    with_pooling_stats(model_dir)
    path = model_dir[0]
    backend = load_backend(f"hybrid+std:{path}")
    assert backend.pooling == "mean+std" and load_backend(f"hybrid:{path}").pooling == "mean"
    rng = np.random.default_rng(5)
    t = np.arange(4 * SR) / SR
    y = 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) + 0.02 * rng.standard_normal(len(t))
    sf.write(tmp_path / "song.wav", y.astype(np.float32), SR)
    analysis = analyse_file(tmp_path / "song.wav", backend=backend, track_id="song",
                            fragment_config=FragmentConfig(n_seconds=1.0, step=1.0))
    assert analysis.fragment_embeddings.shape == (4, backend.dim)
    np.testing.assert_array_equal(analysis.embedding, backend.pool(analysis.fragment_embeddings))
    assert np.abs(analysis.embedding[-12:]).max() > 0  # the std block is there
    mean = pool_fragments(analysis.fragment_embeddings)  # no backend: the mean, as for every other model
    np.testing.assert_array_equal(mean, analysis.fragment_embeddings.mean(axis=0))
