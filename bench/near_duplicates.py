"""Calibrate the near-duplicate rule of a model on real music: the same recording vs distinct tracks.

    python bench/near_duplicates.py --model ctk-small --work /tmp/nd              # measure, print the table
    python bench/near_duplicates.py --model ctk-small --work /tmp/nd --write      # ...and store the threshold

For ``--per-source`` tracks of each source folder of ``--corpus`` (default: the held-out sources), ffmpeg
makes three other files of the same recording: MP3 at 128 kb/s, Ogg Vorbis at quality 2 (about 96 kb/s),
and FLAC with 1.5 s of silence added in front (a rip that kept the leading silence; the original is its
trimmed copy). Everything is embedded with ``--model`` by ``ctk embed``'s own code into
``WORK/<model>-<coverage>.ctk``, with ``--coverage`` (default ``sampled``, as ``ctk embed`` does: a user's
store; give the coverage ``--library`` was embedded with, so both sides match).

* **same recording**: the cosine distance between each original and each of its copies;
* **distinct, same source**: every pair of different tracks of one source (one soundtrack or composer: the
  closest genuine neighbours a playlist should keep), taken from ``--library`` (a store of the whole corpus
  embedded with the same model, e.g. the held-out store; all within-folder pairs) or else from the originals.

The threshold is the 99th percentile of the same-recording distances (99 % of the copies are caught) unless
that throws out the nearest same-source track of more than 2 % of the tracks or flags more than 1 % of the
distinct same-source pairs; then it is the largest threshold within those bounds. The table also
gives, per threshold, the share of tracks whose nearest same-source track would be thrown out as a duplicate
(what hurts a playlist). ``--write``
stores it under the model's id and the fragment length (``--n-seconds``, default ``ctk embed``'s 5 s for a new
library; ``cluster_toolkit.near_duplicates.calibration_key``) in ``cluster_toolkit/near_duplicates.json``, which
:func:`cluster_toolkit.near_duplicates.near_duplicate_distance` reads for every playlist command.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fragment_plan import add_plan_options, coverage_from, fragments_from, legacy_plan  # noqa: E402
from cluster_toolkit.ingest import EmbedConfig, embed_library  # noqa: E402
from cluster_toolkit.near_duplicates import write_calibration  # noqa: E402
from cluster_toolkit.store import LibraryStore  # noqa: E402
from embeddings.config import EMBED_COVERAGE, EMBED_FRAGMENTS  # noqa: E402

CORPUS = os.environ.get("CORPUS")  # the dev corpus folder (docs/ctk-small.md, "Exact command")

AUDIO = (".ogg", ".flac", ".wav", ".mp3", ".opus")
VARIANTS = {
    "mp3-128k": ("mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]),
    "vorbis-q2": ("ogg", ["-c:a", "libvorbis", "-q:a", "2"]),
    "pad-1.5s": ("flac", ["-af", "adelay=1500:all=1", "-c:a", "flac"]),
}


def make_copies(corpus: Path, work: Path, *, per_source: int, seed: int) -> list[tuple[str, str, str]]:
    """Originals (symlinked) and their re-encoded copies under ``work/music/<source>/``.

    Returns ``(source, original path, copy path or "" for the original)`` rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for folder in sorted(p for p in corpus.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO)
        if len(files) < 2:
            continue
        picked = [files[i] for i in sorted(rng.choice(len(files), min(per_source, len(files)), replace=False))]
        out_dir = work / "music" / folder.name
        out_dir.mkdir(parents=True, exist_ok=True)
        for src in picked:
            original = out_dir / src.name
            if not original.exists():
                original.symlink_to(src.resolve())
            rows.append((folder.name, str(original), ""))
            for name, (ext, args) in VARIANTS.items():
                copy = out_dir / f"{src.stem}.{name}.{ext}"
                if not copy.exists():
                    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), *args,
                                    str(copy)], check=True)
                rows.append((folder.name, str(original), str(copy)))
    return rows


def unit_head(X: np.ndarray, dims: int) -> np.ndarray:
    """The first ``dims`` dimensions of ``X`` (all for 0), rows L2-normalised: what the rule compares."""
    X = X[:, :dims] if dims else X
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def distances(store: LibraryStore, rows: list[tuple[str, str, str]], dims: int = 0) -> dict[str, np.ndarray]:
    tracks, X = store.track_embeddings()
    X = unit_head(X, dims)
    index = {str(p): i for i, p in enumerate(tracks["path"])}
    same = {name: [] for name in VARIANTS}
    originals: dict[str, list[int]] = {}
    for source, original, copy in rows:
        if original not in index:
            continue
        if not copy:
            originals.setdefault(source, []).append(index[original])
        elif copy in index:
            variant = next(name for name, (ext, _) in VARIANTS.items() if copy.endswith(f".{name}.{ext}"))
            same[variant].append(1.0 - float(X[index[original]] @ X[index[copy]]))
    distinct = [1.0 - float(X[a] @ X[b]) for members in originals.values()
                for a, b in itertools.combinations(members, 2)]
    out = {f"same recording ({k})": np.array(v) for k, v in same.items()}
    out["same recording (all)"] = np.concatenate([np.array(v) for v in same.values()])
    out["distinct, same source"] = np.array(distinct)
    return out


def choose_threshold(same: np.ndarray, distinct: np.ndarray, nearest: np.ndarray | None) -> tuple[float, str]:
    """99 % of the copies caught, unless that throws out the nearest same-source track of more than 2 % of
    the tracks (or flags more than 1 % of distinct pairs): then the largest threshold within those bounds."""
    catch = float(np.quantile(same, 0.99))
    limits = [float(np.quantile(distinct, 0.01))]
    if nearest is not None:
        limits.append(float(np.quantile(nearest, 0.02)))
    if catch <= min(limits):
        return catch, "the 99th percentile of same-recording distances"
    return min(limits), ("capped so that at most 2 % of tracks lose their nearest same-source track and 1 % of "
                         "distinct same-source pairs are flagged")


def library_pairs(path: str, dims: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Distances of all within-folder pairs of a store, and each track's distance to its nearest
    same-folder track."""
    store = LibraryStore.open(path)
    tracks, X = store.track_embeddings()
    X = unit_head(X, dims)
    folder = tracks["path"].map(lambda p: Path(p).parent.name).to_numpy()
    D = 1.0 - X @ X.T
    same = folder[:, None] == folder[None, :]
    np.fill_diagonal(same, False)
    upper = np.triu(same, 1)
    nearest = np.where(same, D, np.inf).min(axis=1)
    return D[upper], nearest[np.isfinite(nearest)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ctk-small")
    parser.add_argument("--corpus", type=Path, default=CORPUS and Path(CORPUS, "heldout"),
                        required=not CORPUS, help="default: $CORPUS/heldout")
    parser.add_argument("--work", required=True, type=Path, help="scratch folder for the copies and the store")
    parser.add_argument("--per-source", type=int, default=4)
    parser.add_argument("--library", help="store of the whole corpus, same model: its within-folder pairs are the "
                        "distinct pairs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--coverage", default="sampled", choices=("full", "sampled"),
                        help="how the copies are embedded: sampled (ctk embed's default) or full; give the "
                        "coverage the --library store was embedded with")
    parser.add_argument("--dims", type=int, default=0, help="compare only the first N dimensions (0: all); "
                        "stored with the threshold (hybrid+std: its mean blocks, 256 + 87)")
    add_plan_options(parser, EMBED_FRAGMENTS, EMBED_COVERAGE)  # the copies' store: give what --library was cut with
    parser.add_argument("--at", type=float, nargs="*", default=[], help="more thresholds to tabulate, e.g. the one "
                        "stored for the model, to see how it does on these fragments")
    parser.add_argument("--write", action="store_true", help="store the threshold under the model's id and the "
                        "fragment length (--n-seconds)")
    args = parser.parse_args()
    fragments, coverage = fragments_from(args), coverage_from(args, args.coverage)
    rows = make_copies(args.corpus, args.work, per_source=args.per_source, seed=args.seed)
    # the stores of the 10 s plan keep the names they had before the plan was part of them
    plan = ("" if legacy_plan(fragments, coverage)
            else f"-{args.n_seconds:g}s-step{args.step:g}-{args.sampled_fragments}")
    library = args.work / f"{args.model.replace('/', '_')}-{args.coverage}{plan}.ctk"
    embed_library(args.work / "music", library, EmbedConfig(
        model=args.model, workers=args.workers, fragment=fragments, coverage=coverage))
    store = LibraryStore.open(library)
    d = distances(store, rows, args.dims)
    nearest = None
    if args.library:
        d["distinct, same source"], nearest = library_pairs(args.library, args.dims)
    same, distinct = d["same recording (all)"], d["distinct, same source"]
    threshold, rule = choose_threshold(same, distinct, nearest)
    print(f"<!-- {date.today()} model {store.model_id}{f', first {args.dims} dims' if args.dims else ''} -->")
    print(f"**{store.model_id}**: cosine distances, {len(same)} same-recording pairs, {len(distinct)} distinct "
          "same-source pairs\n")
    print("| pairs | n | min | median | 99th pct | max | flagged at the threshold |")
    print("|---|---|---|---|---|---|---|")
    for name, values in d.items():
        print(f"| {name} | {len(values)} | {values.min():.2e} | {np.median(values):.2e} | "
              f"{np.quantile(values, 0.99):.2e} | {values.max():.2e} | {np.mean(values < threshold):.1%} |")
    print(f"\nthreshold {threshold:.3g} ({rule})\n")
    print("| threshold | copies caught | distinct same-source pairs flagged | tracks losing their nearest "
          "same-source track |")
    print("|---|---|---|---|")
    for t in sorted({threshold, 0.01, 0.001, *args.at}):
        lost = f"{np.mean(nearest < t):.1%}" if nearest is not None else "-"
        print(f"| {t:.4g}{' (chosen)' if t == threshold else ''} | {np.mean(same < t):.1%} | "
              f"{np.mean(distinct < t):.2%} | {lost} |")
    if args.write:
        path = write_calibration(store.model_id, threshold, {
            "rule": rule, "same_pairs": int(len(same)), "distinct_pairs": int(len(distinct)),
            "same_max": float(same.max()), "distinct_p01": float(np.quantile(distinct, 0.01)),
            "copies_caught": float(np.mean(same < threshold)),
            "tracks_losing_nearest": float(np.mean(nearest < threshold)) if nearest is not None else None,
            "distinct_flagged": float(np.mean(distinct < threshold)),
            "corpus": str(args.corpus), "per_source": args.per_source, "date": str(date.today()),
            "coverage": args.coverage, "n_seconds": args.n_seconds, "step": args.step,
            **({"sampled_fragments": args.sampled_fragments} if args.coverage == "sampled" else {}),
            **({"dims": args.dims} if args.dims else {}), "distinct_from": args.library or "the originals",
        }, n_seconds=args.n_seconds)
        print(f"written to {path}")


if __name__ == "__main__":
    main()
