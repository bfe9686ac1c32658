import json

import numpy as np
import pytest

from embeddings.errors import ConfigError
from embeddings.positives import (
    folder_positives,
    playlist_positives,
    read_mpd_slice,
    split_tags,
    tag_positives,
    tag_similarity,
    track_positives,
)


def test_track_positives_one_group_per_track():
    p = track_positives(3)
    assert p.groups == ((0,), (1,), (2,)) and p.kind == "track"


def test_tags_are_split_and_grouped():
    assert split_tags("Rock; Indie Pop/rock") == ("rock", "indie pop")
    p = tag_positives(["Rock", "rock; Jazz", "Jazz", "Folk", ""])
    assert dict(zip(p.names, p.groups, strict=True)) == {"jazz": (1, 2), "rock": (0, 1)}
    assert p.summary() == {"kind": "tag", "n_groups": 2, "tracks_covered": 3, "median_group_size": 2.0}
    with pytest.raises(ConfigError, match="no tag is shared by 2 or more of the 2 tracks"):
        tag_positives(["a", "b"])


def test_tag_similarity_is_jaccard():
    s = tag_similarity(["rock; jazz", "rock", "", "folk"])
    assert s[0, 1] == pytest.approx(0.5) and s[1, 0] == pytest.approx(0.5)
    assert s[0, 3] == 0 and s[2, 2] == 0 and s[0, 0] == 1
    assert np.allclose(s, s.T)


def test_playlist_positives_from_m3u_and_mpd(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    paths = [music / f"{n}.wav" for n in "abcd"]
    for p in paths:
        p.write_bytes(b"x")
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "one.m3u").write_text("../music/a.wav\n../music/b.wav\n../music/missing.wav\n")
    (lists / "solo.m3u").write_text("../music/c.wav\n")  # one library track: not a group
    mpd = {
        "info": {},
        "playlists": [
            {
                "name": "road",
                "pid": 7,
                "tracks": [
                    {"artist_name": "Bjork", "track_name": "Joga!"},
                    {"artist_name": "Nobody", "track_name": "Unknown"},
                    {"artist_name": "Daft Punk", "track_name": "One More Time"},
                ],
            }
        ],
    }
    (lists / "mpd.slice.0-999.json").write_text(json.dumps(mpd))
    p = playlist_positives(
        paths, lists, artists=["x", "Björk", "y", "DAFT PUNK"], titles=["a", "Jóga", "c", "One more time"]
    )
    assert dict(zip(p.names, p.groups, strict=True)) == {"road [7]": (1, 3), "one": (0, 1)}


def test_playlist_positives_match_links_urls_and_names_of_every_script(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    for n in "abcd":
        (real / f"{n}.wav").write_bytes(b"x")
    (tmp_path / "music").symlink_to(real)
    paths = [tmp_path / "music" / f"{n}.wav" for n in "abcd"]  # the library reaches the files through a link
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "mixed.m3u8").write_text(
        f"#EXTM3U\n#EXTINF:1,A\n{real / 'a.wav'}\nhttp://radio/stream\nfile://{real / 'b.wav'}\n..\\music\\c.wav\n"
    )
    mpd = {"playlists": [{"name": "jp", "pid": 1, "tracks": [
        {"artist_name": "椎名林檎", "track_name": "First Love"},  # not 宇多田ヒカル, though the titles agree
        {"artist_name": "Simon & Garfunkel", "track_name": "The Boxer"},
    ]}]}  # fmt: skip
    (lists / "mpd.json").write_text(json.dumps(mpd, ensure_ascii=False))
    p = playlist_positives(paths, lists, artists=["宇多田ヒカル", "椎名林檎", "Simon and Garfunkel", "x"],
                           titles=["First Love", "First Love", "The Boxer", "y"])  # fmt: skip
    assert dict(zip(p.names, p.groups, strict=True)) == {"jp [1]": (1, 2), "mixed": (0, 1, 2)}


def test_playlist_errors(tmp_path):
    with pytest.raises(ConfigError, match="not a folder"):
        playlist_positives([], tmp_path / "nope")
    with pytest.raises(ConfigError, match="no .m3u"):
        playlist_positives([], tmp_path)
    (tmp_path / "x.m3u").write_text("a.wav\n")
    with pytest.raises(ConfigError, match="no playlist under"):
        playlist_positives([tmp_path / "b.wav"], tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"foo": 1}')
    with pytest.raises(ConfigError, match="not a Million Playlist Dataset slice"):
        read_mpd_slice(bad)


def test_folder_positives_group_by_album_folder(tmp_path):
    paths = [
        tmp_path / "B" / "album2" / "1.flac",
        tmp_path / "A" / "album1" / "1.flac",
        tmp_path / "A" / "album1" / "2.flac",
        tmp_path / "B" / "album2" / "2.flac",
        tmp_path / "B" / "album2" / "3.flac",
        tmp_path / "single" / "1.flac",  # a folder of one track is no group
    ]
    p = folder_positives(paths)
    assert p.kind == "folder"
    assert p.names == (str(tmp_path / "A" / "album1"), str(tmp_path / "B" / "album2"))
    assert p.groups == ((1, 2), (0, 3, 4))
    assert p.summary() == {"kind": "folder", "n_groups": 2, "tracks_covered": 5, "median_group_size": 2.5}
    with pytest.raises(ConfigError, match="found 1 among 2 folders of 3 tracks"):
        folder_positives(paths[1:3] + [paths[5]])
