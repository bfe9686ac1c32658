"""Hull walks against two baselines on the playlist quality metrics.

    python bench/playlist_quality.py --library demo/.ctk        # a real store (e.g. the demo library)
    python bench/playlist_quality.py --synthetic                 # clustered synthetic embeddings

Each trial picks seeds a listener might pick: an anchor track and ``--n-seeds - 1`` tracks
among its 20 nearest neighbours. Three playlists of ``--length`` tracks are made from them:

* **hull walk**: :func:`playlists.hull.hull_walk` (PCA d=3, margin 0.05, 2-opt tour);
* **random order**: the hull walk's tracks shuffled (same tracks, no ordering);
* **k-NN**: the seeds plus the tracks nearest the seeds' mean direction, listed by similarity.

Metrics (:mod:`playlists.quality`, cosine distances): mean / max step (smoothness, lower is
smoother), distance to seeds (coherence, lower is closer), spread (diversity, higher is more
varied), artist repetition. The table gives means over trials and the hull walk's ratio to
each baseline.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playlists.hull import hull_walk  # noqa: E402
from playlists.library import Library  # noqa: E402
from playlists.quality import playlist_metrics  # noqa: E402

METRICS = ("mean_step", "max_step", "seed_distance", "spread", "artist_repetition")


def synthetic_library(n_clusters: int = 8, per: int = 250, dim: int = 64, seed: int = 0) -> Library:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    labels = np.repeat(np.arange(n_clusters), per)
    emb = centres[labels] + 0.6 * rng.normal(size=(len(labels), dim))
    tracks = pd.DataFrame({
        "track_id": [f"t{i:05d}" for i in range(len(labels))],
        "artist": [f"Artist {c}-{i % 12}" for i, c in enumerate(labels)],
        "title": [f"Song {i}" for i in range(len(labels))],
    })
    return Library(tracks, emb.astype(np.float32))


def store_library(path: str) -> Library:
    from cluster_toolkit.saved_playlists import load_library
    from cluster_toolkit.store import LibraryStore

    return load_library(LibraryStore.open(path))


def knn_baseline(lib: Library, seeds: np.ndarray, length: int) -> list[int]:
    centre = lib.embeddings[seeds].mean(axis=0)
    order = np.argsort(-(lib.embeddings @ centre), kind="stable")
    rest = [int(i) for i in order if int(i) not in set(seeds.tolist())]
    return seeds.tolist() + rest[: length - len(seeds)]


def measure(lib: Library, order: list[int], seeds: np.ndarray) -> dict[str, float]:
    return playlist_metrics(lib.embeddings[order], seed_embeddings=lib.embeddings[seeds],
                            artists=lib.column("artist", order))


def run(lib: Library, *, trials: int, length: int, n_seeds: int, seed: int) -> tuple[pd.DataFrame, float]:
    rng = np.random.default_rng(seed)
    from playlists.projection import project

    points = project(lib.embeddings).points  # one projection of the library, shared by all trials
    rows = []
    seconds = 0.0
    for trial in range(trials):
        anchor = int(rng.integers(len(lib)))
        near = np.argsort(-(lib.embeddings @ lib.embeddings[anchor]))[1:21]
        seeds = np.concatenate([[anchor], rng.choice(near, n_seeds - 1, replace=False)]).astype(np.int64)
        start = time.perf_counter()
        walk = hull_walk(lib, lib.ids(seeds), length=length, points=points)
        seconds += time.perf_counter() - start
        order = lib.indices(walk.track_ids).tolist()
        shuffled = list(rng.permutation(order))
        for method, tracks in (("hull walk", order), ("random order", shuffled),
                               ("k-NN of seed centre", knn_baseline(lib, seeds, length))):
            rows.append({"trial": trial, "method": method, **measure(lib, tracks, seeds)})
    return pd.DataFrame(rows), seconds / trials


def report(df: pd.DataFrame, *, title: str, per_playlist_s: float) -> str:
    means = df.groupby("method")[list(METRICS)].mean()
    lines = [
        f"**{title}** (mean of {df['trial'].nunique()} trials; hull walk {per_playlist_s * 1000:.0f} ms per playlist)",
        "",
        "| metric | hull walk | random order | k-NN of seed centre | hull / random | hull / k-NN |",
        "|---|---|---|---|---|---|",
    ]
    for metric in METRICS:
        h, r, k = (means.loc[m, metric] for m in ("hull walk", "random order", "k-NN of seed centre"))
        ratio_r = f"{h / r:.2f}" if r else "-"
        ratio_k = f"{h / k:.2f}" if k else "-"
        lines.append(f"| {metric} | {h:.3f} | {r:.3f} | {k:.3f} | {ratio_r} | {ratio_k} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", help="library store to use (e.g. demo/.ctk)")
    parser.add_argument("--synthetic", action="store_true", help="8 clusters x 250 tracks, dim 64")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--length", type=int, default=20)
    parser.add_argument("--n-seeds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.library and not args.synthetic:
        parser.error("give --library PATH or --synthetic")
    lib = store_library(args.library) if args.library else synthetic_library()
    what = f"library {args.library} ({len(lib)} tracks)" if args.library else f"synthetic ({len(lib)} tracks)"
    df, per = run(lib, trials=args.trials, length=args.length, n_seeds=args.n_seeds, seed=args.seed)
    print(f"<!-- {date.today()} {platform.machine()} {platform.processor() or ''} python {platform.python_version()}"
          " -->")
    print(report(df, title=f"{what}, {args.length} tracks from {args.n_seeds} seeds", per_playlist_s=per))


if __name__ == "__main__":
    main()
