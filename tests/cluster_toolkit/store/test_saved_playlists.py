import json

import numpy as np
import pandas as pd
import pytest

from cluster_toolkit.errors import UsageError
from cluster_toolkit.store import LibraryStore
from cluster_toolkit.store.saved_playlists import (
    list_playlists,
    load_fragments,
    load_library,
    playlist_file_track_ids,
    playlist_from_ids,
    save_playlist,
)
from playlists.json_export import playlist_json
from playlists.m3u import m3u8_text
from tests.cluster_toolkit.cli._playlist_cli_store import build_store


@pytest.fixture
def store(tmp_path):
    return build_store(tmp_path / "lib", tmp_path / "music")


def test_playlist_files_map_back_to_track_ids(store, tmp_path):
    lib = load_library(store)
    ids = ["metal002", "jazz007", "techno000"]
    m3u = tmp_path / "sub" / "a.m3u8"
    m3u.parent.mkdir()
    m3u.write_text(m3u8_text(lib.tracks, ids, playlist_path=m3u) + "../gone.flac\n")
    assert playlist_file_track_ids(m3u, lib) == (ids, [str((tmp_path / "gone.flac").resolve())])
    doc = tmp_path / "a.json"
    text = playlist_json(playlist_from_ids(lib, ids, method="file", params={}), lib.tracks, playlist_path=doc)
    data = json.loads(text)
    data["tracks"][1]["track_id"] = "renamed"  # found again by its path
    data["tracks"].append({"track_id": "nope", "path": "nowhere.flac"})
    doc.write_text(json.dumps(data))
    assert playlist_file_track_ids(doc, lib) == (ids, ["nope"])
    doc.write_text("{}")
    with pytest.raises(UsageError, match="not a ctk JSON playlist"):
        playlist_file_track_ids(doc, lib)


def test_save_replaces_the_same_playlist_and_keeps_metrics(store):
    lib = load_library(store)
    p = playlist_from_ids(lib, ["jazz000", "jazz001"], method="file", params={"length": 2})
    first = save_playlist(store, p, name="two")
    assert save_playlist(store, p, name="two again") == first
    other = save_playlist(store, playlist_from_ids(lib, ["jazz001"], method="file", params={}), name="one")
    table = list_playlists(store)
    assert table["playlist_id"].tolist() == [first, other]
    row = table.iloc[0]
    assert row["name"] == "two again" and list(row["track_ids"]) == ["jazz000", "jazz001"]
    assert json.loads(row["metrics"])["n_tracks"] == 2.0 and row["requested_length"] == 2


def test_fragments_fall_back_to_tracks_for_tabular_stores(store, tmp_path):
    lib = load_library(store)
    frags, vectors = load_fragments(store, lib)
    assert len(frags) == 3 * len(lib) and vectors.shape == (3 * len(lib), lib.embeddings.shape[1])
    tab = LibraryStore.open(tmp_path / "tab", create=True)
    tracks = pd.DataFrame({"track_id": ["a", "b"], "path": ["/x/a", "/x/b"], "title": ["A", "B"]})
    tab.import_tabular(tracks, np.eye(2, 4, dtype=np.float32), {"name": "features", "dim": 4})
    tlib = load_library(tab)
    frags, vectors = load_fragments(tab, tlib)
    assert frags["track_id"].tolist() == ["a", "b"] and frags["start_s"].isna().all()
    assert np.allclose(vectors, tlib.embeddings)
