import json
from pathlib import Path

import numpy as np
import pandas as pd

from playlists.json_export import playlist_json, write_json
from playlists.playlist import Playlist

GOLDEN = Path(__file__).parent / "golden"


def test_json_matches_the_golden_bytes(tmp_path):
    tracks = pd.DataFrame(
        {
            "track_id": ["aaa111", "bbb222", "ccc333"],
            "path": [str(tmp_path / "music" / "Artist A" / "One.flac"), str(tmp_path / "music" / "Björk" / "Jóga.flac"),
                     str(tmp_path / "other" / "x.mp3")],
            "artist": ["Artist A", "Björk", None],
            "title": ["One", "Jóga", None],
            "album": ["First", None, np.nan],
            "isrc": ["GBAYE0000001", "", None],
            "duration_s": [245.4, np.float32(305.5), np.nan],
            "lyrics": ["not exported", None, None],
        }
    )
    playlist = Playlist(
        track_ids=["aaa111", "bbb222", "ccc333"],
        method="hull",
        params={"seeds": ["aaa111"], "margin": 0.05, "length": np.int64(3)},
        metrics={"mean_step": 0.1234567891, "max_step": float("nan"), "n_tracks": 3.0},
        notices=["only 2 tracks inside the seed hull"],
    )
    out = tmp_path / "playlists" / "evening.json"
    text = playlist_json(playlist, tracks, name="Evening", playlist_path=out)
    assert not out.exists()
    write_json(text, out)
    assert out.read_bytes() == (GOLDEN / "evening.json").read_bytes()
    doc = json.loads(text)
    assert [t["track_id"] for t in doc["tracks"]] == playlist.track_ids


def test_an_objects_url_is_exported_as_it_is(tmp_path):
    url = "s3://bucket/audio/One.flac"
    tracks = pd.DataFrame({"track_id": ["a"], "path": [url], "title": ["One"], "duration_s": [1.0]})
    playlist = Playlist(track_ids=["a"], method="similar", params={}, metrics={}, notices=[])
    doc = json.loads(playlist_json(playlist, tracks, name="x", playlist_path=tmp_path / "x.json"))
    assert doc["tracks"][0]["path"] == url
