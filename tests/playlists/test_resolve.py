import os

import pytest

from playlists.errors import PlaylistError
from playlists.resolve import resolve_seed


@pytest.fixture
def tracks(tracks_of):
    t = tracks_of(6, artists=["Björk", "The Beatles", "Sonic - Youth", "Björk", "Nina Simone", "Nina Simone"],
                  titles=["Jóga", "Yesterday (Remastered 2009)", "Teen Age Riot", "Hyperballad", "Feeling Good",
                          "Feeling Good"])
    t.loc[5, "path"] = "/other/place/track0005.flac"
    return t


def test_by_id_prefix_path_and_name(tracks, monkeypatch):
    assert resolve_seed("id0002", tracks) == "id0002"
    assert resolve_seed("/music/track0003.flac", tracks) == "id0003"
    assert resolve_seed("track0001.flac", tracks) == "id0001"  # a bare file name that is unique
    monkeypatch.chdir("/")
    assert resolve_seed("music/track0004.flac", tracks) == "id0004"  # relative to the working directory
    tracks = tracks.assign(track_id=[f"{c}3f9a0b1c2d" for c in "abcdef"])
    assert resolve_seed("b3f9a0", tracks) == "b3f9a0b1c2d"


def test_by_artist_and_title_after_normalisation(tracks):
    assert resolve_seed("bjork - joga", tracks) == "id0000"
    assert resolve_seed("Beatles - Yesterday", tracks) == "id0001"
    assert resolve_seed("Sonic - Youth - Teen Age Riot", tracks) == "id0002"  # " - " inside the artist
    assert resolve_seed("hyperballad", tracks) == "id0003"  # a unique title alone
    assert [resolve_seed(s, tracks) for s in ["id0000", "Björk - Hyperballad"]] == ["id0000", "id0003"]


def test_unknown_seed_lists_close_matches(tracks):
    with pytest.raises(PlaylistError) as err:
        resolve_seed("Bjork - Yoga", tracks)
    msg = str(err.value)
    assert "no track in the library (6 tracks) matches seed 'Bjork - Yoga'" in msg
    assert "'Björk - Jóga'" in msg
    with pytest.raises(PlaylistError, match="empty seed"):
        resolve_seed("  ", tracks)


def test_ambiguous_seed_names_the_candidates(tracks):
    with pytest.raises(PlaylistError) as err:
        resolve_seed("Nina Simone - Feeling Good", tracks)
    msg = str(err.value)
    assert "matches 2 tracks" in msg and "/music/track0004.flac" in msg and "/other/place/track0005.flac" in msg
    same_name = tracks.copy()
    same_name.loc[1, "path"] = os.path.join("/elsewhere", "track0000.flac")
    with pytest.raises(PlaylistError, match="matches 2 files"):
        resolve_seed("track0000.flac", same_name)
