import numpy as np
import pytest

from cluster_toolkit.cluster_library import ClusterOptions, cluster_embeddings, cluster_library
from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.store.runs import run_dir
from tests.pictures import assert_drawn

# what each picture must show: the curve and the chosen k or eps; the three clusters' links and the cut
COLOURS = {"k curve": ("#3a6ea5", "#d1495b"), "k-distance": ("#3a6ea5", "#d1495b"),
           "dendrogram": ("C1", "C2", "C3", "#555555")}


@pytest.mark.parametrize(
    ("options", "pictures"),
    [
        (ClusterOptions(method="kmeans", k="auto", k_max=6), {"k curve"}),
        (ClusterOptions(method="hierarchical", k="auto", k_max=6), {"k curve", "dendrogram"}),
        (ClusterOptions(method="dbscan", eps="auto", min_samples=4), {"k-distance"}),
        (ClusterOptions(method="hdbscan"), set()),
    ],
)
def test_every_method_recovers_the_genres_and_writes_its_pictures(library, options, pictures):
    out = cluster_library(library, options, reference="genre")
    assert out.saved and out.run.n_clusters == 3
    assert out.run.metrics["external"]["ari"] > 0.9
    assert set(out.pictures) == pictures
    for name, path in out.pictures.items():
        assert path.parent == run_dir(library, out.run.run_id)
        assert_drawn(path, colours=COLOURS[name])
    if options.method == "hdbscan":
        assert (run_dir(library, out.run.run_id) / "hdbscan.pkl").is_file()
        used = out.run.params["used"]
        assert used["min_cluster_size"] in (3, 6)  # searched: round(0.2, 0.4, 0.8 * sqrt(60)) clipped at 3
        assert len(used["search"]["candidates"]) >= 12 and out.run.n_noise <= 0.2 * 60


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


def test_a_run_without_clusters_is_saved_but_never_latest(library):
    from cluster_toolkit.errors import UsageError
    from cluster_toolkit.store.runs import list_runs, resolve_run_id

    with pytest.raises(UsageError, match="no saved run has any cluster"):
        cluster_library(library, ClusterOptions(method="dbscan", eps=1e-6))
        resolve_run_id(library, "latest")
    good = cluster_library(library, ClusterOptions(method="kmeans", k=3))
    empty = cluster_library(library, ClusterOptions(method="dbscan", eps=2e-6))
    assert empty.saved and empty.run.n_clusters == 0
    assert list_runs(library)["run_id"].iloc[-1] == empty.run.run_id  # stored, newest...
    assert resolve_run_id(library, "latest") == good.run.run_id  # ...but latest is the newest with clusters
    assert resolve_run_id(library, empty.run.run_id) == empty.run.run_id


def test_dbscan_advice_after_eps_auto_does_not_suggest_eps_auto(library):
    out = cluster_library(library, ClusterOptions(method="dbscan", eps="auto", min_samples=59))
    assert out.run.n_clusters <= 1
    text = " ".join(out.warnings)
    assert "eps search gave eps=" in text and "--eps auto" not in text
    fixed = cluster_library(library, ClusterOptions(method="dbscan", eps=1e-6))
    assert "try --eps auto" in " ".join(fixed.warnings)


def test_k_auto_at_the_top_of_its_range_warns(library):
    out = cluster_library(library, ClusterOptions(method="hierarchical", k="auto", k_min=2, k_max=3), save=False)
    assert out.run.n_clusters == 3  # three genres: the top of 2..3
    assert not any("top of the range" in w for w in out.warnings)  # a 2-value range has no interior
    out = cluster_library(library, ClusterOptions(method="kmeans", k="auto", k_min=2, k_max=4), save=False)
    assert out.run.n_clusters == 3 and not out.warnings
    narrow = cluster_library(library, ClusterOptions(method="hierarchical", k="auto", k_min=2, k_max=2), save=False)
    assert narrow.run.n_clusters == 2


def test_map_legend_and_dendrogram_use_cluster_names(library):
    from cluster_toolkit.plots.pictures import color_values

    out = cluster_library(library, ClusterOptions(method="hierarchical", k=3))
    tracks, _ = library.track_embeddings()
    values, title = color_values(library, tracks, f"cluster:{out.run.run_id}")
    assert title == f"cluster ({out.run.run_id})"
    assert set(values) == {"0: Jazz 100% · Jazz album 100%", "1: Metal 100% · Metal album 100%",
                           "2: Techno 100% · Techno album 100%"}
    assert out.pictures["dendrogram"].stat().st_size > 10_000


def test_k_distance_picture_is_in_the_units_of_eps(library):
    from cluster_toolkit.clustering.auto_params import k_distance_in

    out = cluster_library(library, ClusterOptions(method="dbscan", eps="auto", min_samples=4))
    choice, model = out.eps_choice, out.clusterer
    curve, eps = k_distance_in(choice, "cosine")
    assert eps == pytest.approx(model.eps_) and eps == pytest.approx(model.eps_euclidean_**2 / 2)
    assert curve[choice.index] == pytest.approx(eps)
    assert k_distance_in(choice, "euclidean")[1] == pytest.approx(model.eps_euclidean_)
