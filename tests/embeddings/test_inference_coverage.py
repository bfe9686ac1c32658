"""Sampled coverage: the same fragments, vectors and pooled track vector as full coverage would give
for those fragments, with only their spans decoded."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.backends import load_backend
from embeddings.config import CoverageConfig, FragmentConfig
from embeddings.errors import ConfigError
from embeddings.fragments import spread_fragments
from embeddings.inference import analyse_file
from tests.conftest import synth, write_audio


@pytest.fixture(scope="module")
def features():
    return load_backend("features")


def test_sampled_coverage_embeds_the_spread_subset_of_the_full_plan(tmp_path, features):
    y = np.concatenate([synth(20.0, sr=44100, freq=f, seed=i) for i, f in enumerate((220, 330, 440, 550, 660))])
    path = write_audio(tmp_path / "long.flac", y, sr=44100)  # 100 s: 10 fragments in full
    config = FragmentConfig()
    full = analyse_file(path, backend=features, fragment_config=config, track_id="t",
                        coverage=CoverageConfig(mode="full"))
    sampled = analyse_file(path, backend=features, fragment_config=config, track_id="t",
                           coverage=CoverageConfig(mode="sampled", n_fragments=4))
    assert len(full.plan.starts) == 10
    expected = spread_fragments(full.plan, 4)
    np.testing.assert_array_equal(sampled.plan.starts, expected.starts)
    assert sampled.plan.splits == expected.splits
    assert sampled.duration_s == pytest.approx(full.duration_s, abs=1e-3)
    keep = np.isin(full.plan.starts, expected.starts)
    np.testing.assert_allclose(sampled.fragment_embeddings, full.fragment_embeddings[keep], atol=2e-3)
    np.testing.assert_allclose(sampled.embedding, full.fragment_embeddings[keep].mean(axis=0), atol=2e-3)


def test_a_track_within_the_budget_is_embedded_in_full(tmp_path, features):
    path = write_audio(tmp_path / "short.wav", synth(35.0, seed=3))
    config = FragmentConfig()
    full = analyse_file(path, backend=features, fragment_config=config, track_id="s",
                        coverage=CoverageConfig(mode="full"))
    sampled = analyse_file(path, backend=features, fragment_config=config, track_id="s")
    np.testing.assert_array_equal(sampled.plan.starts, full.plan.starts)
    np.testing.assert_allclose(sampled.embedding, full.embedding, atol=1e-5)


def test_bad_coverage_values_are_refused():
    with pytest.raises(ConfigError, match="coverage='most'"):
        CoverageConfig(mode="most")
    with pytest.raises(ConfigError, match="n_fragments=0"):
        CoverageConfig(n_fragments=0)
