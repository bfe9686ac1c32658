"""Lyric similarity as Soft InfoNCE negative weights: reference numbers and the reduction to InfoNCE."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embeddings.errors import ConfigError
from embeddings.losses import InfoNCELoss, SoftInfoNCELoss
from embeddings.losses.soft_infonce import negative_weights
from embeddings.lyrics.similarity import lyric_similarity
from tests.embeddings.losses.test_infonce import _reference  # the loop reference of plain InfoNCE


def test_cosine_clipped_and_zero_without_lyrics():
    vectors = np.array([[1.0, 0.0], [3.0, 4.0], [-1.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    has = np.array([True, True, True, False])
    s = lyric_similarity(vectors, has)
    expected = np.array(
        [[1.0, 0.6, 0.0, 0.0], [0.6, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32
    )
    np.testing.assert_allclose(s, expected, atol=1e-6)
    assert s.dtype == np.float32


def test_bad_vectors_are_refused():
    with pytest.raises(ConfigError, match=r"has_lyrics \(n,\)"):
        lyric_similarity(np.ones((3, 2)), np.ones(2, dtype=bool))
    with pytest.raises(ConfigError, match="zero or non-finite"):
        lyric_similarity(np.zeros((2, 2)), np.array([True, False]))


@pytest.mark.parametrize("beta", [0.3, 1.0])
def test_identical_lyrics_everywhere_is_plain_infonce(beta):
    """Uniform weights (every pair equally similar) reduce exactly to InfoNCE, here against a loop."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(8, 5, generator=g)
    groups = [0, 0, 1, 1, 2, 2, 3, 3]
    same_song = np.tile(np.array([[0.2, 0.9, 0.1]], dtype=np.float32), (8, 1))
    similarity = torch.from_numpy(lyric_similarity(same_song, np.ones(8, dtype=bool)))
    soft = SoftInfoNCELoss(temperature=0.2, beta=beta)(z, torch.tensor(groups), similarity).item()
    assert soft == pytest.approx(_reference(z, groups, 0.2), rel=1e-5)
    assert soft == pytest.approx(InfoNCELoss(temperature=0.2)(z, torch.tensor(groups)).item(), rel=1e-6)
    nobody = torch.from_numpy(lyric_similarity(same_song, np.zeros(8, dtype=bool)))
    assert SoftInfoNCELoss(temperature=0.2, beta=beta)(z, torch.tensor(groups), nobody).item() == pytest.approx(soft)


def test_similar_lyrics_weigh_less_as_negatives():
    """Items 0 and 2 (different tracks) share their lyrics: as negatives of each other they weigh 0 at
    beta = 1, the other negatives take up the weight, and a track without lyrics keeps weight 1."""
    lyrics = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.6, 0.8], [0.0, 0.0]], dtype=np.float32)
    has = np.array([True, True, True, True, False])
    groups = torch.tensor([0, 0, 1, 1, 2])
    similarity = torch.from_numpy(lyric_similarity(lyrics, has))
    weights = negative_weights(similarity, groups[:, None] != groups[None, :], beta=1.0)
    # anchor 0: negatives 2, 3, 4 with raw weights 1 - S = 0, 0.4, 1 -> rescaled to mean 1 over 3
    np.testing.assert_allclose(weights[0].numpy(), [0.0, 0.0, 0.0, 3 * 0.4 / 1.4, 3 * 1.0 / 1.4], atol=1e-6)
    # anchor 4 (no lyrics): every negative counts fully
    np.testing.assert_allclose(weights[4].numpy(), [1.0, 1.0, 1.0, 1.0, 0.0], atol=1e-6)


def test_track_lyric_vectors_from_real_files(tmp_path):
    from embeddings.lyrics.similarity import track_lyric_vectors
    from embeddings.text_encoder import TextEncoder
    from tests.conftest import synth, write_audio

    paths = [write_audio(tmp_path / f"{i}.wav", synth(0.5, seed=i)) for i in range(4)]
    (tmp_path / "0.txt").write_text("dancing in the moonlight\neverybody feeling warm", encoding="utf-8")
    (tmp_path / "1.lrc").write_text("[00:01.00]dancing in the moonlight\n[00:02.00]everybody feeling warm",
                                    encoding="utf-8")
    (tmp_path / "2.txt").write_text("tax forms and spreadsheets\nfiled before april", encoding="utf-8")
    vectors, has = track_lyric_vectors(paths, encoder=TextEncoder())
    assert has.tolist() == [True, True, True, False]
    assert not vectors[3].any()
    s = lyric_similarity(vectors, has)
    assert s[0, 1] == pytest.approx(1.0, abs=1e-5)  # same words, from a .txt and an .lrc
    assert s[0, 2] < 0.5 and s[0, 3] == 0.0


def test_batch_similarity_indexes_tracks():
    from embeddings.lyrics.similarity import BatchLyricSimilarity

    vectors = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 0.0]], dtype=np.float32)
    batch = BatchLyricSimilarity(vectors, np.array([True, True, False]))
    got = batch(torch.tensor([1, 0, 1, 2]))
    expected = torch.tensor(
        [[1.0, 0.6, 1.0, 0.0], [0.6, 1.0, 0.6, 0.0], [1.0, 0.6, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    )
    torch.testing.assert_close(got, expected)
    assert batch.n_with_lyrics == 2
    with pytest.raises(ConfigError, match="vectors \\(n, d\\) and has_lyrics \\(n,\\)"):
        BatchLyricSimilarity(vectors, np.array([True]))
