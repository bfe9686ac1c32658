import pytest

from cluster_toolkit.cluster_library import ClusterOptions, cluster_library
from cluster_toolkit.clustering.assign_new import assign_new_tracks
from cluster_toolkit.errors import ClusteringError, StoreError
from cluster_toolkit.store.runs import load_run, run_dir


def _add_new_tracks(store, tracks, X):
    store.commit_batch(tracks, track_embeddings=X)


@pytest.mark.parametrize(
    "options",
    [
        ClusterOptions(method="kmeans", k=3),
        ClusterOptions(method="hierarchical", k=3),
        ClusterOptions(method="dbscan", eps="auto", min_samples=4),
        ClusterOptions(method="hdbscan"),
    ],
)
def test_new_tracks_get_the_cluster_of_their_genre(tmp_path, options, library_factory):
    store, new_tracks, new_X = library_factory(tmp_path / "lib", extra=2)
    run = cluster_library(store, options).run
    _add_new_tracks(store, new_tracks, new_X)
    rows, _ = assign_new_tracks(store, run.run_id)
    assert len(rows) == 6 and rows["assigned"].all()
    fitted = run.labels.set_index("track_id")["label"]
    genre_label = {g: fitted[f"{g.lower()}000"] for g in ("Jazz", "Metal", "Techno")}
    expected = [genre_label[t.rstrip("0123456789").capitalize()] for t in rows["track_id"]]
    got = rows["label"].tolist()
    # density methods may call a new track noise, never a wrong cluster
    assert all(g in (e, -1) for g, e in zip(got, expected, strict=True))
    assert sum(g == e for g, e in zip(got, expected, strict=True)) >= 5
    stored = load_run(store, run.run_id).labels
    assert stored["assigned"].sum() == 6 and len(stored) == 66
    # assigning again finds nothing new and adds nothing
    assert assign_new_tracks(store, run.run_id)[0].empty
    assert len(load_run(store, run.run_id).labels) == 66


def test_nothing_new_and_missing_model_and_model_change(tmp_path, library_factory):
    store, new_tracks, new_X = library_factory(tmp_path / "lib", extra=1)
    run = cluster_library(store, ClusterOptions(method="hdbscan")).run
    rows, _ = assign_new_tracks(store, run.run_id)
    assert rows.empty
    _add_new_tracks(store, new_tracks, new_X)
    (run_dir(store, run.run_id) / "hdbscan.pkl").unlink()
    with pytest.raises(ClusteringError, match="hdbscan.pkl\\) is missing.*ctk cluster --method hdbscan"):
        assign_new_tracks(store, run.run_id)
    store.set_model({"name": "other"}, "other-1", store.dim)
    with pytest.raises(StoreError, match="cluster again instead of assigning"):
        assign_new_tracks(store, run.run_id)


def test_the_hdbscan_model_stays_out_of_the_parquet_tables(tmp_path, library_factory):
    import pyarrow as pa
    import pyarrow.parquet as pq

    store, _, _ = library_factory(tmp_path / "lib", extra=1)
    run = cluster_library(store, ClusterOptions(method="hdbscan")).run
    root = store.root
    tables = sorted(root.rglob("*.parquet"))
    assert {p.name for p in tables} >= {"cluster_runs.parquet", "cluster_labels.parquet"}
    for path in tables:  # plain columns only: no pickled objects hidden in binary columns
        schema = pq.read_schema(path)
        assert not any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in schema), path
    others = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
              and p.suffix not in (".parquet", ".json", ".png") and p.name != ".lock"}
    assert others == {f"runs/{run.run_id}/hdbscan.pkl"}
