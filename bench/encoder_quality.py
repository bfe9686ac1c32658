"""Held-out quality of trained encoders against the `features` baseline and the same architecture
untrained (random init), on real music the models never saw, all side by side in one run.

The development corpus (../shared/corpus/build_dev_corpus.sh) is split by whole sources
(bench/split_corpus.py): the models train on some games' soundtracks and are evaluated on the others,
so "same production" cannot leak. Labels are the source (the folder a track sits in). Every backend
embeds the same held-out folder into its own store; `ctk evaluate`'s metrics are computed for each.

Rows derived from those stores without another decode:
- ``hybrid(NAME)`` (``--hybrid``): what the ``hybrid`` backend stores for model NAME (its vector and the
  `features` vector, each standardised by fixed statistics fitted on the training sources,
  ``NAME/embedding_stats.json``); exact, because every map of the backend is affine and a track vector
  is the mean of its fragment vectors;
- ``NAME mean+std`` (``--mean-std``): track vector = mean and std of the fragment vectors;
- ``hybrid(NAME) mean+std W`` (``--hybrid-mean-std W ...``): the hybrid vector with a third block, the std over
  the track's fragments of the standardised learned vectors, weighted W against the other two (each block
  scaled to the same expected squared norm). That block is centred on the held-out tracks' own mean std
  (no reference statistics for it exist yet), so these rows measure what the pooling could give, not a
  fixed map that could ship as is.
- ``hybrid+std(NAME)`` (``--hybrid-std``): what the ``hybrid+std`` backend stores for model NAME: the hybrid
  vector and the std block standardised by ``NAME/pooling_stats.json`` (fitted on the training sources,
  weight chosen there by ``bench/fit_pooling_stats.py``): a fixed map, the shippable version of the above.
- ``hybrid+attn(NAME)`` (``--hybrid-attn``): what the ``hybrid+attn`` backend stores for model NAME: ``hybrid+std``
  with the mean part pooled by the attention head ``NAME/attention_pooling.safetensors`` (fitted on the training
  sources by ``bench/attention_pooling.py --write``).
- ``--store NAME=PATH``: the track vectors of a store embedded elsewhere (same held-out tracks), e.g. one
  made by an earlier ctk for reference.

Precomputed rows (``--vectors NAME=FILE.npz[:KEY]``): track vectors computed outside ctk, e.g. a peer's
model in its own venv (bench/peer_musicnn.py: MusiCNN), matched to the stores' tracks by path; the paired
bootstrap then also compares every row against them.

Uncertainty: the linear probe is averaged over repeated shuffles of its folds (``ctk evaluate``'s rule: 10 for a
few hundred tracks) and printed with the sd of one split's accuracy across them; NMI and AMI over
``--kmeans-seeds`` k-means starts, and a paired bootstrap over the
queries of the Recall@1, Recall@10 and AP@10 differences against the baselines. ``--manifest``
adds artist labels within held-out sources that have several artists (style with production
held constant).

    python bench/encoder_quality.py --model ctk-small-v1=/path/to/v1 --extra new=runs/x \\
        --heldout $CORPUS/heldout --manifest $CORPUS/manifest.csv --hybrid --reuse
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fragment_plan import add_plan_options, coverage_from, fragments_from  # noqa: E402
from bench.heldout_mels import cache_mels, embed_cached  # noqa: E402
from cluster_toolkit.evaluate import clustering_over_seeds, evaluate_embeddings, labels_for  # noqa: E402
from cluster_toolkit.ingest import EmbedConfig, embed_library  # noqa: E402
from cluster_toolkit.store import LibraryStore  # noqa: E402
from embeddings.backends.attention_pooling import ATTENTION_FILE  # noqa: E402
from embeddings.backends.encoder import EncoderBackend  # noqa: E402
from embeddings.backends.hybrid import POOLING_STATS_FILE, STATS_FILE, HybridBackend  # noqa: E402
from embeddings.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from embeddings.config import EMBED_COVERAGE, EMBED_FRAGMENTS  # noqa: E402
from embeddings.models import build_encoder  # noqa: E402
from embeddings.retrieval import recall_hits, retrieval_scores  # noqa: E402

CORPUS = os.environ.get("CORPUS")  # the dev corpus folder (docs/ctk-small.md, "Exact command")

METRICS = ("recall@1", "recall@10", "map@10", "nmi", "ami", "ari", "probe_acc", "same_vs_random")
#: held-out sources whose manifest artists are meaningful (several artists with >= 2 tracks)
ARTIST_MIN_TRACKS = 2


def random_init_twin(model_dir: Path, out: Path, seed: int = 0) -> Path:
    """A checkpoint with the trained model's architecture and front end but untrained weights."""
    ckpt = load_checkpoint(model_dir)
    torch.manual_seed(seed)
    module = build_encoder(ckpt.encoder)
    return save_checkpoint(
        out, module=module, name="random-init", contents="encoder",
        encoder=ckpt.encoder, audio=ckpt.audio, fragments=ckpt.fragments,
    )


def named(spec: str) -> tuple[str, str]:
    """``NAME=PATH`` or ``PATH`` (named after its folder)."""
    name, sep, path = spec.partition("=")
    return (name, path) if sep else (Path(spec).name, spec)


def precomputed_vectors(spec: str, paths: np.ndarray) -> tuple[str, np.ndarray]:
    """``NAME=FILE.npz[:KEY]``: track vectors computed outside ctk (a peer's model: bench/peer_musicnn.py),
    an ``.npz`` with ``paths`` and ``vectors`` (or KEY), returned in the order of ``paths`` (matched by path)."""
    key = "vectors"
    if not spec.endswith(".npz"):
        spec, _, key = spec.rpartition(":")
    name, file = named(spec)
    with np.load(file) as z:
        index = {str(p): i for i, p in enumerate(z["paths"])}
        missing = [p for p in paths if str(p) not in index]
        if missing:
            raise SystemExit(f"{file}: no vector for {len(missing)} of the {len(paths)} tracks (first: {missing[0]})")
        x = z[key][[index[str(p)] for p in paths]]
    return name.removesuffix(".npz"), np.asarray(x, dtype=np.float32)


def row(name: str, report: dict, seconds: float | None = None) -> dict:
    r, c, p, rel = report["retrieval"], report["clustering"], report["linear_probe"], report["relative"]
    return {
        "backend": name,
        "recall@1": r.get("recall@1"), "recall@10": r.get("recall@10"), "map@10": r.get("map@10"),
        "nmi": c["nmi"], "ami": c["ami"], "ari": c["ari"],
        "probe_acc": p["accuracy"], "probe_split_sd": p.get("split_std"), "probe_repeats": p.get("repeats"),
        "same_vs_random": rel["gap"],
        "embed_s": seconds,
    }


def per_query(x: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per-query hits of Recall@1 and Recall@10 and AP@10 (NaN for queries without another member)."""
    out = {"recall@1": recall_hits(x, labels, 1).astype(float), "recall@10": recall_hits(x, labels, 10).astype(float)}
    ap = np.full(len(x), np.nan)
    for i in range(len(x)):
        mask = np.zeros(len(x), dtype=bool)
        mask[i] = True
        ap[i] = retrieval_scores(x, labels, ks=(10,), queries=mask)["map@10"]
    out["map@10"] = ap
    return out


def uncertainty(
    data: dict[str, tuple[np.ndarray, np.ndarray]], reports: dict[str, dict], baselines: list[str], *,
    n_boot: int = 2000,
) -> dict:
    """NMI and AMI over k-means seeds (mean, sd) for each backend, as its ``evaluate_embeddings`` report in
    ``reports`` has them, and a paired bootstrap over the queries of Recall@1, Recall@10 and AP@10 differences of
    every backend against each baseline (mean and 95% interval; the same resampled queries for both sides)."""
    out: dict = {"over_kmeans_seeds": {}, "paired_bootstrap": {}}
    for name in data:
        c = reports[name]["clustering"]
        out["over_kmeans_seeds"][name] = {m: {"mean": c[m], "sd": c[f"{m}_std"]} for m in ("nmi", "ami")}
    hits = {name: per_query(x, labels) for name, (x, labels) in data.items()}
    first = next(iter(data.values()))[1]
    _, codes = np.unique(first, return_inverse=True)
    queries = np.flatnonzero(np.bincount(codes)[codes] > 1)  # tracks whose label has another member
    rng = np.random.default_rng(0)
    samples = rng.integers(0, len(queries), size=(n_boot, len(queries)))
    for base in baselines:
        for name in data:
            if name == base:
                continue
            entry = {}
            for metric in ("recall@1", "recall@10", "map@10"):
                diff = hits[name][metric][queries] - hits[base][metric][queries]
                boots = diff[samples].mean(axis=1)
                entry[metric] = {
                    "diff": float(diff.mean()),
                    "ci95": [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))],
                }
            out["paired_bootstrap"][f"{name} - {base}"] = entry
    return out


def manifest_artists(manifest: Path) -> dict[str, str]:
    """track_id -> artist from the corpus manifest (empty artists left out)."""
    with open(manifest, newline="") as fh:
        return {r["track_id"]: r["artist"].strip() for r in csv.DictReader(fh) if r["artist"].strip()}


def artist_scores(
    data: dict[str, tuple[np.ndarray, np.ndarray]], paths: np.ndarray, artists: dict[str, str], *, kmeans_seeds: int
) -> dict:
    """Within each held-out source with >= 2 artists of >= 2 tracks: Recall@1/10, AMI (mean over k-means
    seeds) and NMI of artist labels among that source's tracks by those artists; plus the track-weighted mean."""
    first_labels = next(iter(data.values()))[1]
    track_artist = np.array([artists.get(Path(p).name.split("-", 1)[0], "") for p in paths], dtype=object)
    out: dict = {}
    for source in np.unique(first_labels):
        in_source = first_labels == source
        names, counts = np.unique(track_artist[in_source & (track_artist != "")], return_counts=True)
        keep_names = set(names[counts >= ARTIST_MIN_TRACKS])
        if len(keep_names) < 2:
            continue
        mask = in_source & np.isin(track_artist, list(keep_names))
        labels = track_artist[mask].astype(str)
        out[source] = {"n_tracks": int(mask.sum()), "n_artists": len(keep_names), "rows": {}}
        for name, (x, _) in data.items():
            r = retrieval_scores(x[mask], labels, ks=(1, 10))
            c = clustering_over_seeds(x[mask], labels, seeds=kmeans_seeds)
            out[source]["rows"][name] = {"recall@1": r["recall@1"], "recall@10": r["recall@10"],
                                         "nmi": c["nmi"], "ami": c["ami"]}
    if out:
        weights = {s: v["n_tracks"] for s, v in out.items()}
        total = sum(weights.values())
        out["mean (track-weighted)"] = {"n_tracks": total, "rows": {
            name: {m: sum(out[s]["rows"][name][m] * w for s, w in weights.items()) / total
                   for m in ("recall@1", "recall@10", "nmi", "ami")}
            for name in data}}
    return out


def load_store(lib: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, LibraryStore]:
    """Track vectors, folder labels and paths ordered by path (the same order in every store)."""
    store = LibraryStore.open(lib)
    tracks, x = store.track_embeddings()
    order = np.argsort(tracks["path"].to_numpy())
    labels = labels_for(tracks, "folder").to_numpy()[order].astype(str)
    return x[order], labels, tracks["path"].to_numpy()[order], store


def store_fragment_vectors(store: LibraryStore, paths: np.ndarray) -> list[np.ndarray]:
    """Each track's fragment vectors ``(k, dim)``, in the order of ``paths``."""
    tracks = store.tracks().set_index("path")
    frags, x = store.fragment_embeddings()
    ids = frags["track_id"].to_numpy()
    return [x[ids == tracks.loc[p, "track_id"]] for p in paths]


def hybrid_std_block(hybrid: HybridBackend, per_track: list[np.ndarray]) -> np.ndarray:
    """Per track, the std over its fragments of the standardised learned vectors, centred on the mean over
    the tracks given and scaled to unit expected squared norm per track (like each hybrid block)."""
    s = np.stack([hybrid.standardised(f).std(axis=0) for f in per_track])
    s = s - s.mean(axis=0)
    return s / np.sqrt((s**2).sum(axis=1).mean())


def fmt(v: float | None) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="[NAME=]checkpoint folder: the reference trained model "
                    "(its architecture gives the random-init twin)")
    ap.add_argument("--extra", nargs="*", default=[], help="more [NAME=]checkpoint folders to compare")
    ap.add_argument("--heldout", type=Path, default=CORPUS and Path(CORPUS, "heldout"),
                    required=not CORPUS, help="default: $CORPUS/heldout")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "quality")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reuse", action="store_true", help="keep stores already embedded by the same model "
                    "(embedding is deterministic; only new tracks are embedded)")
    ap.add_argument("--hybrid", action="store_true", help="add hybrid(NAME) rows for models with embedding_stats.json")
    ap.add_argument("--hybrid-weights", type=float, nargs="*", default=[],
                    help="also hybrid rows with the learned block weighted W against the features block")
    ap.add_argument("--mean-std", action="store_true", help="add mean+std pooling rows for the trained models")
    ap.add_argument("--hybrid-mean-std", type=float, nargs="*", default=[],
                    help="hybrid rows with the std over fragments of the learned vectors as a third block of weight W")
    ap.add_argument("--hybrid-std", type=float, nargs="*", default=None, help="add hybrid+std(NAME) rows for models "
                    f"with {POOLING_STATS_FILE} (the fixed std block of `--model hybrid+std:NAME`), at the weight "
                    "stored there or at each weight W given")
    ap.add_argument("--hybrid-attn", action="store_true", help="add hybrid+attn(NAME) rows for models with "
                    f"{ATTENTION_FILE} (`--model hybrid+attn:NAME`)")
    ap.add_argument("--store", nargs="*", default=[], help="NAME=PATH: rows from stores embedded elsewhere")
    ap.add_argument("--manifest", type=Path, default=None, help="corpus manifest.csv: adds artist-label scores")
    ap.add_argument("--vectors", nargs="*", default=[], metavar="NAME=FILE.npz[:KEY]",
                    help="precomputed track vectors (paths + vectors, e.g. bench/peer_musicnn.py's), matched by "
                    "path and scored beside the others; the bootstrap also compares every row against them")
    ap.add_argument("--kmeans-seeds", type=int, default=10)
    ap.add_argument("--coverage", default="full", help="fragments per track: full (every fragment; the tables in "
                    "docs were made so) or sampled (ctk embed's default)")
    ap.add_argument("--mels", type=Path, default=None, help="log-mel cache folder: encoders without a store embed "
                    "the held-out fragments from it (one decode for all models; checked against a ctk embed store)")
    add_plan_options(ap, EMBED_FRAGMENTS, EMBED_COVERAGE)  # ctk embed's plan for a new library
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    fragments, coverage = fragments_from(args), coverage_from(args, args.coverage)
    ref_name, ref_path = named(args.model)
    twin = random_init_twin(Path(ref_path), args.work / "random-init")
    models = {ref_name: ref_path, **dict(named(e) for e in args.extra)}
    backends = {"features": "features", "random-init": str(twin), **models}
    rows, reports, data, fragment_vectors, paths = [], {}, {}, {}, None
    cached_tracks = None
    checks = {}
    for name, spec in backends.items():
        lib = args.work / f"lib-{name}"
        t0 = time.perf_counter()
        from_store = args.mels is None or name == "features" or (args.reuse and (lib / "tracks").exists())
        if from_store:
            embed_library(args.heldout, lib, EmbedConfig(model=spec, workers=args.workers, reembed=not args.reuse,
                                                         fragment=fragments, coverage=coverage))
            x, labels, p, store = load_store(lib)
            fragment_vectors[name] = lambda store=store, p=p: store_fragment_vectors(store, p)
            if paths is not None and not np.array_equal(p, paths):
                raise SystemExit(f"{lib}: holds other tracks than the first store")
            paths, labels_ref = p, labels
        if args.mels is not None and cached_tracks is None and paths is not None:
            cached_tracks = cache_mels(args.work / "lib-features", args.mels, workers=args.workers,
                                       n_seconds=args.n_seconds)
            order = np.argsort(cached_tracks["path"].to_numpy())
            cached_tracks = cached_tracks.iloc[order].reset_index(drop=True)
            if not np.array_equal(cached_tracks["path"].to_numpy(), paths):
                raise SystemExit("the log-mel cache holds other tracks than the stores")
        if args.mels is not None and name != "features":
            saved = args.work / f"vectors-{name}-{load_checkpoint(spec).weights_sha256[:16]}.npz"
            if args.reuse and saved.exists() and not from_store:  # this model's vectors from an earlier run
                with np.load(saved) as z:
                    xc, counts = z["tracks"], z["counts"]
                    per_track = np.split(z["fragments"], np.cumsum(counts)[:-1])
            else:
                xc, per_track = embed_cached(spec, cached_tracks, args.mels)
                np.savez(saved, tracks=xc, fragments=np.concatenate(per_track),
                         counts=np.array([len(f) for f in per_track]))
            if from_store:  # the cached path against what `ctk embed` stored for the same model
                checks[name] = float(np.abs(xc - x).max())
                print(f"{name}: cached log-mels vs ctk embed, max |difference| of track vectors {checks[name]:.2e}")
            else:
                x, labels = xc, labels_ref
                fragment_vectors[name] = lambda per_track=per_track: per_track
        seconds = time.perf_counter() - t0
        data[name] = (x, labels)
        reports[name] = evaluate_embeddings(x, labels, kmeans_seeds=args.kmeans_seeds)
        rows.append(row(name, reports[name], seconds))
        print(json.dumps(rows[-1]), flush=True)
    derived: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    peers = [precomputed_vectors(spec, paths) for spec in args.vectors]
    for name, x in peers:
        derived[name] = (x, labels_ref)
    if args.hybrid:
        for name, spec in models.items():
            if (Path(spec) / STATS_FILE).is_file():
                hybrid = HybridBackend(EncoderBackend.from_checkpoint(spec))
                derived[f"hybrid({name})"] = (hybrid.combine(data[name][0], data["features"][0]), data[name][1])
                for w in args.hybrid_weights:  # sensitivity to the block balance (learned : features)
                    weighted = HybridBackend(hybrid.encoder, learned_weight=w)
                    derived[f"hybrid({name}) {w:g}:1"] = (
                        weighted.combine(data[name][0], data["features"][0]), data[name][1])
                derived[f"{name} standardised"] = (hybrid.standardised(data[name][0]).astype(np.float32), data[name][1])

                def stored_tracks(pooled: HybridBackend, name: str = name) -> np.ndarray:
                    """What ``pooled`` stores as track vectors, from the two backends' cached fragment vectors."""
                    pairs = zip(fragment_vectors[name](), fragment_vectors["features"](), strict=True)
                    return np.stack([pooled.pool(np.concatenate([pooled.combine(e, f), np.zeros_like(e)], axis=1))
                                     for e, f in pairs])

                if args.hybrid_std is not None and (Path(spec) / POOLING_STATS_FILE).is_file():
                    pooled = HybridBackend(hybrid.encoder, pooling="mean+std")
                    x = stored_tracks(pooled)
                    for w in args.hybrid_std or [pooled.std_weight]:
                        std_block = x[:, hybrid.dim :] * (w / pooled.std_weight)
                        derived[f"hybrid+std({name}) {w:g}"] = (
                            np.concatenate([x[:, : hybrid.dim], std_block], axis=1).astype(np.float32), data[name][1])
                if args.hybrid_attn and (Path(spec) / ATTENTION_FILE).is_file():
                    derived[f"hybrid+attn({name})"] = (
                        stored_tracks(HybridBackend(hybrid.encoder, pooling="attention")), data[name][1])
                if args.hybrid_mean_std:
                    base = hybrid.combine(data[name][0], data["features"][0])
                    stds = hybrid_std_block(hybrid, fragment_vectors[name]())
                    for w in args.hybrid_mean_std:
                        derived[f"hybrid({name}) mean+std {w:g}"] = (
                            np.concatenate([base, w * stds], axis=1).astype(np.float32), data[name][1])
    for name, lib in map(named, args.store):
        x, labels, p, _ = load_store(Path(lib))
        if not np.array_equal(p, paths):
            raise SystemExit(f"{lib}: holds other tracks than the first store")
        derived[name] = (x, labels)
    if args.mean_std:
        for name in models:
            per_track = fragment_vectors[name]()
            x = np.stack([np.concatenate([f.mean(axis=0), f.std(axis=0)]) for f in per_track]).astype(np.float32)
            derived[f"{name} mean+std"] = (x, data[name][1])
    for name, (x, labels) in derived.items():
        data[name] = (x, labels)
        reports[name] = evaluate_embeddings(x, labels, kmeans_seeds=args.kmeans_seeds)
        rows.append(row(name, reports[name]))
        print(json.dumps(rows[-1]), flush=True)
    first = reports["features"]
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "heldout": str(args.heldout),
        "n_tracks": first["n_labelled"],
        "n_labels": first["n_labels"],
        "rows": rows,
        "cached_vs_store_max_abs_diff": checks,
        "uncertainty": uncertainty(data, reports, ["features", ref_name, *(n for n, _ in peers)]),
        "reports": reports,
    }
    if args.manifest:
        result["artists"] = artist_scores(data, paths, manifest_artists(args.manifest), kmeans_seeds=args.kmeans_seeds)
    (args.work / "encoder_quality.json").write_text(json.dumps(result, indent=2, default=str))

    spread = result["uncertainty"]["over_kmeans_seeds"]
    print(f"\n{result['n_tracks']} tracks, {result['n_labels']} sources ({args.heldout})")
    print(f"| backend | Recall@1 | Recall@10 | mAP@10 | NMI | AMI | ARI | probe acc +- split sd | same-vs-random | "
          f"NMI, {args.kmeans_seeds} k-means seeds | AMI, {args.kmeans_seeds} seeds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = spread[r["backend"]]
        cells = [fmt(r[k]) + (f" +- {r['probe_split_sd']:.3f}" if k == "probe_acc" and r.get("probe_split_sd") else "")
                 for k in METRICS]
        print(f"| {r['backend']} | " + " | ".join(cells)
              + f" | {s['nmi']['mean']:.3f} +- {s['nmi']['sd']:.3f} | {s['ami']['mean']:.3f} +- {s['ami']['sd']:.3f} |")
    print("\nPaired bootstrap over queries (diff, 95% interval):")
    for pair, v in result["uncertainty"]["paired_bootstrap"].items():
        print(f"  {pair}: " + "; ".join(
            f"{m} {e['diff']:+.3f} ({e['ci95'][0]:+.3f} .. {e['ci95'][1]:+.3f})" for m, e in v.items()))
    if result.get("artists"):
        print("\nArtist labels within held-out sources (Recall@1 / Recall@10 / NMI / AMI, means over k-means seeds):")
        for source, v in result["artists"].items():
            print(f"  {source} ({v['n_tracks']} tracks" + (f", {v['n_artists']} artists)" if "n_artists" in v else ")"))
            for name, m in v["rows"].items():
                print(f"    {name}: {m['recall@1']:.3f} / {m['recall@10']:.3f} / {m['nmi']:.3f} / {m['ami']:.3f}")


if __name__ == "__main__":
    main()
