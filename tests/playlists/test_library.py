import numpy as np
import pandas as pd
import pytest

from playlists.errors import PlaylistError
from playlists.library import Library
from playlists.playlist import Playlist


def test_library_aligns_and_normalises(tracks_of):
    lib = Library(tracks_of(3), np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]]))
    assert np.allclose(np.linalg.norm(lib.embeddings, axis=1), 1)
    assert lib.indices(["id0002", "id0000"]).tolist() == [2, 0]
    assert lib.ids([1]) == ["id0001"]
    assert lib.column("artist", [0]) == ["Artist 0"] and lib.column("nope", [0]) == [None]
    with pytest.raises(PlaylistError, match="not in the library: \\['x'\\]"):
        lib.indices(["x"])


def test_library_rejects_misaligned_or_duplicate_tables(tracks_of):
    with pytest.raises(PlaylistError, match="do not align"):
        Library(tracks_of(3), np.zeros((2, 4)))
    with pytest.raises(PlaylistError, match="duplicate track_id"):
        Library(pd.DataFrame({"track_id": ["a", "a"]}), np.eye(2))
    with pytest.raises(PlaylistError, match="'track_id' column"):
        Library(pd.DataFrame({"id": ["a"]}), np.eye(1))


def test_playlist_length_bookkeeping():
    p = Playlist(["a", "b"], "hull", params={"length": 3})
    assert len(p) == 2 and p.requested_length == 3 and not p.complete
    assert Playlist(["a"], "similar").complete
