"""Playlist generators against baselines on held-out real music: do they stay in the seeds' source?

    python bench/playlist_quality.py --library heldout-small.ctk            # held-out store, labels = folder
    python bench/playlist_quality.py --library heldout-small.ctk --per-source 8 --length 10 --seed 1
    python bench/playlist_quality.py --synthetic                            # clustered synthetic embeddings
    python bench/playlist_quality.py --library heldout-small.ctk --sweep    # ...and the hull walk per core size

Seed sets: for every source (the track's folder, ``--labels``) with at least ``--min-source`` tracks,
``--per-source`` seed sets of 2, 3, 4, 5, 2, 3... tracks of that source (seeded). Each generator makes a
``--length``-track playlist from them, all with the rules the playlist commands use (:class:`PlaylistRules`
with the store's model's calibrated near-duplicate distance, :mod:`cluster_toolkit.near_duplicates`):

* **hull walk**: :func:`playlists.hull.hull_walk` as ``ctk playlist --hull`` runs it (the hull in the seeds'
  span, the tracks nearest its core, walked from the first seed);
* **hull walk, cover**: the former selection in the same hull (``selection="cover"``: the tracks inside the hull
  and the margin, else the tracks nearest the hull itself);
* **hull, 3-d PCA**: the default before that, the hull in a 3-d PCA of the whole library (``space="projection"``);
* **onion walk**: the cluster of the default clustering (k-means, k auto) holding most seeds, walked from its
  edge to its core (:func:`playlists.onion.onion_walk`);
* **path**: :func:`playlists.path.song_path` from the first seed to the second;
* **recommend**: :func:`playlists.recommend.recommend` with the seeds as liked songs (fragment scoring);
* **centroid k-NN**: the seeds, then the tracks nearest the seeds' mean direction, by similarity;
* **centroid k-NN, walked**: the same tracks in the hull walk's order (a tour from the first seed), to tell
  what the ordering alone does to the steps;
* **random**: the seeds, then random tracks.

Metrics, per playlist, over its tracks that are not seeds: **precision** (share from the seeds' source),
and over the whole playlist in play order (:mod:`playlists.quality`): **mean step** (cosine distance
between consecutive tracks; lower is smoother), **seed distance**, **spread** (mean pairwise distance).
The precision of each hull walk is also compared with centroid k-NN's on the same seed sets (the mean paired
difference with a bootstrap 95 % interval). Also printed: how much of the library's neighbourhood structure a
3-d PCA keeps (10-NN overlap and scikit-learn's trustworthiness). ``--sweep`` adds the paired difference for
hull walks with the core at 0, 0.1, ..., 1 of the hull's size (0 = nearest-to-centroid, 1 = nearest the hull).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playlists.hull import hull_walk  # noqa: E402
from playlists.library import Library  # noqa: E402
from playlists.onion import onion_walk  # noqa: E402
from playlists.path import song_path  # noqa: E402
from playlists.quality import playlist_metrics  # noqa: E402
from playlists.recommend import recommend  # noqa: E402
from playlists.rules import PlaylistRules, RuleChecker  # noqa: E402
from playlists.tour import cosine_distances, tour  # noqa: E402

METHODS = ("hull walk", "hull walk, cover", "hull, 3-d PCA", "onion walk", "path", "recommend", "centroid k-NN",
           "centroid k-NN, walked", "random")
HULLS = ("hull walk", "hull walk, cover", "hull, 3-d PCA")
SWEEP = tuple(round(0.1 * i, 1) for i in range(11))
METRICS = ("precision", "mean_step", "seed_distance", "spread")


def synthetic_library(n_clusters: int = 8, per: int = 40, dim: int = 64, seed: int = 0) -> tuple[Library, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    labels = np.repeat(np.arange(n_clusters), per)
    emb = centres[labels] + 0.9 * rng.normal(size=(len(labels), dim))
    tracks = pd.DataFrame({
        "track_id": [f"t{i:05d}" for i in range(len(labels))],
        "artist": [f"Artist {c}-{i % 12}" for i, c in enumerate(labels)],
        "title": [f"Song {i}" for i in range(len(labels))],
    })
    return Library(tracks, emb.astype(np.float32)), labels.astype(str)


def store_library(path: str, labels: str):
    from cluster_toolkit.near_duplicates import fragment_seconds, near_duplicate_rule
    from cluster_toolkit.reference_labels import reference_labels
    from cluster_toolkit.store import LibraryStore
    from cluster_toolkit.store.saved_playlists import load_fragments, load_library

    store = LibraryStore.open(path)
    lib = load_library(store)
    source = reference_labels(lib.tracks, labels).fillna("?").astype(str).to_numpy()
    distance, dims, _ = near_duplicate_rule(store.model_id, n_seconds=fragment_seconds(store.meta))
    rules = PlaylistRules(near_duplicate_distance=distance, near_duplicate_dims=dims)
    return lib, source, load_fragments(store, lib), rules


def neighbourhood_kept(emb: np.ndarray, dims: int = 3, k: int = 10) -> tuple[float, float]:
    """Mean overlap of each track's k nearest neighbours in the full space and in a ``dims``-d PCA, and
    scikit-learn's trustworthiness of that PCA."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import NearestNeighbors

    low = PCA(dims, random_state=0).fit_transform(emb)
    full_nn = NearestNeighbors(n_neighbors=k + 1).fit(emb).kneighbors(emb, return_distance=False)[:, 1:]
    low_nn = NearestNeighbors(n_neighbors=k + 1).fit(low).kneighbors(low, return_distance=False)[:, 1:]
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(full_nn, low_nn, strict=True)])
    return float(overlap), float(trustworthiness(emb, low, n_neighbors=k))


def knn_baseline(lib: Library, seeds: list[int], length: int, rules: PlaylistRules) -> list[int]:
    centre = lib.embeddings[seeds].mean(axis=0)
    order = np.argsort(-(lib.embeddings @ centre), kind="stable")
    selection = RuleChecker(lib.tracks, lib.embeddings, rules).selection(seeds)
    for i in order:
        if len(selection) >= length:
            break
        if int(i) not in selection and selection.reason(int(i)) is None:
            selection.add(int(i))
    return list(selection.members)


def seed_sets(source: np.ndarray, *, per_source: int, min_source: int, seed: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    sets = []
    for name in sorted(set(source.tolist())):
        rows = np.flatnonzero(source == name)
        if name == "?" or rows.size < min_source:
            continue
        for j in range(per_source):
            sets.append(rng.choice(rows, 2 + j % 4, replace=False).tolist())
    return sets


def make_playlists(lib: Library, seeds: list[int], *, length: int, rules: PlaylistRules, pca3: np.ndarray,
                   clusters: np.ndarray, fragments, rng: np.random.Generator,
                   sweep: bool = False) -> dict[str, tuple[list[int], float]]:
    """Every method's playlist (row indices in play order) for one seed set, with its seconds."""
    ids = lib.ids(seeds)
    frag_table, frag_emb = fragments

    def hull(**kwargs) -> list[int]:
        return lib.indices(hull_walk(lib, ids, length=length, rules=rules, **kwargs).track_ids).tolist()

    def walked(rows: list[int]) -> list[int]:
        return [rows[i] for i in tour(cosine_distances(lib.embeddings[rows]), 0)]

    def onion() -> list[int]:
        votes = np.bincount(clusters[seeds])
        members = lib.ids(np.flatnonzero(clusters == int(np.argmax(votes))))
        return lib.indices(onion_walk(lib, members, length=length, rules=rules).track_ids).tolist()

    makers = {
        "hull walk": hull,
        "hull walk, cover": lambda: hull(selection="cover"),
        "hull, 3-d PCA": lambda: hull(points=pca3),
        "onion walk": onion,
        "path": lambda: lib.indices(song_path(lib, ids[0], ids[1], length=length, rules=rules).track_ids).tolist(),
        "recommend": lambda: seeds + lib.indices(recommend(
            lib, frag_table, frag_emb, ids, n=length - len(seeds), rules=rules).playlist.track_ids).tolist(),
        "centroid k-NN": lambda: knn_baseline(lib, seeds, length, rules),
        "centroid k-NN, walked": lambda: walked(knn_baseline(lib, seeds, length, rules)),
    }
    if sweep:
        makers.update({f"core {c:.1f}": (lambda c=c: hull(core=c)) for c in SWEEP})
    made = {}
    for name, make in makers.items():
        start = time.perf_counter()
        order = make()
        made[name] = (order, time.perf_counter() - start)
    others = np.setdiff1d(np.arange(len(lib)), seeds)
    made["random"] = (seeds + rng.choice(others, length - len(seeds), replace=False).tolist(), 0.0)
    return made


def run(lib: Library, source: np.ndarray, fragments, *, per_source: int, min_source: int, length: int,
        seed: int, rules: PlaylistRules = PlaylistRules(),
        sweep: bool = False) -> tuple[pd.DataFrame, dict[str, float]]:
    from cluster_toolkit.cluster_library import ClusterOptions, cluster_embeddings
    from playlists.projection import project

    pca3 = project(lib.embeddings).points
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clusters = cluster_embeddings(lib.embeddings, ClusterOptions(seed=seed))[0].labels_
    if fragments is None:
        fragments = (pd.DataFrame({"track_id": lib.track_ids, "fragment_index": 0, "start_s": np.nan}),
                     lib.embeddings)
    rng = np.random.default_rng(seed + 1)
    seconds: dict[str, float] = {}
    rows = []
    for trial, seeds in enumerate(seed_sets(source, per_source=per_source, min_source=min_source, seed=seed)):
        made = make_playlists(lib, seeds, length=length, rules=rules, pca3=pca3, clusters=clusters,
                              fragments=fragments, rng=rng, sweep=sweep)
        target = source[seeds[0]]
        for name, (order, took) in made.items():
            seconds[name] = seconds.get(name, 0.0) + took
            rest = [i for i in order if i not in set(seeds)]
            quality = playlist_metrics(lib.embeddings[order], seed_embeddings=lib.embeddings[seeds])
            rows.append({"trial": trial, "n_seeds": len(seeds), "source": target, "method": name,
                         "precision": float(np.mean(source[rest] == target)) if rest else np.nan,
                         **{m: quality[m] for m in METRICS if m != "precision"}})
    df = pd.DataFrame(rows)
    n_trials = df["trial"].nunique()
    return df, {name: s / n_trials for name, s in seconds.items()}


def bootstrap_ci(values: np.ndarray, *, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(n, values.size), replace=True).mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def paired_gain(df: pd.DataFrame, method: str, baseline: str = "centroid k-NN") -> tuple[float, float, float]:
    """Mean of ``method``'s precision minus ``baseline``'s on the same seed sets, with a bootstrap 95 % CI."""
    wide = df.pivot_table(index="trial", columns="method", values="precision")
    diff = (wide[method] - wide[baseline]).dropna().to_numpy()
    return (float(diff.mean()), *bootstrap_ci(diff))


def report(df: pd.DataFrame, seconds: dict[str, float], *, title: str, chance: float) -> str:
    means = df.groupby("method")[list(METRICS)].mean()
    lines = [f"**{title}** ({df['trial'].nunique()} seed sets of 2-5 seeds over {df['source'].nunique()} sources; "
             f"chance precision {chance:.3f})", "",
             "| method | precision [95% CI] | mean step | seed distance | spread | ms per playlist |",
             "|---|---|---|---|---|---|"]
    for name in METHODS:
        if name not in means.index:
            continue
        prec = df.loc[df["method"] == name, "precision"].dropna().to_numpy()
        low, high = bootstrap_ci(prec)
        m = means.loc[name]
        ms = f"{seconds[name] * 1000:.0f}" if seconds.get(name) else "-"
        lines.append(f"| {name} | {m['precision']:.3f} [{low:.3f}, {high:.3f}] | {m['mean_step']:.4f} | "
                     f"{m['seed_distance']:.4f} | {m['spread']:.4f} | {ms} |")
    columns = ["centroid k-NN", *HULLS]
    by_seeds = df[df["method"].isin(columns)].pivot_table(index="n_seeds", columns="method", values="precision")
    by_seeds = by_seeds[columns]
    sets = df[df["method"] == "centroid k-NN"].groupby("n_seeds")["trial"].nunique()
    lines += ["", "precision by number of seeds:", "", "| seeds | sets | " + " | ".join(columns) + " |",
              "|---" * (len(columns) + 2) + "|"]
    for k, row in by_seeds.iterrows():
        lines.append(f"| {k} | {sets[k]} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    lines += ["", "precision minus centroid k-NN's on the same seed sets (mean, bootstrap 95% CI):", "",
              "| method | difference [95% CI] |", "|---|---|"]
    sweep = sorted(m for m in df["method"].unique() if m.startswith("core "))
    for name in [*HULLS, *sweep]:
        mean, low, high = paired_gain(df, name)
        lines.append(f"| {name} | {mean:+.3f} [{low:+.3f}, {high:+.3f}] |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", help="library store (e.g. a held-out store embedded with ctk embed)")
    parser.add_argument("--labels", default="folder", help="what a source is: folder, genre, csv:PATH, column")
    parser.add_argument("--synthetic", action="store_true", help="8 clusters x 40 tracks, dim 64")
    parser.add_argument("--per-source", type=int, default=16, help="seed sets per source (2, 3, 4, 5 seeds, ...)")
    parser.add_argument("--min-source", type=int, default=8, help="sources with fewer tracks are skipped")
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sweep", action="store_true", help="also hull walks with the core at 0, 0.1, ..., 1")
    args = parser.parse_args()
    if not args.library and not args.synthetic:
        parser.error("give --library PATH or --synthetic")
    if args.library:
        lib, source, fragments, rules = store_library(args.library, args.labels)
        what = f"{args.library} ({len(lib)} tracks)"
    else:
        (lib, source), fragments, rules = synthetic_library(), None, PlaylistRules()
        what = f"synthetic ({len(lib)} tracks)"
    overlap, trust = neighbourhood_kept(lib.embeddings)
    df, seconds = run(lib, source, fragments, per_source=args.per_source, min_source=args.min_source,
                      length=args.length, seed=args.seed, rules=rules, sweep=args.sweep)
    counts = pd.Series(source).value_counts()
    chance = float(np.mean([(counts[s] - k) / (len(lib) - k) for s, k in
                            df.groupby("trial")[["source", "n_seeds"]].first().itertuples(index=False)]))
    print(f"<!-- {date.today()} {platform.machine()} python {platform.python_version()} -->")
    print(report(df, seconds, title=f"{what}, {args.length}-track playlists, near-duplicate distance "
                                    f"{rules.near_duplicate_distance:g}", chance=chance))
    print(f"\n3-d PCA of the whole library: {overlap:.2f} of each track's 10 nearest neighbours are still among its"
          f" 10 nearest; trustworthiness {trust:.3f}")


if __name__ == "__main__":
    main()
