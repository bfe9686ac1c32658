"""Held-out quality of `--coverage sampled` (N fragments per track) against `--coverage full`.

Each backend embeds the held-out folder once with full coverage, keeping every fragment's vector. A
sampled track vector is the mean of the fragments `--coverage sampled --sampled-fragments N` would
embed (`spread_fragments` of the full plan; pooled as `ctk embed` pools, so `hybrid+std` gets its std
block), so every N is scored on the very same fragment vectors;
one real sampled run (`--check N`, spans decoded by seeking) confirms that its track vectors equal these
(cosine printed). Scores: `ctk evaluate --labels folder`'s metrics, NMI over 10 k-means seeds (mean,
sd) and a paired bootstrap over the queries of the Recall@10 difference sampled - full.

    python bench/coverage_quality.py --heldout $CORPUS/heldout --models ctk-small features \
        --budgets 2 4 6 8 12 --check 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cluster_toolkit.evaluate import evaluate_embeddings, labels_for  # noqa: E402
from cluster_toolkit.ingest import EmbedConfig, embed_library  # noqa: E402
from cluster_toolkit.store import LibraryStore  # noqa: E402
from embeddings.backends import load_backend  # noqa: E402
from embeddings.config import CoverageConfig  # noqa: E402
from embeddings.fragments import FragmentPlan, spread_fragments  # noqa: E402
from embeddings.inference import pool_fragments  # noqa: E402
from embeddings.retrieval import recall_hits  # noqa: E402

CORPUS = os.environ.get("CORPUS")  # the dev corpus folder (docs/ctk-small.md, "Exact command")


def sampled_vectors(frags, matrix: np.ndarray, track_ids: list[str], n: int | None, backend=None) -> np.ndarray:
    """Track vectors pooled from the fragments sampled coverage with ``n`` fragments keeps (None: all), as
    ``ctk embed`` pools them (``pool_fragments``: the backend's own pooling, e.g. ``hybrid+std``, else the mean)."""
    out = np.empty((len(track_ids), matrix.shape[1]), dtype=np.float32)
    groups = frags.groupby("track_id").indices
    for i, tid in enumerate(track_ids):
        rows = np.sort(groups[tid])
        if n is not None:
            plan = FragmentPlan(starts=frags["start_s"].to_numpy()[rows].astype(np.float64),
                                splits=tuple(frags["split"].to_numpy()[rows]), n_seconds=10.0)
            kept = spread_fragments(plan, n).starts
            rows = rows[np.isin(plan.starts, kept)]
        out[i] = pool_fragments(matrix[rows], backend)
    return out


def score(x: np.ndarray, labels: np.ndarray, *, kmeans_seeds: int = 10) -> dict:
    report = evaluate_embeddings(x, labels.tolist(), ks=(1, 10), kmeans_seeds=kmeans_seeds)
    c = report["clustering"]  # means over the k-means seeds
    return {
        "recall@1": report["retrieval"]["recall@1"], "recall@10": report["retrieval"]["recall@10"],
        "map@10": report["retrieval"]["map@10"], "nmi": c["nmi"], "ari": c["ari"],
        "probe": report["linear_probe"]["accuracy"], "nmi_mean": c["nmi"], "nmi_sd": c["nmi_std"],
    }


def paired_recall_diff(a: np.ndarray, b: np.ndarray, labels: np.ndarray, *, k: int = 10, n_boot: int = 2000) -> dict:
    """Recall@k of ``a`` minus that of ``b`` over the same queries, with a 95% bootstrap interval."""
    _, codes = np.unique(labels, return_inverse=True)
    queries = np.flatnonzero(np.bincount(codes)[codes] > 1)
    diff = recall_hits(a, labels, k)[queries].astype(float) - recall_hits(b, labels, k)[queries].astype(float)
    boots = diff[np.random.default_rng(0).integers(0, len(queries), size=(n_boot, len(queries)))].mean(axis=1)
    return {"diff": float(diff.mean()), "ci95": [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heldout", type=Path, default=CORPUS and Path(CORPUS, "heldout"),
                    required=not CORPUS, help="default: $CORPUS/heldout")
    ap.add_argument("--models", nargs="+", default=["ctk-small", "features"])
    ap.add_argument("--budgets", nargs="+", type=int, default=[2, 4, 6, 8, 12])
    ap.add_argument("--check", type=int, default=8, help="also embed for real with this budget (0: skip)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "coverage")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result: dict = {"date": date.today().isoformat(), "heldout": str(args.heldout),
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores", "command": " ".join(sys.argv),
                    "models": {}}
    for model in args.models:
        lib = args.work / f"lib-{Path(model).name}-full"
        t0 = time.perf_counter()
        embed_library(args.heldout, lib, EmbedConfig(model=model, workers=args.workers, reembed=True,
                                                     coverage=CoverageConfig(mode="full")))
        full_s = time.perf_counter() - t0
        store = LibraryStore.open(lib)
        tracks, _ = store.track_embeddings()
        tracks = tracks.sort_values("path").reset_index(drop=True)
        track_ids = tracks["track_id"].tolist()
        labels = labels_for(tracks, "folder").to_numpy().astype(str)
        frags, matrix = store.fragment_embeddings(track_ids)
        per_track = frags.groupby("track_id").size()
        backend = load_backend(model)
        full = sampled_vectors(frags, matrix, track_ids, None, backend)
        rows = {"full": {**score(full, labels), "fragments_per_track": float(per_track.mean())}}
        for n in args.budgets:
            x = sampled_vectors(frags, matrix, track_ids, n, backend)
            rows[f"sampled {n}"] = {**score(x, labels), "fragments_per_track": float(np.minimum(per_track, n).mean()),
                                    "recall@10_minus_full": paired_recall_diff(x, full, labels)}
            print(model, n, json.dumps(rows[f"sampled {n}"]), flush=True)
        entry = {"n_tracks": len(track_ids), "n_labels": int(len(set(labels))), "full_embed_s": full_s, "rows": rows}
        if args.check:
            check_lib = args.work / f"lib-{Path(model).name}-sampled{args.check}"
            t0 = time.perf_counter()
            embed_library(args.heldout, check_lib, EmbedConfig(
                model=model, workers=args.workers, reembed=True,
                coverage=CoverageConfig(mode="sampled", n_fragments=args.check)))
            real_tracks, real_x = LibraryStore.open(check_lib).track_embeddings()
            order = real_tracks.set_index("track_id").index.get_indexer(track_ids)
            real_x = real_x[order]
            simulated = sampled_vectors(frags, matrix, track_ids, args.check, backend)
            cos = np.sum(real_x * simulated, axis=1) / (
                np.linalg.norm(real_x, axis=1) * np.linalg.norm(simulated, axis=1))
            entry["check"] = {"budget": args.check, "embed_s": time.perf_counter() - t0,
                              "min_cosine_real_vs_simulated": float(cos.min()),
                              "mean_cosine_real_vs_simulated": float(cos.mean()),
                              "scores_real": score(real_x, labels)}
            print(model, "check", json.dumps(entry["check"]), flush=True)
        result["models"][model] = entry
    (args.work / "coverage_quality.json").write_text(json.dumps(result, indent=2))
    for model, entry in result["models"].items():
        print(f"\n{model} ({entry['n_tracks']} tracks, {entry['n_labels']} sources)")
        print("| coverage | fragments/track | Recall@1 | Recall@10 | mAP@10 | NMI (10 seeds) | ARI | probe | "
              "Recall@10 - full (95%) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, r in entry["rows"].items():
            d = r.get("recall@10_minus_full")
            diff = f"{d['diff']:+.3f} ({d['ci95'][0]:+.3f} .. {d['ci95'][1]:+.3f})" if d else "-"
            print(f"| {name} | {r['fragments_per_track']:.1f} | {r['recall@1']:.3f} | {r['recall@10']:.3f} | "
                  f"{r['map@10']:.3f} | {r['nmi_mean']:.3f} +- {r['nmi_sd']:.3f} | {r['ari']:.3f} | "
                  f"{r['probe']:.3f} | {diff} |")


if __name__ == "__main__":
    main()
