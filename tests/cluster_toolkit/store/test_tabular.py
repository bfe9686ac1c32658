# ruff: noqa: E501
import matplotlib
import numpy as np
import pandas as pd
import pytest

from cluster_toolkit.cluster_library import ClusterOptions, cluster_library
from cluster_toolkit.errors import UsageError
from cluster_toolkit.store import LibraryStore
from cluster_toolkit.store.tabular import analyze_features, import_features, read_feature_table
from tests.pictures import assert_drawn, colour_share

KAGGLE = """,track_id,artists,album_name,track_name,popularity,duration_ms,explicit,danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,time_signature,track_genre
0,5SuOikwiRyPMVoIQDJUgSV,Gen Hoshino,Comedy,Comedy,73,230666,False,0.676,0.461,1,-6.746,0,0.143,0.0322,1.01e-06,0.358,0.715,87.917,4,acoustic
1,4qPNDBW1i3p13qLCt0Ki3A,Ben Woodward,Ghost,Ghost - Acoustic,55,149610,False,0.42,0.166,1,-17.235,1,0.0763,0.924,5.56e-06,0.101,0.267,77.489,4,acoustic
2,1iJBSr7s7jYXzM8EGcbK5b,Ingrid Michaelson;ZAYN,To Begin Again,To Begin Again,57,210826,False,0.438,0.359,0,-9.734,1,0.0557,0.21,0,0.117,0.12,76.332,4,acoustic
3,5SuOikwiRyPMVoIQDJUgSV,Gen Hoshino,Comedy,Comedy,73,230666,False,0.676,0.461,1,-6.746,0,0.143,0.0322,1.01e-06,0.358,0.715,87.917,4,j-pop
4,6Vc5wAMmXdKIAM7WUoEb7N,Kina Grannis,Crazy Rich Asians,Can't Help Falling In Love,82,201933,False,0.266,0.0596,-1,-18.515,1,0.0363,,7.07e-05,0.132,0.143,181.74,3,acoustic
"""

FEATURES_CSV = """genre,artist_name,track_name,track_id,popularity,acousticness,danceability,duration_ms,energy,instrumentalness,key,liveness,loudness,mode,speechiness,tempo,time_signature,valence
Movie,Henri Salvador,C'est beau de faire un Show,0BRjO6ga9RKCKjfDqeFgWV,0,0.611,0.389,99373,0.91,0,C#,0.346,-1.828,Major,0.0525,166.969,4/4,0.814
Movie,Martin & les fées,Perdu d'avance (par Gad Elmaleh),0BjC1NfoEOOusryehmNudP,1,0.246,0.59,137373,0.737,0,F#,0.151,-5.559,Minor,0.0868,174.003,4/4,0.816
R&B,Joseph Williams,Don't Let Me Be Lonely Tonight,0CoSDzoNIKCRs124s9uTVy,3,0.952,0.663,170267,0.131,0,C,0.103,-13.879,Minor,0.0362,99.488,5/4,0.368
"""

DATA_CSV = """valence,year,acousticness,artists,danceability,duration_ms,energy,explicit,id,instrumentalness,key,liveness,loudness,mode,name,popularity,release_date,speechiness,tempo
0.0594,1921,0.982,"['Sergei Rachmaninoff', 'James Levine', 'Berliner Philharmoniker']",0.279,831667,0.211,0,4BJqT0PrAfrxzMOxytFOIz,0.878,10,0.665,-20.096,1,"Piano Concerto No.3 in D Minor, Op.30: III. Finale. Alla breve",4,1921,0.0366,80.954
0.963,1921,0.732,['Dennis Day'],0.819,180533,0.341,0,7xPhfUan2yNtyFG0cUWkt8,0,7,0.16,-12.441,1,Clancy Lowered the Boom,5,1921,0.415,60.936
0.0394,1921,0.961,['KHP Kridhamardawa Karaton Ngayogyakarta Hadiningrat'],0.328,500062,0.166,0,1o6I8BglA6ylDMrIELygv1,0.913,3,0.101,-14.85,1,Gati Bali,5,1921,0.0339,110.339
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_kaggle_layout_merges_duplicates_and_standardises(tmp_path):
    table = read_feature_table(_write(tmp_path, "dataset.csv", KAGGLE))
    assert table.layout == "kaggle-spotify-tracks"
    assert table.n_rows_read == 5 and table.n_merged == 1 and len(table.tracks) == 4
    first = table.tracks.iloc[0]
    assert (first["track_id"], first["title"], first["genre"]) == ("5SuOikwiRyPMVoIQDJUgSV", "Comedy", "acoustic; j-pop")
    assert table.tracks.iloc[2]["artist"] == "Ingrid Michaelson, ZAYN"
    assert table.tracks.iloc[0]["duration_s"] == pytest.approx(230.666)
    assert "key_sin" in table.columns and "key_cos" in table.columns and "key" not in table.columns
    # key -1 and the missing acousticness are imputed (2 key columns + 1 acousticness)
    assert table.n_imputed == 3
    np.testing.assert_allclose(table.matrix.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(table.matrix.std(axis=0), 1.0, atol=1e-5)
    energy = table.columns.index("energy")
    raw_energy = np.array([0.461, 0.166, 0.359, 0.0596])
    np.testing.assert_allclose(table.matrix[:, energy], (raw_energy - raw_energy.mean()) / raw_energy.std(), rtol=1e-5)


def test_spotify_features_layout_parses_key_and_mode_names(tmp_path):
    table = read_feature_table(_write(tmp_path, "SpotifyFeatures.csv", FEATURES_CSV))
    assert table.layout == "spotify-features"
    assert table.raw["key"].tolist() == [1.0, 6.0, 0.0] and table.raw["mode"].tolist() == [1.0, 0.0, 0.0]
    assert table.tracks["artist"].tolist()[0] == "Henri Salvador" and table.tracks["genre"].tolist()[2] == "R&B"


def test_data_csv_layout_parses_artist_lists(tmp_path):
    table = read_feature_table(_write(tmp_path, "data.csv", DATA_CSV))
    assert table.layout == "spotify-data-1921-2020"
    assert table.tracks["artist"][0] == "Sergei Rachmaninoff, James Levine, Berliner Philharmoniker"
    assert table.tracks["title"][1] == "Clancy Lowered the Boom" and table.tracks["track_id"][2] == "1o6I8BglA6ylDMrIELygv1"


def test_generic_table_without_ids_and_chosen_features(tmp_path):
    path = _write(tmp_path, "mine.csv", "title,artist,energy,tempo\nA,X,0.1,100\nB,Y,0.9,140\nC,Z,0.5,120\n")
    table = read_feature_table(path, features=["energy", "tempo"])
    assert table.layout == "generic" and table.columns == ["energy", "tempo"]
    assert all(t.startswith("tab-") for t in table.tracks["track_id"]) and table.tracks["track_id"].is_unique


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("a,b\n1,2\n", {}, "fewer than 2 known feature columns"),
        ("energy,tempo,valence\n0.5,100,1\n0.5,120,1\n", {}, "fewer than 2 usable.*constant: \\['energy', 'valence'\\]"),
        ("energy,tempo\n0.5,100\n0.6,120\n", {"features": ["energy", "danceability"]}, "\\['danceability'\\] not found"),
        ("energy,tempo\nx,100\ny,120\n", {}, "\\['energy'\\] have no numeric values"),
    ],
)
def test_bad_tables(tmp_path, text, kwargs, message):
    with pytest.raises(UsageError, match=message):
        read_feature_table(_write(tmp_path, "bad.csv", text), **kwargs)
    with pytest.raises(UsageError, match="cannot read"):
        read_feature_table(tmp_path / "missing.csv")


def _feature_csv(tmp_path, n_per_group=15):
    rng = np.random.default_rng(0)
    rows = []
    for g, (energy, acoustic, tempo, valence) in enumerate([(0.9, 0.05, 170, 0.8), (0.2, 0.9, 90, 0.3), (0.6, 0.4, 120, 0.5)]):
        for i in range(n_per_group):
            rows.append({"id": f"id{g}{i:02d}", "name": f"song {g}-{i}", "artists": f"['Band {g}']",
                         "genre": ["rock", "folk", "pop"][g], "energy": energy + rng.normal(0, 0.03),
                         "acousticness": acoustic + rng.normal(0, 0.03), "tempo": tempo + rng.normal(0, 3),
                         "valence": valence + rng.normal(0, 0.03), "liveness": 0.1})  # fmt: skip
    path = tmp_path / "features.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_import_then_cluster_and_analyze(tmp_path):
    store = LibraryStore.open(tmp_path / "lib", create=True)
    table = import_features(store, _feature_csv(tmp_path))
    assert table.dropped == ["liveness"]  # constant
    assert store.meta["source"] == "tabular" and store.dim == len(table.columns) == 4
    tracks, X = store.track_embeddings()
    assert len(tracks) == 45 and X.shape == (45, 4)
    assert store.read_table("features").shape == (45, 6)  # track_id + 5 raw columns
    out = cluster_library(store, ClusterOptions(method="kmeans", k="auto", k_max=6), reference="genre")
    assert out.run.n_clusters == 3 and out.run.metrics["external"]["ari"] == pytest.approx(1.0)
    assert out.run.params["requested"]["normalize"] is False
    views = analyze_features(store, tmp_path / "views", run_id=out.run.run_id)
    assert set(views) == {"distributions", "correlation", "features by cluster"}
    coolwarm, rdbu = matplotlib.colormaps["coolwarm"], matplotlib.colormaps["RdBu_r"]
    assert_drawn(views["distributions"], colours=("#3a6ea5",), min_share=0.03)  # the histograms' bars
    assert_drawn(views["correlation"], colours=(coolwarm(1.0), coolwarm(0.0)))  # r = 1 on the diagonal; energy
    by_cluster = assert_drawn(views["features by cluster"])  # vs acousticness: r near -1
    # the colour scale ends at the largest |mean z-score|: some cell has one end's colour
    assert max(colour_share(by_cluster, rdbu(0.0)), colour_share(by_cluster, rdbu(1.0))) > 0.005


def test_analyze_needs_a_tabular_library(library, tmp_path):
    with pytest.raises(UsageError, match="no feature table"):
        analyze_features(library, tmp_path)
