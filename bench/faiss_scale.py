"""Catalogue scale with faiss: neighbour search, k-means and two-stage hierarchical clustering on 1M vectors.

    nice python bench/faiss_scale.py --only search        [--n 1000000] [--dim 343]
    nice python bench/faiss_scale.py --only kmeans        [--sizes 100000 1000000] [--k 100]
    nice python bench/faiss_scale.py --only hierarchical  [--n 1000000]

Data: synthetic clustered unit vectors in ``--dim`` dimensions (343, the default ``hybrid`` model's):
``--centres`` random Gaussian centres, each vector a centre plus ``--noise`` times a standard Gaussian draw,
L2-normalised; generated in float32 chunks of 100k rows so the data costs ``4 n dim`` bytes (1.4 GB at 1M).

- search: exact (``faiss.IndexFlatIP``) against IVF as ctk builds it (:class:`playlists.neighbours.
  NeighbourIndex`: ``4 sqrt(n)`` lists, trained on 64 vectors per list, ``nprobe`` measured for recall@10 >=
  0.95 on 200 indexed vectors). Reported: build time, ms per query (``--queries`` fresh draws searched one
  at a time, as ``ctk similar`` does), recall@10 of IVF on those fresh queries against exact search.
- kmeans: ``KMeansClusterer(k, n_init=1, max_iter=20)`` with ``backend="faiss"`` and ``"sklearn"`` on the
  same data; time, inertia ratio and the ARI between the two labelings.
- hierarchical: ``HierarchicalClusterer(20)`` two-stage (faiss k-means to ``--centroids`` micro-clusters,
  Ward on the centroids weighted by their sizes, labels propagated); time, and ARI against the generating
  centres grouped into 20 (the centres are drawn around 20 super-centres, so the 20-cluster truth exists).

Each run prints one JSON line per case, with the peak resident memory of the process (``ru_maxrss``) and its
CPU seconds so far (user + system; on a shared machine wall seconds overstate the cost).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def clustered(n: int, dim: int, *, centres: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n, dim)`` float32 unit vectors around ``centres`` centres (themselves around 20 super-centres),
    and the super-centre of each row."""
    rng = np.random.default_rng(seed)
    supers = rng.normal(size=(20, dim)).astype(np.float32) * 2.0
    owner = rng.integers(0, 20, centres)
    middles = supers[owner] + rng.normal(size=(centres, dim)).astype(np.float32)
    x = np.empty((n, dim), dtype=np.float32)
    truth = np.empty(n, dtype=np.int64)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        which = rng.integers(0, centres, stop - start)
        part = middles[which] + noise * rng.standard_normal((stop - start, dim), dtype=np.float32)
        x[start:stop] = part / np.linalg.norm(part, axis=1, keepdims=True)
        truth[start:stop] = owner[which]
    return x, truth


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def emit(record: dict) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    record["peak_rss_mb"] = round(peak_mb())
    record["process_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 1)  # cumulative: the box is shared
    print(json.dumps(record), flush=True)


def bench_search(args) -> None:
    from playlists.neighbours import IndexConfig, NeighbourIndex, exact_top_k

    both, _ = clustered(args.n + args.queries, args.dim, centres=args.centres, noise=args.noise, seed=0)
    x, q = both[: args.n], both[args.n :]  # queries: fresh draws from the same mixture
    start = time.perf_counter()
    truth = exact_top_k(x, q, 10)
    exact_batch_s = time.perf_counter() - start
    start = time.perf_counter()
    exact = NeighbourIndex(x, IndexConfig(kind="exact"))
    exact_build = time.perf_counter() - start
    start = time.perf_counter()
    for row in q[: args.exact_queries]:
        exact.search(row, 10)
    exact_ms = (time.perf_counter() - start) / args.exact_queries * 1000
    del exact
    emit({"case": "search", "index": "exact", "n": args.n, "dim": args.dim, "build_s": round(exact_build, 2),
          "ms_per_query": round(exact_ms, 2), "batch_of_queries_s": round(exact_batch_s, 2), "recall_at_10": 1.0})
    start = time.perf_counter()
    ivf = NeighbourIndex(x, IndexConfig(kind="ivf"))
    build = time.perf_counter() - start
    start = time.perf_counter()
    found = np.vstack([ivf.search(row, 10)[1] for row in q])
    ivf_ms = (time.perf_counter() - start) / len(q) * 1000
    recall = float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)]))
    emit({"case": "search", "index": "ivf", "n": args.n, "dim": args.dim, "build_s": round(build, 1),
          "nlist": ivf.nlist, "nprobe": ivf.nprobe, "calibrated_recall_at_10": round(ivf.recall_at_10, 3),
          "ms_per_query": round(ivf_ms, 3), "recall_at_10": round(recall, 3),
          "speedup_per_query": round(exact_ms / ivf_ms, 1)})


def bench_kmeans(args) -> None:
    from sklearn.metrics import adjusted_rand_score

    from cluster_toolkit.clustering import KMeansClusterer

    for n in args.sizes:
        x, _ = clustered(n, args.dim, centres=args.centres, noise=args.noise, seed=0)
        out = {"case": "kmeans", "n": n, "dim": args.dim, "k": args.k}
        labels = {}
        for backend in ("faiss", "sklearn"):
            if backend == "sklearn" and n > args.sklearn_max:
                out["sklearn_s"] = None
                continue
            start, cpu = time.perf_counter(), cpu_s()
            model = KMeansClusterer(args.k, n_init=1, max_iter=20, backend=backend, random_state=0).fit(x)
            out[f"{backend}_s"] = round(time.perf_counter() - start, 1)
            out[f"{backend}_cpu_s"] = round(cpu_s() - cpu, 1)
            out[f"{backend}_inertia"] = round(model.inertia_, 1)
            labels[backend] = model.labels_
        if len(labels) == 2:
            out["ari_between"] = round(adjusted_rand_score(labels["faiss"], labels["sklearn"]), 3)
            out["time_ratio_sklearn_over_faiss"] = round(out["sklearn_s"] / out["faiss_s"], 2)
            out["inertia_ratio_faiss_over_sklearn"] = round(out["faiss_inertia"] / out["sklearn_inertia"], 4)
        emit(out)


def bench_hierarchical(args) -> None:
    from sklearn.metrics import adjusted_rand_score

    from cluster_toolkit.clustering import HierarchicalClusterer

    x, truth = clustered(args.n, args.dim, centres=args.centres, noise=args.noise, seed=0)
    start = time.perf_counter()
    model = HierarchicalClusterer(20, n_centroids=args.centroids).fit(x)
    seconds = time.perf_counter() - start
    emit({"case": "hierarchical", "n": args.n, "dim": args.dim, "centroids": args.centroids,
          "two_stage": bool(model.two_stage_), "seconds": round(seconds, 1),
          "ari_vs_20_groups": round(adjusted_rand_score(truth, model.labels_), 3)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("search", "kmeans", "hierarchical"), required=True)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=343)
    parser.add_argument("--centres", type=int, default=1000)
    parser.add_argument("--noise", type=float, default=3.0)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=20)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--sklearn-max", type=int, default=1_000_000)
    parser.add_argument("--centroids", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps({"date": str(date.today()), "machine": platform.machine(), "cpus": os.cpu_count(),
                      "python": platform.python_version(), "args": vars(args)}), flush=True)
    {"search": bench_search, "kmeans": bench_kmeans, "hierarchical": bench_hierarchical}[args.only](args)


if __name__ == "__main__":
    main()
