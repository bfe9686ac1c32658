"""``ctk cluster``: cluster the library's tracks and save the run."""

from __future__ import annotations

import contextlib
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from cluster_toolkit.cli._cluster_tables import print_clusters, print_metrics
from cluster_toolkit.cli._common import (
    DEFAULT_LIBRARY,
    LibraryOption,
    console,
    err_console,
    fmt_number,
    notice,
    print_next,
)
from cluster_toolkit.errors import UsageError


class Method(StrEnum):
    hierarchical = "hierarchical"
    kmeans = "kmeans"
    dbscan = "dbscan"
    hdbscan = "hdbscan"


class Backend(StrEnum):
    auto = "auto"
    sklearn = "sklearn"
    faiss = "faiss"


class Linkage(StrEnum):
    ward = "ward"
    average = "average"
    complete = "complete"
    single = "single"


class Selection(StrEnum):
    auto = "auto"
    eom = "eom"
    leaf = "leaf"


class Metric(StrEnum):
    cosine = "cosine"
    euclidean = "euclidean"


def parse_k(text: str | None) -> int | str | None:
    if text is None or text == "auto":
        return text
    try:
        k = int(text)
    except ValueError:
        raise UsageError(f"--k {text!r}: give a number of clusters or 'auto'") from None
    if k < 1:
        raise UsageError(f"--k {k}: needs at least 1 cluster")
    return k


def parse_eps(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        eps = float(text)
    except ValueError:
        raise UsageError(f"--eps {text!r}: give a distance or 'auto'") from None
    if eps <= 0:
        raise UsageError(f"--eps {eps}: must be positive")
    return eps


def parse_pca(text: str) -> int | str | None:
    if text in ("auto", "none"):
        return None if text == "none" else text
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--pca {text!r}: give a number of components, 'auto' or 'none'") from None
    if value < 1:
        raise UsageError(f"--pca {value}: needs at least 1 component")
    return value


def cluster_cli(
    library: LibraryOption = DEFAULT_LIBRARY,
    method: Annotated[Method, typer.Option("--method", "-m", help="Clustering method (default: kmeans with "
                                           "--k auto, the best default on held-out real music).")] = Method.kmeans,
    k: Annotated[str | None, typer.Option("--k", help="Number of clusters, or 'auto' (silhouette over a "
                                          "null reference; kmeans, hierarchical). Default auto.")] = None,  # fmt: skip
    k_min: Annotated[int, typer.Option(help="Smallest k tried by --k auto.")] = 2,
    k_max: Annotated[
        int | None, typer.Option(help="Largest k tried by --k auto (default grows with the library).")
    ] = None,
    distance_threshold: Annotated[
        float | None, typer.Option(help="Hierarchical: cut the tree at this merge distance instead of --k.")
    ] = None,
    linkage: Annotated[Linkage, typer.Option(help="Hierarchical linkage.")] = Linkage.ward,
    backend: Annotated[
        Backend, typer.Option(help="K-means: scikit-learn or faiss; auto: scikit-learn below 20,000 tracks, faiss "
                                   "from there.")
    ] = Backend.auto,
    metric: Annotated[
        Metric | None, typer.Option(help="DBSCAN eps units / hierarchical distance (default cosine for dbscan).")
    ] = None,
    eps: Annotated[
        str, typer.Option(help="DBSCAN neighbourhood radius, or 'auto' (searched on the k-distance curve).")
    ] = "auto",
    min_samples: Annotated[int | None, typer.Option(help="DBSCAN/HDBSCAN density: neighbours of a core track "
                                                    "(default searched; DBSCAN with a fixed --eps: 5).")] = None,
    min_cluster_size: Annotated[
        int | None, typer.Option(help="HDBSCAN smallest cluster (default grows with the library).")
    ] = None,
    pca: Annotated[
        str, typer.Option(help="HDBSCAN: PCA components before clustering, 'auto' (10) or 'none'.")
    ] = "auto",
    selection: Annotated[
        Selection, typer.Option(help="HDBSCAN cluster selection: eom, leaf (finer), or auto (searched with "
                                     "the unset sizes, scored by DBCV).")
    ] = Selection.auto,
    max_noise: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="DBSCAN/HDBSCAN: largest share of tracks left as "
                                   "noise; the rest join their nearest cluster (default 0.2; 1 keeps all noise).")
    ] = None,
    no_noise: Annotated[
        bool, typer.Option("--no-noise", help="DBSCAN/HDBSCAN: every noise track joins its nearest cluster.")
    ] = False,
    allow_single_cluster: Annotated[
        bool, typer.Option("--allow-single-cluster", help="HDBSCAN: one cluster is an acceptable answer.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same labels.")] = 0,
    labels: Annotated[
        str | None,
        typer.Option("--labels", help="Reference labels for NMI/ARI/purity: folder, genre (or tag), csv:PATH or a "
                                      "column."),
    ] = None,
    normalize: Annotated[
        bool | None,
        typer.Option("--normalize/--no-normalize", help="L2-normalise first (default: yes for audio, no for tabular)."),
    ] = None,
    show: Annotated[int, typer.Option(help="Clusters to list in the summary.")] = 15,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Cluster and report, but save nothing.")] = False,
) -> None:
    """Cluster the library's tracks (hierarchical, k-means, DBSCAN or HDBSCAN) and save the run."""
    from cluster_toolkit.cluster_library import ClusterOptions, cluster_library
    from cluster_toolkit.reports import cluster_summary
    from cluster_toolkit.store import LibraryStore

    if k is not None and method in (Method.dbscan, Method.hdbscan):
        raise UsageError(f"--k is for kmeans and hierarchical, not {method.value}")
    if backend != Backend.auto and method != Method.kmeans:
        raise UsageError(f"--backend is for --method kmeans, not {method.value}")
    if no_noise and max_noise is not None:
        raise UsageError(f"give --no-noise or --max-noise {max_noise}, not both")
    options = ClusterOptions(
        method=method.value,
        k=parse_k(k),
        k_min=k_min,
        k_max=k_max,
        distance_threshold=distance_threshold,
        linkage=linkage.value,
        metric=metric.value if metric else None,
        eps=parse_eps(eps),
        min_samples=min_samples,
        min_cluster_size=min_cluster_size,
        pca_components=parse_pca(pca),
        selection=selection.value,
        max_noise=0.0 if no_noise else max_noise,
        allow_single_cluster=allow_single_cluster,
        seed=seed,
        normalize=normalize,
        backend=backend.value,
    )
    store = LibraryStore.open(library)
    with contextlib.ExitStack() as stack:
        if not dry_run:  # a read-only or busy library fails here, before the work
            stack.enter_context(store.writing())
        with err_console.status(f"clustering {method.value} (k-distance, k search and pictures included)..."):
            outcome = cluster_library(store, options, reference=labels, save=not dry_run)
    run = outcome.run
    for message in outcome.warnings:
        notice(message)
    if dry_run:
        notice("dry run: nothing was saved")
    head = Table(title=f"run {run.run_id}", show_header=False)
    head.add_column(style="bold")
    head.add_column()
    head.add_row("method", run.method)
    head.add_row("tracks", str(len(run.labels)))
    head.add_row("clusters", str(run.n_clusters))
    head.add_row("noise", str(run.n_noise))
    used = run.params["used"]
    shown = {key: used[key] for key in ("n_clusters", "distance_threshold", "linkage", "metric", "eps",
                                         "min_samples", "min_cluster_size", "cluster_selection_method",
                                         "two_stage", "backend_used", "noise_assigned")
             if used.get(key) is not None}  # fmt: skip
    head.add_row("parameters", ", ".join(f"{key}={fmt_number(v)}" for key, v in shown.items()))
    head.add_row("seconds", f"{run.seconds:.2f}")
    console.print(head)
    if outcome.k_choice is not None:
        c = outcome.k_choice
        i = c.k_values.index(c.k)
        console.print(f"k = {c.k} of {c.k_values[0]}..{c.k_values[-1]}: silhouette {c.scores[i]:.3f}, "
                      f"{c.excess[i]:+.3f} over a Gaussian reference ({c.criterion})", highlight=False)  # fmt: skip
        if c.fit_rows is not None and c.fit_rows < len(run.labels):
            console.print(f"k was searched on a random sample of {c.fit_rows} of the {len(run.labels)} tracks; "
                          "the clustering uses every track", highlight=False)
    if outcome.eps_choice is not None:
        e = outcome.eps_choice
        console.print(f"eps = {outcome.clusterer.eps_:.4g}, min_samples = {e.min_samples}: the {e.quantile:.0%} "
                      f"quantile of the distance to the {e.min_samples}th neighbour, the setting of "
                      f"{len(e.candidates)} tried that puts the most tracks in clusters other than the largest",
                      highlight=False)  # fmt: skip
    print_metrics(run.metrics)
    tracks, X = store.track_embeddings()
    print_clusters(cluster_summary(tracks, X, outcome.clusterer.labels_), limit=show)
    for name, path in outcome.pictures.items():
        console.print(f"{name}: {path}", highlight=False)
    if outcome.saved and run.n_clusters == 0:
        notice(f"saved as {run.run_id}, but a run with no clusters never becomes `latest`")
    elif outcome.saved:
        print_next(f"ctk clusters show {run.run_id}", f"ctk map --color cluster:{run.run_id} --out map.html")
