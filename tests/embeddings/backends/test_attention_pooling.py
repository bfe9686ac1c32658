"""Attention pooling: the head, its fit, its file, and the ``hybrid+attn`` backend built on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embeddings.backends import load_backend, model_id
from embeddings.backends.attention_pooling import (
    ATTENTION_FILE,
    AttentionPooling,
    fit_attention_pooling,
    read_attention_pooling,
    write_attention_pooling,
)
from embeddings.backends.hybrid import STATS_FILE
from embeddings.errors import CheckpointError, ConfigError
from tests.embeddings.backends.test_hybrid import fragments, hybrid, model_dir, with_pooling_stats  # noqa: F401

TIES = {"weights_sha256": "w" * 64, "embedding_stats_sha256": "e" * 64, "pooling_stats_sha256": "p" * 64,
        "features_model": "features-0123456789ab"}


def reference_pooling(head: AttentionPooling, x: np.ndarray) -> np.ndarray:
    """The head's formula written out, one fragment at a time."""
    W = head.score[0].weight.detach().numpy().astype(np.float64)
    b = head.score[0].bias.detach().numpy().astype(np.float64)
    v = head.score[2].weight.detach().numpy()[0].astype(np.float64)
    scores = np.array([v @ np.tanh(W @ xk + b) for xk in x.astype(np.float64)])
    a = np.exp(scores - scores.max())
    a /= a.sum()
    return sum(ak * xk for ak, xk in zip(a, x.astype(np.float64), strict=True))


def test_an_unfitted_head_is_the_mean_and_a_fitted_one_follows_its_formula():
    torch.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32)
    head = AttentionPooling(7, hidden=4)
    np.testing.assert_allclose(head(torch.from_numpy(x)).detach().numpy(), x.mean(axis=0), atol=1e-6)
    torch.nn.init.normal_(head.score[2].weight, std=2.0)  # as if fitted: the weights are no longer uniform
    weights = head.weights(torch.from_numpy(x)).detach().numpy()
    assert weights.sum() == pytest.approx(1.0, abs=1e-6) and (weights >= 0).all() and weights.std() > 0.01
    np.testing.assert_allclose(head(torch.from_numpy(x)).detach().numpy(), reference_pooling(head, x), atol=1e-5)
    np.testing.assert_allclose(head(torch.from_numpy(x[:1])).detach().numpy(), x[0], atol=1e-6)  # one fragment
    with pytest.raises(ConfigError, match=r"needs \(k >= 1, 7\) fragment vectors, got \(5, 6\)"):
        head(torch.from_numpy(x[:, :6]))


def shared_intro_tracks(n_per_class: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Tracks of 4 fragments: 3 near their class's centre and one loud 'intro' fragment that is alike in every
    track (it dominates the mean and hides the class). 4 classes in 16 dimensions."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(4, 16))
    intro = 6.0 * np.random.default_rng(98).normal(size=16)
    tracks, labels = [], []
    for c in range(4):
        for _ in range(n_per_class):
            body = centres[c] + 0.8 * rng.normal(size=(3, 16))
            tracks.append(np.vstack([body, intro + 4.0 * rng.normal(size=16)]).astype(np.float32))
            labels.append(c)
    return tracks, np.array(labels)


def nearest_neighbour_accuracy(v: np.ndarray, labels: np.ndarray) -> float:
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    return float((labels[sims.argmax(axis=1)] == labels).mean())


def test_fitting_learns_to_look_past_a_fragment_every_track_shares():
    tracks, labels = shared_intro_tracks(12, seed=0)
    test_tracks, test_labels = shared_intro_tracks(10, seed=1)
    assert fit_attention_pooling(tracks, labels, steps=0).score[2].weight.abs().sum() == 0  # 0 steps: the mean
    head = fit_attention_pooling(tracks, labels, steps=150, hidden=8, lr=1e-2)
    with torch.no_grad():
        intro_weight = np.mean([head.weights(torch.from_numpy(x))[3].item() for x in test_tracks])
        attended = np.stack([head(torch.from_numpy(x)).numpy() for x in test_tracks])
    mean = np.stack([x.mean(axis=0) for x in test_tracks])
    assert intro_weight < 0.05  # from 0.25 under the mean, on tracks it never saw
    assert nearest_neighbour_accuracy(attended, test_labels) >= 0.95
    assert nearest_neighbour_accuracy(mean, test_labels) <= 0.8
    with pytest.raises(ConfigError, match="3 tracks but 2 labels"):
        fit_attention_pooling(tracks[:3], labels[:2], steps=1)


def test_the_file_round_trips_and_refuses_a_head_of_other_weights_or_width(tmp_path):
    torch.manual_seed(1)
    head = AttentionPooling(9, hidden=3)
    torch.nn.init.normal_(head.score[2].weight)
    path = write_attention_pooling(tmp_path / ATTENTION_FILE, head, ties=TIES, fitted_on={"tracks": 3})
    assert not list(tmp_path.glob("*.tmp"))
    x = torch.from_numpy(np.random.default_rng(2).normal(size=(4, 9)).astype(np.float32))
    again = read_attention_pooling(path, ties=TIES, dim=9)
    assert torch.equal(again(x), head(x).detach())
    with pytest.raises(CheckpointError, match="was fitted for another embedding stats sha256; refit it with "
                                              "`python bench/attention_pooling.py"):
        read_attention_pooling(path, ties={**TIES, "embedding_stats_sha256": "x" * 64}, dim=9)
    with pytest.raises(CheckpointError, match="pools 9 dimensions, not 10"):
        read_attention_pooling(path, ties=TIES, dim=10)
    with pytest.raises(CheckpointError, match="attention pooling not found at .*nowhere"):
        read_attention_pooling(tmp_path / "nowhere", ties=TIES, dim=9)
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="bad.safetensors is unreadable"):
        read_attention_pooling(tmp_path / "bad.safetensors", ties=TIES, dim=9)
    with pytest.raises(ConfigError, match="needs its ties features_model"):
        write_attention_pooling(tmp_path / "x", head, ties={k: v for k, v in TIES.items() if k != "features_model"},
                                fitted_on={})


def with_attention(model_dir, *, steps: int = 40):  # noqa: F811
    """A head fitted on 8 synthetic tracks of 5 fragments (4 'sources'), written next to the checkpoint."""
    with_pooling_stats(model_dir)
    base = hybrid(model_dir, pooling="mean+std")
    fit = model_dir[2]
    tracks = [base.embed(fit[i : i + 5])[:, : base.mean_dim] for i in range(0, 40, 5)]
    head = fit_attention_pooling(tracks, np.repeat(np.arange(4), 2), steps=steps, lr=1e-2)
    write_attention_pooling(model_dir[0] / ATTENTION_FILE, head, ties=base.attention_ties(), fitted_on={})
    return head


def test_hybrid_attn_pools_the_mean_part_with_the_head_and_keeps_the_std_block(model_dir):  # noqa: F811
    head = with_attention(model_dir)
    std, attn = hybrid(model_dir, pooling="mean+std"), hybrid(model_dir, pooling="attention")
    assert attn.dim == std.dim and attn.mean_dim == std.dim - 12
    x = fragments(5, seed=7)
    frags = attn.embed(x)
    np.testing.assert_array_equal(frags, std.embed(x))  # fragment vectors are hybrid+std's
    track, plain = attn.pool(frags), std.pool(frags)
    m = attn.mean_dim
    np.testing.assert_array_equal(track[m:], plain[m:])  # the same std block
    np.testing.assert_allclose(track[:m], reference_pooling(head, frags[:, :m]), atol=1e-5)
    assert np.abs(track[:m] - plain[:m]).max() > 1e-4  # the head moved it off the plain mean
    one = attn.pool(attn.embed(fragments(1, seed=8)))
    np.testing.assert_array_equal(one, std.pool(std.embed(fragments(1, seed=8))))  # a jingle is its fragment
    assert attn.describe()["config"]["pooling"] == "attention"
    assert model_id(attn.describe()) != model_id(std.describe())


def test_hybrid_attn_refuses_a_missing_head_or_one_of_other_statistics(model_dir):  # noqa: F811
    with_pooling_stats(model_dir)
    with pytest.raises(CheckpointError, match="attention pooling not found at .*attention_pooling.safetensors; "
                                              "fit it with"):
        hybrid(model_dir, pooling="attention")
    with_attention(model_dir)
    stats = model_dir[0] / STATS_FILE
    stats.write_text(stats.read_text() + " ")  # refitted embedding statistics (other bytes, other hash)
    with_pooling_stats(model_dir)  # the std statistics refitted for them, the head not
    with pytest.raises(CheckpointError, match="was fitted for another embedding stats sha256"):
        hybrid(model_dir, pooling="attention")


def test_load_backend_builds_hybrid_attn_and_ctk_embed_stores_its_track_vectors(model_dir, tmp_path):  # noqa: F811
    import soundfile as sf

    from embeddings.inference import analyse_file

    path = model_dir[0]
    with_pooling_stats(model_dir)
    base = load_backend(f"hybrid+std:{path}")  # the shipped features statistics, as ctk embed would use
    fit = model_dir[2]
    tracks = [base.embed(fit[i : i + 5])[:, : base.mean_dim] for i in range(0, 40, 5)]
    head = fit_attention_pooling(tracks, np.repeat(np.arange(4), 2), steps=40, lr=1e-2)
    write_attention_pooling(path / ATTENTION_FILE, head, ties=base.attention_ties(), fitted_on={})
    backend = load_backend(f"hybrid+attn:{path}")
    assert backend.pooling == "attention" and backend.dim == base.dim
    t = np.arange(4 * 22050) / 22050
    y = 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 0.5 * t))
    y[: 22050] *= 0.05  # a quiet first second: its fragment differs from the rest
    sf.write(tmp_path / "song.wav", y.astype(np.float32), 22050)
    from embeddings.config import FragmentConfig

    analysis = analyse_file(tmp_path / "song.wav", backend=backend, track_id="song",
                            fragment_config=FragmentConfig(n_seconds=1.0, step=1.0))
    frags = analysis.fragment_embeddings
    np.testing.assert_allclose(analysis.embedding[: backend.mean_dim],
                               reference_pooling(head, frags[:, : backend.mean_dim]), atol=1e-5)


def test_the_bundled_head_belongs_to_the_shipped_statistics_and_has_a_calibrated_threshold():
    """``hybrid+attn`` loads with the shipped files (the head is tied to their hashes), pools the mean part only,
    and its model id has a near-duplicate threshold (else playlists would fall back to an uncalibrated one)."""
    from cluster_toolkit.near_duplicates import near_duplicate_dims, near_duplicate_distance

    attn, std = load_backend("hybrid+attn"), load_backend("hybrid+std")
    assert attn.dim == std.dim == 2 * 256 + attn.features.dim and attn.mean_dim == 256 + attn.features.dim
    x = np.random.default_rng(0).normal(size=(5, attn.dim)).astype(np.float32)
    x[:, attn.mean_dim :] = 0.0
    np.testing.assert_array_equal(attn.pool(x)[attn.mean_dim :], std.pool(x)[attn.mean_dim :])
    assert np.abs(attn.pool(x)[: attn.mean_dim] - std.pool(x)[: attn.mean_dim]).max() > 1e-3
    distance, notice = near_duplicate_distance(model_id(attn.describe()))
    assert notice is None and 0.01 < distance < 0.2
    assert near_duplicate_dims(model_id(attn.describe())) == attn.mean_dim  # judged on the mean part, as hybrid+std
