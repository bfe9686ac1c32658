import pandas as pd
import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.store.runs import list_runs, load_run

runner = CliRunner()


class Out:
    """A CliRunner result whose ``output`` has rich's line wrapping undone (words joined by single spaces)."""

    def __init__(self, result):
        self.exit_code = result.exit_code
        self.output = " ".join(result.output.split())


def ctk(*args: str) -> Out:
    return Out(runner.invoke(app, list(args)))


@pytest.mark.parametrize(
    ("args", "clusters"),
    [
        (["--method", "kmeans", "--k", "auto", "--k-max", "6"], 3),
        (["--method", "hierarchical", "--k", "3", "--linkage", "average", "--metric", "cosine"], 3),
        (["--method", "dbscan", "--eps", "auto", "--min-samples", "4"], 3),
        (["--method", "hdbscan", "--min-cluster-size", "8"], 3),
    ],
)
def test_cluster_each_method_then_show_and_export(library, tmp_path, monkeypatch, args, clusters):
    result = ctk("cluster", "-L", str(library.root), *args, "--labels", "folder", "--seed", "0")
    assert result.exit_code == 0, result.output
    run = load_run(library, "latest")
    assert run.n_clusters == clusters and run.metrics["external"]["nmi"] > 0.9
    assert f"run {run.run_id}" in result.output and "NMI vs folder" in result.output
    assert "Jazz (20)" in result.output  # top genres column

    shown = ctk("clusters", "show", run.run_id[:12], "-L", str(library.root))
    assert shown.exit_code == 0, shown.output
    assert f"{run.n_clusters} clusters" in shown.output and "Instrumental (20)" in shown.output

    csv = tmp_path / "labels.csv"
    exported = ctk("clusters", "export", "latest", "--csv", str(csv), "-L", str(library.root))
    assert exported.exit_code == 0, exported.output
    table = pd.read_csv(csv)
    assert len(table) == 60 and table.loc[table["label"] >= 0, "label"].nunique() == clusters
    monkeypatch.chdir(tmp_path)  # without --csv: RUN_ID.csv in the working folder, as README shows
    exported = ctk("clusters", "export", "latest", "-L", str(library.root))
    assert exported.exit_code == 0 and pd.read_csv(tmp_path / f"{run.run_id}.csv").equals(table)


def test_same_seed_same_run_and_labels(library):
    first = ctk("cluster", "-L", str(library.root), "--method", "kmeans", "--k", "3", "--seed", "7")
    labels = load_run(library, "latest").labels["label"].tolist()
    second = ctk("cluster", "-L", str(library.root), "--method", "kmeans", "--k", "3", "--seed", "7")
    assert first.exit_code == second.exit_code == 0
    assert len(list_runs(library)) == 1 and load_run(library, "latest").labels["label"].tolist() == labels


def test_kmeans_backend_is_chosen_and_recorded(library):
    faiss_run = ctk("cluster", "-L", str(library.root), "--method", "kmeans", "--k", "3", "--backend", "faiss")
    assert faiss_run.exit_code == 0, faiss_run.output
    assert "backend_used=faiss" in faiss_run.output
    run = load_run(library, "latest")
    assert run.params["requested"]["backend"] == "faiss" and run.params["used"]["backend_used"] == "faiss"
    auto = ctk("cluster", "-L", str(library.root), "--method", "kmeans", "--k", "3")
    assert auto.exit_code == 0 and "backend_used=sklearn" in auto.output  # 60 tracks < 20,000
    assert "backend" not in load_run(library, "latest").params["requested"]  # run ids of auto runs unchanged
    labels = {tuple(load_run(library, r).labels["label"]) for r in list_runs(library)["run_id"]}
    assert len(labels) == 1  # three well-separated groups: both backends agree


def test_dry_run_saves_nothing(library):
    result = ctk("cluster", "-L", str(library.root), "--method", "kmeans", "--k", "2", "--dry-run")
    assert result.exit_code == 0 and "dry run: nothing was saved" in result.output
    assert list_runs(library).empty


def test_degenerate_result_gives_a_notice_not_a_crash(library):
    result = ctk("cluster", "-L", str(library.root), "--method", "dbscan", "--eps", "0.000001")
    assert result.exit_code == 0, result.output
    assert "no clusters found, all 60 tracks are noise" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--method", "kmeans", "--k", "many"], 2, "--k 'many': give a number of clusters or 'auto'"),
        (["--method", "kmeans", "--k", "500"], 1, "n_clusters=500 is more than the 60 tracks"),
        (["--method", "dbscan", "--k", "3"], 2, "--k is for kmeans and hierarchical, not dbscan"),
        (["--method", "dbscan", "--eps", "wide"], 2, "--eps 'wide'"),
        (["--method", "hdbscan", "--pca", "x"], 2, "--pca 'x'"),
        (["--method", "hierarchical", "--k", "3", "--metric", "cosine"], 1, "ward' needs metric='euclidean'"),
        (["--method", "kmeans", "--labels", "mood"], 2, "--labels 'mood'"),
        (["--method", "dbscan", "--backend", "faiss"], 2, "--backend is for --method kmeans, not dbscan"),
    ],
)
def test_bad_options(library, args, code, message):
    result = ctk("cluster", "-L", str(library.root), *args)
    assert result.exit_code == code, result.output
    assert message in result.output


def test_unknown_method_and_missing_library(tmp_path):
    assert ctk("cluster", "--method", "spectral", "-L", str(tmp_path)).exit_code == 2
    result = ctk("cluster", "-L", str(tmp_path / "none"))
    assert result.exit_code == 2 and "no library here" in result.output


def test_clusters_list_assign_delete_and_errors(tmp_path, library_factory):
    store, new_tracks, new_X = library_factory(tmp_path / "lib", extra=1)
    root = str(store.root)
    assert "no cluster runs" in ctk("clusters", "list", "-L", root).output
    assert ctk("cluster", "-L", root, "--method", "kmeans", "--k", "3").exit_code == 0
    run_id = load_run(store, "latest").run_id
    listed = ctk("clusters", "list", "-L", root)
    assert listed.exit_code == 0 and run_id in listed.output
    store.commit_batch(new_tracks, track_embeddings=new_X)
    dry = ctk("clusters", "assign", run_id, "-L", root, "--dry-run")
    assert dry.exit_code == 0 and "dry run: nothing was saved" in dry.output and "3 new tracks" in dry.output
    assert load_run(store, run_id).labels["assigned"].sum() == 0
    done = ctk("clusters", "assign", run_id, "-L", root)
    assert done.exit_code == 0 and "Jazz Band 0 - Jazz song 20" in done.output
    assert load_run(store, run_id).labels["assigned"].sum() == 3
    again = ctk("clusters", "assign", run_id, "-L", root)
    assert "no new tracks" in again.output
    missing = ctk("clusters", "show", "nope", "-L", root)
    assert missing.exit_code == 2 and "no cluster run 'nope'" in missing.output
    assert ctk("clusters", "delete", run_id, "-L", root).exit_code == 0
    assert list_runs(store).empty


def test_defaults_and_noise_flags(library):
    plain = ctk("cluster", "-L", str(library.root))
    assert plain.exit_code == 0, plain.output
    run = load_run(library, "latest")
    assert run.method == "kmeans" and run.params["requested"]["k"] is None and run.n_clusters == 3
    assert "over a Gaussian reference" in plain.output
    kept = ctk("cluster", "-L", str(library.root), "--method", "hdbscan", "--min-cluster-size", "8",
               "--min-samples", "8", "--selection", "leaf", "--max-noise", "1")
    assert kept.exit_code == 0, kept.output
    run = load_run(library, "latest")
    assert run.params["used"]["cluster_selection_method"] == "leaf" and run.params["used"]["noise_assigned"] == 0
    assert run.params["requested"]["max_noise"] == 1.0 and "search" not in run.params["used"]
    no_noise = ctk("cluster", "-L", str(library.root), "--method", "hdbscan", "--min-cluster-size", "8",
                   "--min-samples", "8", "--selection", "leaf", "--no-noise")
    assert no_noise.exit_code == 0, no_noise.output
    assigned = load_run(library, "latest")
    assert assigned.n_noise == 0 and assigned.params["used"]["noise_assigned"] == run.n_noise
    assert assigned.params["requested"]["max_noise"] == 0.0
    both = ctk("cluster", "-L", str(library.root), "--method", "hdbscan", "--no-noise", "--max-noise", "0.1")
    assert both.exit_code == 2 and "not both" in both.output


def test_a_run_with_no_clusters_is_not_latest(library):
    ok = ctk("cluster", "-L", str(library.root), "--method", "kmeans", "--k", "3")
    empty = ctk("cluster", "-L", str(library.root), "--method", "dbscan", "--eps", "0.000001")
    assert ok.exit_code == empty.exit_code == 0
    assert "never becomes `latest`" in empty.output and "try --eps auto" in empty.output
    assert load_run(library, "latest").method == "kmeans"
