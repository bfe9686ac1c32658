import pandas as pd
import pytest

from cluster_toolkit.errors import UsageError
from cluster_toolkit.reference_labels import reference_labels

TRACKS = pd.DataFrame(
    {
        "track_id": ["t1", "t2", "t3"],
        "path": ["/m/Jazz/a.flac", "/m/Rock/b.flac", None],
        "genre": ["Jazz; Bebop", None, "  "],
        "album": ["X", "Y", "X"],
    }
)


def test_folder_genre_and_column():
    assert reference_labels(TRACKS, "folder").tolist() == ["Jazz", "Rock", None]
    assert reference_labels(TRACKS, "genre").tolist() == ["Jazz", None, None]
    assert reference_labels(TRACKS, "tag").tolist() == ["Jazz", None, None]  # ctk evaluate's word for it
    assert reference_labels(TRACKS, "album").tolist() == ["X", "Y", "X"]
    assert reference_labels(TRACKS, "column:album").tolist() == ["X", "Y", "X"]


def test_csv_by_track_id_or_path(tmp_path):
    by_id = tmp_path / "ids.csv"
    by_id.write_text("track_id,mood\nt1,calm\nt3,loud\n")
    assert reference_labels(TRACKS, f"csv:{by_id}").tolist() == ["calm", None, "loud"]
    by_path = tmp_path / "paths.csv"
    by_path.write_text("path,label,other\n/m/Rock/b.flac,guitar,zzz\n")
    assert reference_labels(TRACKS, f"csv:{by_path}").tolist() == [None, "guitar", None]


def test_bad_specs(tmp_path):
    with pytest.raises(UsageError, match=r"expected folder, genre \(or tag\), csv:PATH or a column"):
        reference_labels(TRACKS, "mood")
    with pytest.raises(UsageError, match="cannot read the CSV"):
        reference_labels(TRACKS, f"csv:{tmp_path / 'missing.csv'}")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,label\nx,y\n")
    with pytest.raises(UsageError, match="needs a track_id or path column"):
        reference_labels(TRACKS, f"csv:{bad}")
