import numpy as np
import pytest
import torch

from embeddings.errors import AudioDecodeError, ConfigError
from embeddings.fragments import TRAIN, VALIDATION
from embeddings.training.data import BatchPlanner, BatchStream, LogMelCache, build_validation_set, index_tracks


def _planner(groups, n_train, **kwargs):
    base = dict(groups_per_batch=3, views=2, pool_groups=4, max_tracks_per_group=8, seed=0)
    base.update(kwargs)
    return BatchPlanner(groups, n_train, **base)


def test_track_batches_cover_the_epoch_without_repeats():
    n_train = [6, 4, 8, 2, 6, 4]
    planner = _planner([[i] for i in range(6)], n_train)
    seen = []
    for items, slots in planner:
        assert len(items) == 6 and len(set(slots)) == 3
        for slot in set(slots):
            tracks = {items[i][0] for i in range(len(items)) if slots[i] == slot}
            assert len(tracks) == 1  # a track group: both views from one track
        seen += items
    assert len(seen) == len(set(seen))  # no fragment twice within an epoch
    assert len(seen) >= 0.75 * sum(n_train)
    assert planner.epoch == 1


def test_playlist_groups_never_share_a_track_within_a_batch():
    groups = [[0, 1, 2], [2, 3], [4, 5, 6], [6, 7, 8], [0, 8]]
    planner = _planner(groups, [3] * 9, groups_per_batch=3)
    for items, slots in planner:
        owner = {}
        for (track, _), slot in zip(items, slots, strict=True):
            assert owner.setdefault(track, slot) == slot  # one track sits in one group of the batch


def test_playlist_views_come_from_distinct_tracks_while_they_last():
    planner = _planner([[0, 1, 2], [3, 4], [5, 6, 7], [8, 9]], [3] * 10, groups_per_batch=3)
    items, slots = planner.next_batch()
    for slot in set(slots):
        tracks = [items[i][0] for i in range(len(items)) if slots[i] == slot]
        assert len(set(tracks)) == 2


def test_state_dict_resumes_the_same_sequence():
    planner = _planner([[i] for i in range(6)], [5] * 6)
    planner.next_batch()
    state = planner.state_dict()
    expected = [planner.next_batch() for _ in range(3)]
    other = _planner([[i] for i in range(6)], [5] * 6, seed=99)
    other.load_state_dict(state)
    assert [other.next_batch() for _ in range(3)] == expected


def test_slot_groups_name_each_slot_by_its_group():
    groups = [[0, 1, 2], [3, 4], [5, 6, 7], [8, 9], [10, 11]]
    planner = _planner(groups, [3] * 12, groups_per_batch=3)
    seen = set()
    for items, slots in planner:
        assert len(planner.slot_groups) == 3 and len(set(planner.slot_groups)) == 3
        for (track, _), slot in zip(items, slots, strict=True):
            assert track in groups[planner.slot_groups[slot]]
        seen |= set(planner.slot_groups)
    assert seen == set(range(5))


def test_single_fragment_tracks_reuse_their_fragment():
    planner = _planner([[0], [1]], [1, 1], groups_per_batch=2)
    items, slots = planner.next_batch()
    assert items == [(0, 0), (0, 0), (1, 0), (1, 0)] and slots == [0, 0, 1, 1]


def test_needs_two_groups_with_fragments():
    with pytest.raises(ConfigError, match="only 1 group"):
        _planner([[0], [1]], [3, 0])


def test_index_cache_and_validation_set(music, tiny_audio, tiny_fragments, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....")
    tracks, skipped = index_tracks([*music[:3], (broken, "bad")], fragments=tiny_fragments)
    assert len(tracks) == 3 and skipped[0][0] == str(broken)
    assert all(len(t.splits) == 6 for t in tracks)
    cache = LogMelCache(tracks, audio=tiny_audio, fragments=tiny_fragments, capacity=2)
    first = cache.get(0)
    assert first.shape == (len(tracks[0].fragments(TRAIN)), 16, 63) and first.dtype == torch.float16
    cache.get(1), cache.get(2)
    assert len(cache) == 2 and cache.decoded == 3  # bounded: track 0 was evicted
    assert cache.get(2) is cache.get(2) and cache.decoded == 3
    val = build_validation_set(tracks, audio=tiny_audio, fragments=tiny_fragments, max_tracks=8, seed=0)
    n_val = sum(len(t.fragments(VALIDATION)) for t in tracks if t.fragments(VALIDATION))
    assert int(val.is_query.sum()) == n_val
    assert len(val) == n_val + int(val.tracks.unique().numel())
    assert np.isfinite(val.mels.float().numpy()).all()


def test_a_track_that_fails_to_decode_mid_training_costs_its_items_not_the_run(
    music, tiny_audio, tiny_fragments, tmp_path
):
    files = []
    for path, track_id in music[:4]:  # two groups of two tracks, in tmp copies
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        files.append((copy, track_id))
    tracks, _ = index_tracks(files, fragments=tiny_fragments)
    files[1][0].write_bytes(b"RIFF" + b"\0" * 40)  # broken after indexing, as a file truncated on disk would be
    cache = LogMelCache(tracks, audio=tiny_audio, fragments=tiny_fragments, capacity=8)
    planner = BatchPlanner([[0, 1], [2, 3]], [len(t.fragments(TRAIN)) for t in tracks], groups_per_batch=2,
                           views=2, pool_groups=2, max_tracks_per_group=8, seed=0)
    skipped = []
    stream = BatchStream(planner, cache, on_skip=skipped.append)
    batches = list(stream.epoch())
    assert len(skipped) == 1 and str(files[1][0]) in skipped[0]  # reported once, naming the file
    assert 1 in cache.failed and cache.decoded == 3
    with pytest.raises(AudioDecodeError, match="broken|corrupt|cannot"):
        cache.get(1)  # remembered, not decoded again
    for batch in batches:
        assert 1 not in batch.tracks.tolist()
        assert len(batch.mels) == 4 and sorted(batch.group_ids.tolist()) == [0, 0, 1, 1]
        owner = {0: 0, 2: 1, 3: 1}  # the planner's group of each track that decodes
        assert batch.groups.tolist() == [owner[t] for t in batch.tracks.tolist()]
    # the group that lost a track keeps two views: the remaining track's fragment, twice
    assert any(batch.tracks.tolist().count(0) == 2 for batch in batches)
