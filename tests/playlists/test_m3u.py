from pathlib import Path

import pandas as pd
import pytest

from embeddings.m3u import read_m3u
from playlists.errors import ExportError
from playlists.m3u import m3u8_text, write_m3u8

GOLDEN = Path(__file__).parent / "golden"


def tracks_under(root: Path) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "track_id": ["aaa111", "bbb222", "ccc333"],
            "path": [str(root / "music" / "Artist A" / "One.flac"), str(root / "music" / "Björk" / "Jóga.flac"),
                     str(root / "other" / "x.mp3")],
            "artist": ["Artist A", "Björk", None],
            "title": ["One", "Jóga", None],
            "album": ["First", None, None],
            "isrc": ["GBAYE0000001", None, None],
            "duration_s": [245.4, 305.5, float("nan")],
        }
    )


def test_relative_m3u8_matches_the_golden_bytes(tmp_path):
    tracks = tracks_under(tmp_path)
    out = tmp_path / "playlists" / "evening.m3u8"
    text = m3u8_text(tracks, ["aaa111", "bbb222", "ccc333"], playlist_path=out, name="Evening")
    assert not out.exists()  # text only: this is what --dry-run shows
    write_m3u8(text, out)
    assert out.read_bytes() == (GOLDEN / "evening_relative.m3u8").read_bytes()
    assert read_m3u(out) == tracks["path"].tolist()


def test_absolute_m3u8_matches_the_golden_bytes():
    tracks = tracks_under(Path("/srv"))
    text = m3u8_text(tracks, ["bbb222", "aaa111"], playlist_path=Path("/tmp/x.m3u8"), relative=False)
    assert text.encode("utf-8") == (GOLDEN / "absolute.m3u8").read_bytes()
    assert m3u8_text(tracks, ["bbb222", "aaa111"]) == text  # no playlist file: absolute paths


def test_a_backslash_in_a_path_is_written_as_a_uri_and_reads_back(tmp_path):
    odd = str(tmp_path / "music" / "AC\\DC.flac")  # a legal Linux name; a bare line would read as AC/DC.flac
    tracks = pd.DataFrame({"track_id": ["a"], "path": [odd], "artist": ["AC/DC"], "title": ["T"],
                           "duration_s": [1.0]})  # fmt: skip
    out = tmp_path / "list.m3u8"
    text = m3u8_text(tracks, ["a"], playlist_path=out)
    assert text.splitlines()[-1] == f"file://{tmp_path}/music/AC%5CDC.flac"
    write_m3u8(text, out)
    assert read_m3u(out) == [odd]


def test_an_objects_url_is_written_as_it_is_never_made_relative(tmp_path):
    url = "s3://bucket/audio/Artist A/One.flac"  # a track embedded from object storage (ctk embed s3://...)
    tracks = pd.DataFrame({"track_id": ["a", "b"], "path": [url, str(tmp_path / "music" / "x.flac")],
                           "artist": ["Artist A", None], "title": ["One", None], "duration_s": [245.4, 1.0]})
    text = m3u8_text(tracks, ["a", "b"], playlist_path=tmp_path / "lists" / "p.m3u8")
    assert text.splitlines()[1:] == ["#EXTINF:245,Artist A - One", url, "#EXTINF:1,x", "../music/x.flac"]


def test_errors(tmp_path):
    tracks = tracks_under(tmp_path)
    with pytest.raises(ExportError, match="not in the track table"):
        m3u8_text(tracks, ["zzz"])
    with pytest.raises(ExportError, match="no 'path' column"):
        m3u8_text(tracks.drop(columns="path"), ["aaa111"])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="cannot write playlist file"):
        write_m3u8("#EXTM3U\n", blocker / "sub" / "p.m3u8")
