from __future__ import annotations

import numpy as np
import pytest

from embeddings.config import FragmentConfig
from embeddings.errors import AudioDecodeError, ConfigError
from embeddings.fragments import (
    GAP,
    TRAIN,
    VALIDATION,
    fragment_samples,
    fragment_track,
    plan_fragments,
    spread_fragments,
)


def _overlap(a: float, b: float, n: float) -> bool:
    return abs(a - b) < n


@pytest.mark.parametrize("step", [2.5, 5.0, 10.0])
@pytest.mark.parametrize("track", [f"track-{i}" for i in range(30)])
def test_no_train_fragment_overlaps_a_validation_fragment(track, step):
    config = FragmentConfig(n_seconds=10.0, step=step, validation_probability=0.3)
    plan = plan_fragments(200.0, config=config, track_id=track)
    np.testing.assert_allclose(np.diff(plan.starts), step)
    assert plan.starts[-1] + 10.0 <= 200.0
    val = [s for s, sp in zip(plan.starts, plan.splits) if sp == VALIDATION]
    train = [s for s, sp in zip(plan.starts, plan.splits) if sp == TRAIN]
    assert not any(_overlap(t, v, 10.0) for t in train for v in val)
    # a gap fragment is exactly a non-validation fragment that touches a validation one
    for s, sp in zip(plan.starts, plan.splits):
        if sp == GAP:
            assert any(_overlap(s, v, 10.0) for v in val)


def test_split_is_deterministic_per_track_and_seed():
    config = FragmentConfig(validation_probability=0.5)
    a = plan_fragments(300.0, config=config, track_id="abc")
    b = plan_fragments(300.0, config=config, track_id="abc")
    c = plan_fragments(300.0, config=FragmentConfig(validation_probability=0.5, seed=1), track_id="abc")
    assert a.splits == b.splits
    assert a.splits != c.splits


def test_validation_share_follows_probability():
    config = FragmentConfig(validation_probability=0.2)
    splits = [s for i in range(200) for s in plan_fragments(100.0, config=config, track_id=str(i)).splits]
    share = splits.count(VALIDATION) / len(splits)
    assert 0.16 < share < 0.24  # 2000 draws: +-4 standard deviations
    assert GAP not in splits  # step == n_seconds: neighbours only touch


def test_extreme_probabilities():
    assert set(plan_fragments(60.0, config=FragmentConfig(validation_probability=0.0), track_id="x").splits) == {TRAIN}
    assert set(plan_fragments(60.0, config=FragmentConfig(validation_probability=1.0), track_id="x").splits) == {
        VALIDATION
    }


def test_short_track_gives_one_looped_fragment_and_too_short_raises():
    config = FragmentConfig(n_seconds=10.0, min_track_seconds=3.0)
    y = np.arange(4 * 100, dtype=np.float32)
    frags = fragment_track(y, sr=100, config=config, track_id="s")
    assert len(frags) == 1 and frags[0].start_s == 0.0
    assert frags[0].samples.shape == (1000,)
    np.testing.assert_array_equal(frags[0].samples[:400], y)
    np.testing.assert_array_equal(frags[0].samples[400:800], y)
    with pytest.raises(AudioDecodeError, match=r"too short \(2.0 s < 3.0 s\)"):
        plan_fragments(2.0, config=config, track_id="s")


def test_fragment_samples_are_the_right_slices():
    sr = 50
    y = np.arange(35 * sr, dtype=np.float32)
    plan = plan_fragments(35.0, config=FragmentConfig(n_seconds=10.0, step=7.0), track_id="t")
    samples = fragment_samples(y, sr=sr, plan=plan)
    assert samples.shape == (4, 500)  # starts 0, 7, 14, 21
    for row, start in zip(samples, plan.starts):
        assert row[0] == start * sr and row[-1] == start * sr + 499


def test_bad_config_values_are_refused():
    with pytest.raises(ConfigError, match="validation_probability=1.5"):
        FragmentConfig(validation_probability=1.5)
    with pytest.raises(ConfigError, match="step=0"):
        FragmentConfig(step=0)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_spread_fragments_keeps_n_evenly_spread_from_first_to_last(n):
    plan = plan_fragments(300.0, config=FragmentConfig(validation_probability=0.3), track_id="spread")
    assert len(plan.starts) == 30
    kept = spread_fragments(plan, n)
    assert len(kept.starts) == n
    if n > 1:
        assert kept.starts[0] == 0.0 and kept.starts[-1] == plan.starts[-1]
        gaps = np.diff(kept.starts)
        assert gaps.max() - gaps.min() <= 10.0  # even spacing, up to one fragment of rounding
    # each kept fragment keeps the split it has in the full plan
    full = dict(zip(plan.starts.tolist(), plan.splits))
    assert [full[s] for s in kept.starts.tolist()] == list(kept.splits)


def test_spread_fragments_returns_a_short_plan_unchanged():
    plan = plan_fragments(45.0, config=FragmentConfig(), track_id="short")
    assert spread_fragments(plan, 8) is plan
    with pytest.raises(ValueError, match="n_fragments=0"):
        spread_fragments(plan, 0)
