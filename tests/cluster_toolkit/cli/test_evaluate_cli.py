import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.store import LibraryStore

runner = CliRunner()


def _library(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(["Jazz", "Rock", "Folk"], 6)
    x = (np.eye(3, 6)[np.repeat([0, 1, 2], 6)] * 3 + 0.1 * rng.normal(size=(18, 6))).astype(np.float32)
    tracks = pd.DataFrame(
        {
            "track_id": [f"t{i:02d}" for i in range(18)],
            "path": [str(tmp_path / "music" / g / f"{i}.flac") for i, g in enumerate(labels)],
            "genre": [g.lower() for g in labels],
        }
    )
    store = LibraryStore.open(tmp_path / "lib", create=True)
    store.import_tabular(tracks, x, {"name": "synthetic", "columns": list("abcdef")})
    return tmp_path / "lib"


def test_evaluate_prints_every_metric(tmp_path):
    lib = _library(tmp_path)
    result = runner.invoke(app, ["evaluate", "--labels", "folder", "--library", str(lib)])
    assert result.exit_code == 0, result.output
    for text in ("recall@10", "map@5", "k-means NMI (k=3, 10 seeds)", "linear probe accuracy (5-fold x 10)",
                 "relative gap"):
        assert text in result.output
    assert "18 / 3" in result.output


def test_evaluate_json_has_the_numbers(tmp_path):
    lib = _library(tmp_path)
    result = runner.invoke(app, ["evaluate", "--labels", "tag", "--library", str(lib), "--json", "--k", "1,3"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["retrieval"]["recall@1"] == 1.0 and "map@3" in report["retrieval"]
    assert report["clustering"]["nmi"] == 1.0
    assert report["model_id"].startswith("synthetic-")
    assert report["linear_probe"]["repeats"] == 10 and report["linear_probe"]["folds"] == 5  # 18 tracks: 10 repeats
    assert report["clustering"]["kmeans_seeds"] == 10 and report["clustering"]["nmi_std"] == 0.0
    assert report["retrieval_ci95"]["recall@1"] == [1.0, 1.0]  # every query right: nothing to resample
    one = runner.invoke(app, ["evaluate", "--labels", "tag", "--library", str(lib), "--json", "--probe-repeats", "1",
                              "--kmeans-seeds", "2"])
    assert one.exit_code == 0, one.output
    one = json.loads(one.output)
    assert one["linear_probe"]["repeats"] == 1 and one["clustering"]["kmeans_seeds"] == 2


def test_evaluate_error_paths(tmp_path):
    lib = _library(tmp_path)
    missing = runner.invoke(app, ["evaluate", "--labels", "folder", "--library", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "error:" in missing.output
    bad_k = runner.invoke(app, ["evaluate", "--labels", "folder", "--library", str(lib), "--k", "x"])
    assert bad_k.exit_code == 2 and "--k 'x'" in bad_k.output
    playlist = runner.invoke(app, ["evaluate", "--labels", "playlist", "--library", str(lib)])
    assert playlist.exit_code == 2 and "needs --playlists" in playlist.output
    unknown = runner.invoke(app, ["evaluate", "--labels", "mood", "--library", str(lib)])
    assert unknown.exit_code == 2 and "--labels 'mood'" in unknown.output
