import numpy as np
import pandas as pd
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.store import LibraryStore
from cluster_toolkit.store.runs import load_run

runner = CliRunner()


def ctk(*args: str):
    result = runner.invoke(app, list(args))
    result.flat = " ".join(result.output.split())
    return result


def _kaggle_csv(path, n=12):
    rng = np.random.default_rng(1)
    rows = []
    for g, (genre, energy, acoustic) in enumerate([("metal", 0.95, 0.02), ("folk", 0.2, 0.9)]):
        for i in range(n):
            rows.append({"track_id": f"{genre}{i:02d}", "artists": f"{genre.title()} Band;Guest", "album_name": "A",
                         "track_name": f"{genre} {i}", "popularity": 50, "duration_ms": 200000,
                         "danceability": 0.5 + rng.normal(0, 0.02), "energy": energy + rng.normal(0, 0.02),
                         "key": i % 12, "loudness": -5 - 10 * g + rng.normal(0, 0.5), "mode": i % 2,
                         "acousticness": acoustic + rng.normal(0, 0.02), "tempo": 150 - 60 * g + rng.normal(0, 2),
                         "valence": 0.4 + rng.normal(0, 0.02), "track_genre": genre})  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_import_cluster_map_analyze_round_trip(tmp_path):
    csv = _kaggle_csv(tmp_path / "dataset.csv")
    lib = tmp_path / "lib"
    dry = ctk("import-features", str(csv), "-L", str(lib), "--dry-run")
    assert dry.exit_code == 0 and "kaggle-spotify-tracks" in dry.flat and not lib.exists()
    done = ctk("import-features", str(csv), "-L", str(lib))
    assert done.exit_code == 0, done.output
    assert "key_sin" in done.flat and "duplicates merged" in done.flat
    store = LibraryStore.open(lib)
    assert len(store.tracks()) == 24
    assert store.meta["source"] == "tabular"
    assert set(store.tracks()["artist"]) == {"Folk Band, Guest", "Metal Band, Guest"}

    clustered = ctk("cluster", "-L", str(lib), "--method", "hierarchical", "--k", "2", "--labels", "genre")
    assert clustered.exit_code == 0, clustered.output
    assert load_run(store, "latest").metrics["external"]["ari"] == 1.0

    out = tmp_path / "views"
    analyzed = ctk("analyze-features", "-L", str(lib), "--run", "latest", "--out", str(out))
    assert analyzed.exit_code == 0, analyzed.output
    assert sorted(p.name for p in out.iterdir()) == ["correlation.png", "distributions.png", "features_by_cluster.png"]


def test_import_refuses_to_overwrite_audio_library(library, tmp_path):
    csv = _kaggle_csv(tmp_path / "dataset.csv")
    result = ctk("import-features", str(csv), "-L", str(library.root))
    assert result.exit_code == 2 and "holds audio embeddings" in result.flat and "--replace" in result.flat
    assert ctk("import-features", str(csv), "-L", str(library.root), "--replace").exit_code == 0


def test_feature_cli_errors(library, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = ctk("import-features", str(bad), "-L", str(tmp_path / "new"))
    assert result.exit_code == 2 and "fewer than 2 known feature columns" in result.flat
    assert ctk("import-features", str(tmp_path / "missing.csv")).exit_code == 2
    analyzed = ctk("analyze-features", "-L", str(library.root))
    assert analyzed.exit_code == 2 and "no feature table" in analyzed.flat


def test_numeric_features_of_the_example_table(tmp_path):
    from pathlib import Path

    csv = Path(__file__).resolve().parents[3] / "examples" / "features_sample.csv"
    lib = tmp_path / "lib"
    done = ctk("import-features", str(csv), "-L", str(lib), "--features", "numeric")
    assert done.exit_code == 0, done.output
    store = LibraryStore.open(lib)
    features = store.read_table("features")
    # every numeric column but the id and the label; key becomes its two circle coordinates
    assert list(features.columns) == ["track_id", "tempo_bpm", "spectral_centroid_hz", "rms", "onset_rate", "warmth",
                                      "key"]
    assert "key_sin, key_cos" in done.flat and "label" not in done.flat.split("features (standardised)")[1]
    assert len(store.tracks()) == 24 and set(store.tracks()["genre"]) == {"Ambient", "Drum and Bass", "Folk"}
    clustered = ctk("cluster", "-L", str(lib), "--method", "kmeans", "--k", "3", "--labels", "genre", "--seed", "0")
    assert clustered.exit_code == 0, clustered.output
    assert load_run(store, "latest").metrics["external"]["ari"] > 0.9
    few = tmp_path / "few.csv"
    few.write_text("id,title,label,energy\na,x,1,0.5\nb,y,0,0.7\n")
    res = ctk("import-features", str(few), "-L", str(tmp_path / "l2"), "--features", "numeric", "--dry-run")
    assert res.exit_code == 2 and "--features numeric found 1 numeric feature column(s) ['energy']" in res.flat
