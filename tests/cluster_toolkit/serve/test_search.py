"""The search index on hand-made tags: typo tolerance, ranking, paging, narrowing by words."""

from __future__ import annotations

import pandas as pd

from cluster_toolkit.serve.search import SearchIndex

TRACKS = pd.DataFrame({
    "artist": ["Radiohead", "Beyoncé", "Miles Davis", "Radio Birdman", "The Beatles", "The Beatles", None],
    "title": ["Paranoid Android", "Halo", "So What", "Aloha Steve and Danno", "Here Comes the Sun", "Something",
              "untitled-07"],
    "album": ["OK Computer", "I Am... Sasha Fierce", "Kind of Blue", "Radios Appear", "Abbey Road", "Abbey Road",
              None],
})


def titles(index: SearchIndex, query: str, **kw) -> list[str]:
    return [TRACKS["title"][r] for r in index.search(query, **kw).rows]


def test_typos_accents_word_order_and_fields_together():
    index = SearchIndex(TRACKS)
    assert titles(index, "radiohed")[0] == "Paranoid Android"
    assert titles(index, "androd paranoid")[0] == "Paranoid Android"
    assert titles(index, "beyonce halo") == ["Halo"]
    assert titles(index, "kind of bleu")[0] == "So What"  # the album
    assert titles(index, "beatles abey road")[:2] == ["Here Comes the Sun", "Something"]
    assert titles(index, "untitled 07") == ["untitled-07"]  # no artist, no album
    assert index.search("zzqx wvvk").total == 0 and index.search("   ").rows == []


def test_ties_go_to_the_closer_field_then_artist_and_title():
    index = SearchIndex(TRACKS)
    found = index.search("the beatles")
    assert [TRACKS["title"][r] for r in found.rows[:2]] == ["Here Comes the Sun", "Something"]
    assert found.scores == sorted(found.scores, reverse=True)


def test_pages_partition_the_hits():
    index = SearchIndex(pd.concat([TRACKS] * 5, ignore_index=True))
    total = index.search("abbey road").total
    assert total == 10
    rows = [r for p in (1, 2, 3, 4) for r in index.search("abbey road", page=p, per_page=3).rows]
    assert len(rows) == 10 == len(set(rows))


def test_candidates_are_the_tracks_with_the_most_query_words():
    index = SearchIndex(TRACKS)
    # "beatles" (with a typo) is in tracks 4 and 5; "comes" and "sun" only in 4: 3 words against 1
    assert index.candidates("beatls comes sun").tolist() == [4]
    assert index.candidates("beatls sun").tolist() == [4, 5]  # 2 words against 1: one fewer is kept
    assert index.candidates("the").tolist() == [4, 5]
    assert index.candidates("radioheadparanoid") is None  # run-together words: everything is scored
    assert titles(index, "radioheadparanoid")[0] == "Paranoid Android"
    assert sorted(index.candidates("radio").tolist()) == [0, 3]  # the last word as a prefix: radiohead, radios
