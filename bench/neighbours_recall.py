"""Exact vs approximate faiss inner-product search: build time, query time, recall@10.

    python bench/neighbours_recall.py [--n 20000 200000] [--dim 64] [--queries 200] [--hnsw-max 20000]

Vectors are L2-normalised draws around 200 random centres (clustered, like music embeddings);
queries are fresh draws from the same mixture. Recall@10 is the fraction of the exact top-10
that the index returns (:func:`playlists.neighbours.measure_recall`).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playlists.neighbours import IndexConfig, NeighbourIndex, measure_recall  # noqa: E402


def data(n: int, dim: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(200, dim))
    x = centres[rng.integers(0, 200, n + n_queries)] + 1.5 * rng.normal(size=(n + n_queries, dim))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return x[:n], x[n:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--hnsw-max", type=int, default=20_000, help="skip HNSW (slow to build) above this size")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    print(f"<!-- {date.today()} {platform.machine()} python {platform.python_version()} -->")
    print("| vectors | index | build s | ms per query | recall@10 |")
    print("|---|---|---|---|---|")
    for n in args.n:
        x, q = data(n, args.dim, args.queries)
        for kind in ("exact", "ivf", "hnsw"):
            if kind == "hnsw" and n > args.hnsw_max:
                continue
            start = time.perf_counter()
            index = NeighbourIndex(x, IndexConfig(kind=kind))
            build = time.perf_counter() - start
            start = time.perf_counter()
            for row in q:  # one query at a time, as recommend/similar do
                index.search(row, 10)
            per_query = (time.perf_counter() - start) / len(q) * 1000
            recall = measure_recall(index, x, q, k=10)
            print(f"| {n} | {kind} | {build:.2f} | {per_query:.3f} | {recall:.3f} |")


if __name__ == "__main__":
    main()
