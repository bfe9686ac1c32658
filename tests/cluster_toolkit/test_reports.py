import numpy as np
import pandas as pd
import pytest

from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.reports import cluster_summary, cohesion, track_name


def test_cohesion_matches_pairwise_mean():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 5))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    pairs = [X[i] @ X[j] for i in range(7) for j in range(7) if i != j]
    assert cohesion(X) == pytest.approx(np.mean(pairs))
    assert cohesion(X[:1]) is None


def test_summary_by_hand():
    tracks = pd.DataFrame(
        {
            "track_id": ["a", "b", "c", "d", "e", "f"],
            "artist": ["A", "B", "C", "D", "E", None],
            "title": ["ta", "tb", "tc", "td", "te", None],
            "path": ["/m/a.mp3", "/m/b.mp3", "/m/c.mp3", "/m/d.mp3", "/m/e.mp3", "/m/f.mp3"],
            "genre": ["Rock; Pop", "Rock", "Pop", "Jazz", "Jazz", None],
        }
    )
    # cluster 0: three vectors, b is the middle one (the medoid); cluster 1: d, e; f is noise
    X = np.array([[1.0, 0.0], [1.0, 0.2], [1.0, 0.4], [0.0, 1.0], [0.1, 1.0], [-1.0, -1.0]])
    labels = np.array([0, 0, 0, 1, 1, -1])
    table = cluster_summary(tracks, X, labels, n_medoids=2)
    assert table["cluster"].tolist() == [0, 1, -1]
    assert table["size"].tolist() == [3, 2, 1]
    assert table["share"].tolist() == pytest.approx([0.5, 1 / 3, 1 / 6])
    assert table.loc[0, "medoids"][0] == "B - tb"
    assert table.loc[0, "medoid_ids"][0] == "b"
    assert table.loc[0, "top_genres"] == ["Rock (2)", "Pop (2)"]
    assert table.loc[1, "top_genres"] == ["Jazz (2)"]
    unit = X[3:5] / np.linalg.norm(X[3:5], axis=1, keepdims=True)
    assert table.loc[1, "cohesion"] == pytest.approx(float(unit[0] @ unit[1]))
    assert pd.isna(table.loc[2, "cohesion"]) and table.loc[2, "medoids"] == []


def test_track_name_fallbacks():
    assert track_name(pd.Series({"artist": "A", "title": "T"})) == "A - T"
    assert track_name(pd.Series({"artist": None, "title": None, "path": "/x/y/z.flac"})) == "z.flac"
    assert track_name(pd.Series({"track_id": "abc"})) == "abc"


def test_misaligned_inputs_raise():
    with pytest.raises(ClusteringError, match="2 tracks, 3 vectors"):
        cluster_summary(pd.DataFrame({"track_id": ["a", "b"]}), np.ones((3, 2)), np.zeros(3))


def test_cluster_names_from_folders_artists_and_genres():
    from cluster_toolkit.reports import cluster_names

    tracks = pd.DataFrame({
        "track_id": [f"t{i}" for i in range(10)],
        "artist": ["Ann", "Ann", "Ann", "Bo", None, "Cy", "Cy", "Di", "Ed", "Fay"],
        "title": [f"s{i}" for i in range(10)],
        "path": [f"/m/{'Wesnoth' if i < 4 else 'Flare' if i < 8 else 'Misc'}/s{i}.ogg" for i in range(10)],
        "genre": ["Soundtrack"] * 10,  # every track: says nothing about a cluster
    })
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, -1])
    names = cluster_names(tracks, labels, medoid_names={2: "Ed - s8"})
    assert names[0] == "Wesnoth 100% · Ann 75%"
    assert names[1] == "Flare 100% · Cy 50%"
    assert names[2] == "Ed 100% · Misc 100%"  # one track: its artist and folder (artist first on ties)
    assert names[-1] == "noise"
    summary = cluster_summary(tracks, np.eye(10)[:, :6] + 0.1, labels)
    assert summary.set_index("cluster").loc[0, "name"] == "Wesnoth 100% · Ann 75%"
    assert cluster_names(tracks.assign(path=None, artist=None), labels, medoid_names={0: "Ann - s0"})[0] == "Ann - s0"
