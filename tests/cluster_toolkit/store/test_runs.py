import json

import numpy as np
import pandas as pd
import pytest

from cluster_toolkit.cluster_library import ClusterOptions, cluster_library
from cluster_toolkit.errors import UsageError
from cluster_toolkit.store.runs import (
    LABEL_COLUMNS,
    delete_run,
    export_run_csv,
    list_runs,
    load_run,
    make_run_id,
    resolve_run_id,
)


def test_run_id_is_deterministic_and_input_sensitive():
    X = np.ones((2, 3), dtype=np.float32)
    a = make_run_id("kmeans", {"k": 3}, seed=0, model_id="m", track_ids=["a", "b"], embeddings=X)
    assert a == make_run_id("kmeans", {"k": 3}, seed=0, model_id="m", track_ids=["a", "b"], embeddings=X)
    assert a.startswith("kmeans-") and len(a) == len("kmeans-") + 10
    others = [
        make_run_id("kmeans", {"k": 4}, seed=0, model_id="m", track_ids=["a", "b"], embeddings=X),
        make_run_id("kmeans", {"k": 3}, seed=1, model_id="m", track_ids=["a", "b"], embeddings=X),
        make_run_id("kmeans", {"k": 3}, seed=0, model_id="m", track_ids=["a", "c"], embeddings=X),
        make_run_id("kmeans", {"k": 3}, seed=0, model_id="m", track_ids=["a", "b"], embeddings=X * 2),
    ]
    assert len({a, *others}) == 5


def test_save_load_and_rerun_replaces_the_same_run(library):
    first = cluster_library(library, ClusterOptions(method="kmeans", k=3, seed=0), reference="folder")
    again = cluster_library(library, ClusterOptions(method="kmeans", k=3, seed=0), reference="folder")
    assert first.run.run_id == again.run.run_id
    assert list(list_runs(library)["run_id"]) == [first.run.run_id]
    run = load_run(library, first.run.run_id[:12])
    assert run.n_clusters == 3 and run.n_noise == 0 and run.seed == 0
    assert run.params["requested"]["k"] == 3 and run.params["used"]["n_clusters"] == 3
    assert run.metrics["external"]["nmi"] == pytest.approx(1.0)
    assert run.metrics["internal"]["silhouette"] > 0.5
    assert list(run.labels.columns) == LABEL_COLUMNS
    assert len(run.labels) == 60 and set(run.labels["label"]) == {0, 1, 2}
    np.testing.assert_array_equal(run.labels["label"].to_numpy(), first.run.labels["label"].to_numpy())


def test_runs_table_columns_and_json(library):
    out = cluster_library(library, ClusterOptions(method="hdbscan", min_cluster_size=5))
    row = library.read_table("cluster_runs").iloc[0]
    assert list(library.read_table("cluster_runs").columns) == [
        "run_id", "method", "params", "model_id", "metrics", "n_clusters", "n_noise", "created_at", "seconds",
        "seed",
    ]
    assert row["model_id"] == "toy-000000000001" and row["method"] == "hdbscan"
    assert json.loads(row["params"])["used"]["min_cluster_size"] == 5
    labels = library.read_table("cluster_labels")
    assert labels["probability"].between(0, 1).all() and labels["outlier_score"].notna().all()
    assert (out.run.labels["label"] >= -1).all()


def test_export_csv_round_trip(library, tmp_path):
    run = cluster_library(library, ClusterOptions(method="hierarchical", k=3)).run
    path = export_run_csv(library, run.run_id, tmp_path / "out" / "labels.csv")
    table = pd.read_csv(path)
    assert list(table.columns[:6]) == ["track_id", "label", "probability", "outlier_score", "core", "assigned"]
    assert len(table) == 60 and set(table["label"]) == {0, 1, 2}
    # one folder per cluster, sorted by label then artist/title
    assert table.groupby("label")["path"].agg(lambda p: len({x.split("/")[2] for x in p})).tolist() == [1, 1, 1]
    assert table["label"].is_monotonic_increasing


def test_resolve_and_delete(library):
    with pytest.raises(UsageError, match="no cluster runs yet"):
        resolve_run_id(library, "x")
    a = cluster_library(library, ClusterOptions(method="kmeans", k=2)).run.run_id
    b = cluster_library(library, ClusterOptions(method="kmeans", k=3)).run.run_id
    assert resolve_run_id(library, "latest") == b
    with pytest.raises(UsageError, match="ambiguous"):
        resolve_run_id(library, "kmeans-")
    with pytest.raises(UsageError, match="no cluster run 'nope'"):
        load_run(library, "nope")
    assert delete_run(library, a) == a
    assert list(list_runs(library)["run_id"]) == [b]
    assert set(library.read_table("cluster_labels")["run_id"]) == {b}
