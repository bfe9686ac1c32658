"""Clustering at scale: ctk's clusterers side by side with the plain scikit-learn / hdbscan calls.

Data: ``k`` gaussian blobs around random unit directions in 128 dimensions (``make_blobs_unit``), the same
data (same seed) for ctk and the baseline. Every case runs in its own subprocess, so its peak resident memory
(``ru_maxrss``, which includes Python + numpy + the libraries, about 300-400 MB) is its own, and is stopped
after ``--timeout`` seconds. Cases:

- k-means: ``KMeansClusterer(k)`` (n_init=3, scikit-learn below 200k rows, faiss above) vs
  ``sklearn.cluster.KMeans(k, random_state=0)`` (n_init="auto" = 1 for k-means++);
- HDBSCAN: ``HDBSCANClusterer()`` (L2-normalise, PCA to 10 dims, min_cluster_size from the library size) vs
  ``hdbscan.HDBSCAN(min_cluster_size=same)`` on the 128-d vectors;
- hierarchical (Ward): ``HierarchicalClusterer(k)`` (exact up to 20k, two-stage above) vs
  ``sklearn.cluster.AgglomerativeClustering(k, linkage="ward")``, which is run only where its
  ``8 n^2``-byte distance matrices fit (the rest are reported as not run, with the memory they would need).

Usage: ``python bench/cluster_scale.py [--sizes 10000,30000,100000] [--kmeans-1m] [--timeout 300]``.
Prints a Markdown table (paste into docs/BENCHMARKS.md) and writes the raw results as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

DIM = 128
K = 20
EXACT_BASELINE_MAX = 20_000  # sklearn ward: 8 n^2 bytes -> 3.2 GB at 20k, 7.2 GB at 30k, 80 GB at 100k


def make_data(n: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(K, DIM))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    y = rng.integers(0, K, size=n)
    X = (centers[y] + rng.normal(scale=0.06, size=(n, DIM))).astype(np.float32)
    return X, y


def run_case(case: dict) -> dict:
    """Runs inside the child process."""
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    X, y = make_data(case["n"])
    method, impl = case["method"], case["impl"]
    extra: dict = {}
    start = time.perf_counter()
    if method == "kmeans" and impl == "ctk":
        from cluster_toolkit.clustering import KMeansClusterer

        model = KMeansClusterer(K, random_state=0).fit(X)
        labels, extra["backend"] = model.labels_, model.backend_
    elif method == "kmeans":
        from sklearn.cluster import KMeans

        Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
        labels = KMeans(K, random_state=0).fit(Xn).labels_
    elif method == "hdbscan" and impl == "ctk":
        from cluster_toolkit.clustering import HDBSCANClusterer

        model = HDBSCANClusterer().fit(X)
        labels = model.labels_
        extra["min_cluster_size"] = model.min_cluster_size_
    elif method == "hdbscan":
        import hdbscan

        from cluster_toolkit.clustering import hdbscan_defaults

        Xn = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float64)
        labels = hdbscan.HDBSCAN(min_cluster_size=hdbscan_defaults(case["n"]).min_cluster_size).fit(Xn).labels_
    elif method == "hierarchical" and impl == "ctk":
        from cluster_toolkit.clustering import HierarchicalClusterer

        model = HierarchicalClusterer(K).fit(X)
        labels, extra["two_stage"] = model.labels_, bool(model.two_stage_)
    else:
        from sklearn.cluster import AgglomerativeClustering

        Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
        labels = AgglomerativeClustering(K, linkage="ward").fit(Xn).labels_
    seconds = time.perf_counter() - start
    labels = np.asarray(labels)
    return {
        **case,
        **extra,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        "n_clusters": int(len(set(labels.tolist()) - {-1})),
        "noise": round(float(np.mean(labels == -1)), 3),
        "ari": round(float(adjusted_rand_score(y, labels)), 3),
    }


def spawn(case: dict, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--case", json.dumps(case)],
            capture_output=True, text=True, timeout=timeout, env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {**case, "status": f"stopped after {timeout:.0f} s"}
    if done.returncode != 0:
        return {**case, "status": f"failed: {done.stderr.strip().splitlines()[-1] if done.stderr else done.returncode}"}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "status": "ok"}


def cases(sizes: list[int], kmeans_1m: bool) -> list[dict]:
    out = []
    for n in sizes + ([1_000_000] if kmeans_1m else []):
        methods = ["kmeans"] if n == 1_000_000 else ["kmeans", "hdbscan", "hierarchical"]
        for method in methods:
            for impl in ("ctk", "baseline"):
                case = {"method": method, "impl": impl, "n": n}
                if method == "hierarchical" and impl == "baseline" and n > EXACT_BASELINE_MAX:
                    need = 8 * n * n / 1e9
                    out.append({**case, "status": f"not run: needs ~{need:.1f} GB for its distance matrices"})
                    continue
                out.append(case)
    return out


def fmt(row: dict) -> str:
    if row.get("status") != "ok":
        return row.get("status", "?")
    return f"{row['seconds']:.1f} s, {row['peak_rss_mb']:.0f} MB, ARI {row['ari']:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="10000,30000,100000")
    parser.add_argument("--kmeans-1m", action="store_true", help="also k-means on 1M tracks")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per case")
    parser.add_argument("--only", default=None, help="comma-separated methods to run")
    parser.add_argument("--impl", choices=("ctk", "baseline", "both"), default="both", help="which side to run")
    parser.add_argument("--json", type=Path, default=Path("bench/out/cluster_scale.json"))
    args = parser.parse_args()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    todo = cases(sizes, args.kmeans_1m)
    if args.only:
        todo = [c for c in todo if c["method"] in args.only.split(",")]
    if args.impl != "both":
        todo = [c for c in todo if c["impl"] == args.impl]
    results = []
    for case in todo:
        row = case if "status" in case else spawn(case, args.timeout)
        results.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    args.json.write_text(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(), "results": results},
                                    indent=1))  # fmt: skip
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs; data: {K} blobs, {DIM} dims\n")
    print("| method | n | ctk | plain library call | time ratio (baseline / ctk) |")
    print("|---|---:|---|---|---:|")
    for row in results:
        if row["impl"] != "ctk":
            continue
        base = next(
            (r for r in results if r["impl"] == "baseline" and r["method"] == row["method"] and r["n"] == row["n"]),
            {"status": "not run"},
        )
        ratio = (f"{base['seconds'] / row['seconds']:.2f}" if row.get("status") == base.get("status") == "ok"
                 and row["seconds"] > 0 else "-")  # fmt: skip
        note = ""
        if row.get("two_stage"):
            note = " (two-stage)"
        if row.get("backend"):
            note = f" ({row['backend']})"
        print(f"| {row['method']} | {row['n']:,} | {fmt(row)}{note} | {fmt(base)} | {ratio} |")


if __name__ == "__main__":
    main()
