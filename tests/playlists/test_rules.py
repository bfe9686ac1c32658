from collections import Counter

import numpy as np
import pandas as pd
import pytest

from embeddings.errors import ConfigError
from playlists.rules import (
    PlaylistRules,
    RuleChecker,
    normalise_artist,
    normalise_title,
    recording_key,
    shortfall_notice,
)


def test_normalisation():
    assert normalise_title("Yesterday (Remastered 2009)") == "yesterday"
    assert normalise_title("Yesterday - 2009 Remaster") == "yesterday"
    assert normalise_title("Song [Radio Edit]") == "song"
    assert normalise_title("Song (feat. Someone)") == "song"
    assert normalise_title("Song (Live)") == "song live"  # a live take is another recording
    assert normalise_artist("The Beatles") == "beatles"
    assert normalise_artist("Simon & Garfunkel") == "simon and garfunkel"
    assert recording_key("The Beatles", "Yesterday (Remastered 2009)") == recording_key("beatles", "YESTERDAY")
    assert recording_key("Someone", None) == ""


def test_rules_validate():
    with pytest.raises(ConfigError, match="near_duplicate_distance=-0.1"):
        PlaylistRules(near_duplicate_distance=-0.1)
    with pytest.raises(ConfigError, match="artist_window=-1"):
        PlaylistRules(artist_window=-1)
    with pytest.raises(ConfigError, match="near_duplicate_dims=-1"):
        PlaylistRules(near_duplicate_dims=-1)


def _checker(artists, titles, emb, **rules):
    tracks = pd.DataFrame({"track_id": [f"t{i}" for i in range(len(artists))], "artist": artists, "title": titles})
    emb = np.asarray(emb, dtype=np.float32)
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    return RuleChecker(tracks, emb, PlaylistRules(**rules))


def test_duplicates_and_near_duplicates():
    emb = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0.001], [1, 1, 0]]
    c = _checker(["A", "B", "C", "D", "a"], ["x", "y", "z", "w", "X (Remastered)"], emb)
    assert c.duplicate_reason(0, [0]) == "duplicate"
    assert c.duplicate_reason(4, [0]) == "near-duplicate (same artist and title)"
    assert c.duplicate_reason(3, [1]) == "near-duplicate (embedding)"
    assert c.duplicate_reason(2, [0, 1]) is None
    kept, reasons = c.deduplicate([3, 1, 2, 4, 3], keep=[0])
    assert kept == [0, 3, 2]
    assert reasons == Counter({"near-duplicate (embedding)": 1, "near-duplicate (same artist and title)": 1,
                               "duplicate": 1})
    allowed = _checker(["A", "B", "C", "D", "a"], ["x", "y", "z", "w", "X (Remastered)"], emb,
                       allow_near_duplicates=True)
    assert allowed.deduplicate([3, 1, 2, 4, 3], keep=[0])[0] == [0, 3, 1, 2, 4]


def test_near_duplicates_can_be_judged_on_the_leading_dimensions_only():
    """Tracks 0 and 1 share their first two dimensions and differ only in a trailing block (a track's spread,
    say): on all dimensions they are apart (cosine distance 0.04), on the first two the same recording.
    Track 2 differs from both on every view."""
    emb = [[1, 0.2, 0], [1, 0.2, 0.3], [0.2, 1, 3]]
    kw = {"near_duplicate_distance": 0.02}
    everything = _checker(["A", "B", "C"], ["x", "y", "z"], emb, **kw)
    head = _checker(["A", "B", "C"], ["x", "y", "z"], emb, near_duplicate_dims=2, **kw)
    assert everything.duplicate_reason(1, [0]) is None  # the trailing block keeps them apart (distance 0.04)
    assert head.duplicate_reason(1, [0]) == "near-duplicate (embedding)"
    assert head.duplicate_reason(2, [0]) is None
    assert head.deduplicate([1, 2], keep=[0])[0] == [0, 2]
    assert everything.deduplicate([1, 2], keep=[0])[0] == [0, 1, 2]
    # the embeddings the generators rank by are untouched
    np.testing.assert_array_equal(head.embeddings, everything.embeddings)


def test_arrange_keeps_the_artist_window_with_little_reordering():
    artists = ["A", "A", "B", "A", "C", "B", "D"]
    c = _checker(artists, [str(i) for i in range(7)], np.eye(7), artist_window=1)
    arranged, dropped = c.arrange(range(7))
    assert arranged == [0, 2, 1, 4, 3, 5, 6]
    assert dropped == []
    assert all(artists[a] != artists[b] for a, b in zip(arranged[:-1], arranged[1:], strict=True))
    # three tracks by one artist and nothing to put between them: two cannot be placed
    c = _checker(["A", "A", "A"], ["1", "2", "3"], np.eye(3), artist_window=1)
    assert c.arrange([0, 1, 2]) == ([0], [1, 2])
    # unknown artists never clash
    c = _checker([None, None], ["1", "2"], np.eye(2), artist_window=3)
    assert c.arrange([0, 1]) == ([0, 1], [])


def test_insertion_respects_the_window_on_both_sides():
    c = _checker(["A", "B", "A", "C"], ["1", "2", "3", "4"], np.eye(4), artist_window=1)
    route = [0, 1, 3]  # A B C
    assert [p for p in range(4) if c.insertion_ok(2, route, p)] == [2, 3]


def test_shortfall_notice():
    text = shortfall_notice(7, 25, "cluster 3 has 9 tracks", Counter({"near-duplicate (embedding)": 2}))
    assert text == "found 7 of 25 tracks: cluster 3 has 9 tracks; excluded: 2 near-duplicate (embedding)"
