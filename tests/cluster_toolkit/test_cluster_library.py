import numpy as np
import pytest

from cluster_toolkit.cluster_library import ClusterOptions, cluster_embeddings, cluster_library
from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.runs import run_dir

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("options", "pictures"),
    [
        (ClusterOptions(method="kmeans", k="auto", k_max=6), {"k curve"}),
        (ClusterOptions(method="hierarchical", k="auto", k_max=6), {"k curve", "dendrogram"}),
        (ClusterOptions(method="dbscan", eps="auto", min_samples=4), {"k-distance knee"}),
        (ClusterOptions(method="hdbscan"), set()),
    ],
)
def test_every_method_recovers_the_genres_and_writes_its_pictures(library, options, pictures):
    out = cluster_library(library, options, reference="genre")
    assert out.saved and out.run.n_clusters == 3
    assert out.run.metrics["external"]["ari"] > 0.9
    assert set(out.pictures) == pictures
    for path in out.pictures.values():
        assert path.read_bytes()[:8] == PNG and path.parent == run_dir(library, out.run.run_id)
    if options.method == "hdbscan":
        assert (run_dir(library, out.run.run_id) / "hdbscan.pkl").is_file()
        assert out.run.params["used"]["min_cluster_size"] == 5  # hdbscan_defaults(60)


def test_dry_run_saves_nothing(library):
    out = cluster_library(library, ClusterOptions(method="kmeans", k=3), save=False)
    assert not out.saved and not library.has_table("cluster_runs")
    assert not run_dir(library, out.run.run_id).exists()


def test_degenerate_result_is_reported_as_a_warning(library):
    out = cluster_library(library, ClusterOptions(method="dbscan", eps=1e-6))
    assert out.run.n_clusters == 0 and out.run.n_noise == 60
    assert any("no clusters found" in w for w in out.warnings)
    assert out.run.metrics["internal"]["silhouette"] is None


def test_errors_are_clear():
    X = np.random.default_rng(0).normal(size=(10, 4))
    with pytest.raises(ClusteringError, match="method='spectral'"):
        cluster_embeddings(X, ClusterOptions(method="spectral"))
    with pytest.raises(ClusteringError, match="distance_threshold is only for --method hierarchical"):
        cluster_embeddings(X, ClusterOptions(method="kmeans", distance_threshold=0.5))
    with pytest.raises(ClusteringError, match="not both"):
        cluster_embeddings(X, ClusterOptions(method="hierarchical", k=3, distance_threshold=0.5))
    with pytest.raises(ClusteringError, match="n_clusters=11 is more than the 10 tracks"):
        cluster_embeddings(X, ClusterOptions(method="kmeans", k=11))


def test_empty_library_is_an_error(tmp_path):
    from cluster_toolkit.store import LibraryStore

    store = LibraryStore.open(tmp_path / "empty", create=True)
    with pytest.raises(ClusteringError, match="0 embedded tracks"):
        cluster_library(store, ClusterOptions(method="kmeans", k=2))
