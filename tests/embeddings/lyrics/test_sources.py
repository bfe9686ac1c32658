"""Each lyrics source written into real audio files (FLAC, Ogg Vorbis, Opus, MP3, M4A) and sidecars."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mutagen.flac import FLAC
from mutagen.id3 import ID3, SYLT, USLT
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis

from embeddings.lyrics import NO_LYRICS, read_lyrics, strip_lrc
from embeddings.tags import read_tags
from tests.conftest import synth, write_audio

TINY_M4A = Path(__file__).parents[2] / "data" / "tiny_aac.m4a"
SONG = "I walked along the river\nThe water knew my name\n\nAnd every stone was singing"

LRC = """[ar:Some Band]
[ti:River Song]
[al:Album]
[by:someone]
[offset:+250]
[00:12.00]I walked along the river
[00:15.30]The water knew my name
[00:18.00]
[00:20.10][01:20.10]And every <00:21.00>stone was <00:21.50>singing
"""


def _flac(tmp_path: Path, name: str = "song.flac", **tags: str) -> Path:
    """A real 1 s FLAC with the given Vorbis comments (in the order given)."""
    path = write_audio(tmp_path / name, synth(1.0))
    if tags:
        flac = FLAC(path)
        for key, value in tags.items():
            flac[key] = value
        flac.save()
    return path


def test_strip_lrc_drops_tags_and_timestamps():
    assert strip_lrc(LRC) == SONG


def test_lrc_sidecar_comes_first(tmp_path):
    (tmp_path / "song.lrc").write_text(LRC, encoding="utf-8")
    (tmp_path / "song.txt").write_text("text sidecar", encoding="utf-8")
    path = _flac(tmp_path, LYRICS="embedded words")
    found = read_lyrics(path)
    assert (found.text, found.source, found.has_lyrics) == (SONG, "lrc", True)


def test_txt_sidecar_before_tags_with_bom_and_crlf(tmp_path):
    path = _flac(tmp_path, "a.b.flac", LYRICS="embedded words")  # dots in the stem: the sidecar is a.b.txt
    (tmp_path / "a.b.txt").write_bytes(b"\xef\xbb\xbf  line one \r\n\r\n\r\nline two\r\n")
    found = read_lyrics(path)
    assert (found.text, found.source) == ("line one\n\nline two", "txt")


def test_empty_sidecar_falls_through_to_tags(tmp_path):
    (tmp_path / "song.lrc").write_text("[ar:Band]\n[00:01.00]\n", encoding="utf-8")
    path = _flac(tmp_path, UNSYNCEDLYRICS="from the tag")
    assert (read_lyrics(path).text, read_lyrics(path).source) == ("from the tag", "vorbis")


@pytest.mark.parametrize("key", ["LYRICS", "UNSYNCEDLYRICS", "lyrics"])
def test_flac_vorbis_comment(tmp_path, key):
    path = _flac(tmp_path, **{key: SONG})
    found = read_lyrics(path)
    assert (found.text, found.source) == (SONG, "vorbis")


def test_lyrics_key_preferred_over_unsynced(tmp_path):
    path = _flac(tmp_path, UNSYNCEDLYRICS="second choice", LYRICS="first choice")
    assert read_lyrics(path).text == "first choice"


def test_ogg_vorbis_comment(tmp_path):
    path = write_audio(tmp_path / "song.ogg", synth(1.0), format="OGG", subtype="VORBIS")
    tags = OggVorbis(path)
    tags["LYRICS"] = SONG
    tags.save()
    assert (read_lyrics(path).text, read_lyrics(path).source) == (SONG, "vorbis")


def test_opus_vorbis_comment(tmp_path):
    path = write_audio(tmp_path / "song.opus", synth(1.0, sr=48000), sr=48000, format="OGG", subtype="OPUS")
    tags = OggOpus(path)
    tags["UNSYNCEDLYRICS"] = SONG
    tags.save()
    assert (read_lyrics(path).text, read_lyrics(path).source) == (SONG, "vorbis")


def test_mp3_uslt(tmp_path):
    path = write_audio(tmp_path / "song.mp3", synth(1.0), format="MP3")
    id3 = ID3()
    id3.add(USLT(encoding=3, lang="eng", desc="", text=SONG + "\n"))
    id3.save(path)
    found = read_lyrics(path)
    assert (found.text, found.source) == (SONG, "uslt")


def test_mp3_sylt_joined_in_order(tmp_path):
    path = write_audio(tmp_path / "song.mp3", synth(1.0), format="MP3")
    id3 = ID3()
    pairs = [("I walked along the river\n", 12000), ("The water knew my name\n", 15300), ("la la", 18000)]
    id3.add(SYLT(encoding=3, lang="eng", format=2, type=1, desc="", text=pairs))
    id3.save(path)
    found = read_lyrics(path)
    assert (found.text, found.source) == ("I walked along the river\nThe water knew my name\nla la", "sylt")


def test_mp3_uslt_preferred_over_sylt(tmp_path):
    path = write_audio(tmp_path / "song.mp3", synth(1.0), format="MP3")
    id3 = ID3()
    id3.add(SYLT(encoding=3, lang="eng", format=2, type=1, desc="", text=[("synced", 0)]))
    id3.add(USLT(encoding=3, lang="eng", desc="", text="unsynced"))
    id3.save(path)
    assert read_lyrics(path).text == "unsynced"


def test_m4a_lyr_atom(tmp_path):
    path = tmp_path / "song.m4a"
    shutil.copyfile(TINY_M4A, path)
    tags = MP4(path)
    tags["\xa9lyr"] = SONG
    tags.save()
    found = read_lyrics(path)
    assert (found.text, found.source) == (SONG, "mp4")


@pytest.mark.parametrize("marker", ["[Instrumental]", "instrumental", "(Instrumental)", "  INSTRUMENTAL.\n"])
def test_instrumental_marker_means_no_lyrics(tmp_path, marker):
    path = _flac(tmp_path, LYRICS=marker)
    found = read_lyrics(path)
    assert found.has_lyrics is False and found.instrumental is True and found.text == ""
    assert found.source == "vorbis"


def test_instrumental_sidecar_stops_the_search(tmp_path):
    (tmp_path / "song.txt").write_text("[instrumental]\n", encoding="utf-8")
    path = _flac(tmp_path, LYRICS="stale words from another version")
    found = read_lyrics(path)
    assert (found.has_lyrics, found.instrumental, found.source) == (False, True, "txt")


def test_a_song_mentioning_instrumental_keeps_its_lyrics(tmp_path):
    path = _flac(tmp_path)
    (tmp_path / "song.txt").write_text("the instrumental break\ncomes after this line", encoding="utf-8")
    assert read_lyrics(path).has_lyrics


def test_no_lyrics_anywhere(tmp_path):
    path = write_audio(tmp_path / "plain.wav", synth(1.0))
    assert read_lyrics(path) == NO_LYRICS
    assert NO_LYRICS.has_lyrics is False and NO_LYRICS.instrumental is False


def test_unreadable_file_and_sidecar_are_noted_not_raised(tmp_path):
    path = tmp_path / "junk.mp3"
    path.write_bytes(b"not an mp3" * 20)
    (tmp_path / "junk.lrc").mkdir()  # a folder where the sidecar should be: not a file, skipped
    found = read_lyrics(path)
    assert found.has_lyrics is False and found.source == "none"
    assert found.problem == f"{path}: tags unreadable (HeaderNotFoundError)"


def test_read_tags_lyrics_follow_the_same_order(tmp_path):
    (tmp_path / "song.lrc").write_text(LRC, encoding="utf-8")
    path = _flac(tmp_path, LYRICS="embedded words")
    assert read_tags(path)["lyrics"] == SONG
