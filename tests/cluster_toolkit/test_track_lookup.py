import pandas as pd

from cluster_toolkit.track_lookup import PlaylistEntry, TrackLocator


def table(tmp_path):
    return pd.DataFrame({
        "track_id": ["a", "b", "c", "d"],
        "path": [str(tmp_path / "m" / n) for n in ("a.flac", "b.flac", "c.flac", "d.flac")],
        "artist": ["Ada - Quartet", "Loud Ones", "Loud Ones", "Beyoncé"],
        "title": ["Blue Room", "Engine", "Engine", "Halo"],
        "duration_s": [200.0, 180.0, 420.0, 261.0],
    })  # fmt: skip


def test_path_then_tags_with_dashes_and_duration(tmp_path):
    loc = TrackLocator(table(tmp_path))
    assert loc.locate(PlaylistEntry(path=str(tmp_path / "m" / "x" / ".." / "b.flac"))) == ("b", "path")
    # "Ada - Quartet - Blue Room": the artist itself holds " - "
    assert loc.locate(PlaylistEntry(path="/gone/1.flac", label="Ada - Quartet - Blue Room")) == ("a", "tags")
    assert loc.locate(PlaylistEntry(label="Beyonce - Halo (Remastered 2011)")) == ("d", "tags")
    # two recordings of "Engine" (an album and a live one): the duration picks
    assert loc.locate(PlaylistEntry(artist="Loud Ones", title="Engine", duration_s=418)) == ("c", "tags")
    assert loc.locate(PlaylistEntry(artist="Loud Ones", title="Engine", duration_s=181)) == ("b", "tags")
    assert loc.locate(PlaylistEntry(path="/gone/2.flac", label="Nobody - Nothing")) == (None, None)
    assert loc.locate(PlaylistEntry(track_id="d", path="/elsewhere")) == ("d", "track_id")


def test_lookup_counts_how_entries_were_found(tmp_path):
    (tmp_path / "copy").mkdir()
    loc = TrackLocator(table(tmp_path))
    found = loc.lookup([PlaylistEntry(path=str(tmp_path / "m" / "a.flac")),
                        PlaylistEntry(path="/gone.flac", artist="Beyonce", title="Halo"),
                        PlaylistEntry(path="/nothing.flac")])
    assert found.track_ids == ["a", "d"] and found.missing == ["/nothing.flac"]
    assert found.found_by == {"track_id": 0, "path": 1, "content": 0, "tags": 1} and found.moved == 1
