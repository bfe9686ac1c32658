"""Mixed track + group positives (``TrainConfig.track_weight``): the planner draws pairs of fragments per
track inside each group, the track term joins the loss with its weight, and the config refuses what cannot work."""

import json

import numpy as np
import pytest

from embeddings.config import TrainConfig
from embeddings.errors import ConfigError
from embeddings.training import train
from embeddings.training.data import BatchPlanner
from tests.embeddings.tiny import check_new_train_field, quick_train_config


def test_planner_draws_two_fragments_of_each_track_in_a_group():
    groups = [[0, 1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12, 13]]
    planner = BatchPlanner(groups, [4] * 14, groups_per_batch=3, views=8, pool_groups=4, max_tracks_per_group=8,
                           seed=0, fragments_per_track=2)
    n_batches = 0
    for items, slots in planner:
        n_batches += 1
        for slot in set(slots):
            mine = [items[i] for i in range(len(items)) if slots[i] == slot]
            tracks = [t for t, _ in mine]
            assert len(mine) == 8
            # four tracks, two distinct fragments of each, while the group has them
            assert sorted(np.unique(tracks, return_counts=True)[1].tolist()) == [2, 2, 2, 2]
            assert len(set(mine)) == 8
    assert n_batches >= 2
    # the group-only planner of the same seed keeps drawing distinct tracks
    plain = BatchPlanner(groups, [4] * 14, groups_per_batch=3, views=4, pool_groups=4, max_tracks_per_group=8, seed=0)
    items, slots = plain.next_batch()
    for slot in set(slots):
        assert len({items[i][0] for i in range(len(items)) if slots[i] == slot}) == 4


def test_a_group_of_one_fragment_tracks_still_fills_its_views():
    planner = BatchPlanner([[0, 1, 2], [3, 4]], [1, 1, 1, 3, 3], groups_per_batch=2, views=4, pool_groups=2,
                           max_tracks_per_group=8, seed=0, fragments_per_track=2)
    items, slots = planner.next_batch()
    assert len(items) == 8 and sorted(set(slots)) == [0, 1]
    second = [items[i][0] for i in range(8) if slots[i] == 1]
    assert sorted(np.unique(second, return_counts=True)[1].tolist()) == [2, 2]


def test_config_checks_and_old_checkpoints_load():
    config = TrainConfig(positives="folder", views=8, track_weight=0.5)
    assert config.fragments_per_track == 2 and TrainConfig().fragments_per_track == 1
    check_new_train_field(config, "track_weight")
    with pytest.raises(ConfigError, match="track_weight=-1.0 must be >= 0"):
        TrainConfig(positives="folder", track_weight=-1.0)
    with pytest.raises(ConfigError, match="positives='track'"):
        TrainConfig(positives="track", views=4, track_weight=1.0)
    for views in (2, 5):
        with pytest.raises(ConfigError, match=f"views={views} must be even and >= 4"):
            TrainConfig(positives="folder", views=views, batch_size=20, track_weight=1.0)


def _folder_run(music, tiny_audio, tiny_fragments, tiny_encoder, out, track_weight):
    config = quick_train_config(positives="folder", views=4, batch_size=8, track_weight=track_weight, epochs=12,
                                lr=3e-3)
    return train(music, out_dir=out, encoder=tiny_encoder, config=config, audio=tiny_audio, fragments=tiny_fragments,
                 source_dir=music[0][0].parent.parent)


def test_the_track_term_joins_the_loss_with_its_weight(music, tiny_audio, tiny_fragments, tiny_encoder, tmp_path):
    """Two folders of four toy tracks: every step logs the track term beside the folder term, the loss is
    their weighted sum, and a run without the term logs none."""
    mixed = _folder_run(music, tiny_audio, tiny_fragments, tiny_encoder, tmp_path / "mixed", 4.0)
    assert mixed.status == "finished"
    records = [json.loads(line) for line in (tmp_path / "mixed" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if r["kind"] == "train"]
    assert len(steps) >= 10
    track = np.array([r["track_loss"] for r in steps])
    group = np.array([r["contrastive_loss"] for r in steps])
    assert np.isfinite(track).all() and np.isfinite(group).all()
    np.testing.assert_allclose([r["loss"] for r in steps], group + 4.0 * track, rtol=1e-5)
    _folder_run(music, tiny_audio, tiny_fragments, tiny_encoder, tmp_path / "plain", 0.0)
    plain_records = [json.loads(line) for line in (tmp_path / "plain" / "metrics.jsonl").read_text().splitlines()]
    assert not any("track_loss" in r for r in plain_records)
