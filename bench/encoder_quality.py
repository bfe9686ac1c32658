"""Held-out quality of a trained encoder against the `features` baseline and the same
architecture untrained (random init), on real music the model never saw.

The development corpus (../shared/corpus/build_dev_corpus.sh) is split by whole sources: the
model trains on some games' soundtracks and is evaluated on the others, so "same production"
cannot leak. Labels are the source (the folder a track sits in). Every backend embeds the same
held-out folder into its own store; `ctk evaluate` metrics are computed for each.

    .venv/bin/python bench/encoder_quality.py --model /work/runs/ctk-small --heldout /work/corpus/heldout
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
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cluster_toolkit.evaluate import clustering_scores, evaluate_library, labels_for  # noqa: E402
from cluster_toolkit.library import EmbedConfig, embed_library  # noqa: E402
from cluster_toolkit.store import LibraryStore  # noqa: E402
from embeddings.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from embeddings.models import build_encoder  # noqa: E402
from embeddings.retrieval import recall_hits  # noqa: E402


def random_init_twin(model_dir: Path, out: Path, seed: int = 0) -> Path:
    """A checkpoint with the trained model's architecture and front end but untrained weights."""
    ckpt = load_checkpoint(model_dir)
    torch.manual_seed(seed)
    module = build_encoder(ckpt.encoder)
    return save_checkpoint(
        out, module=module, name="random-init", contents="encoder",
        encoder=ckpt.encoder, audio=ckpt.audio, fragments=ckpt.fragments,
    )


def row(name: str, report: dict, seconds: float) -> dict:
    r, c, p, rel = report["retrieval"], report["clustering"], report["linear_probe"], report["relative"]
    return {
        "backend": name,
        "recall@1": r.get("recall@1"), "recall@10": r.get("recall@10"), "map@10": r.get("map@10"),
        "nmi": c["nmi"], "ami": c["ami"], "ari": c["ari"],
        "probe_acc": p["accuracy"],
        "same_vs_random": rel["gap"],
        "embed_s": seconds,
    }


def uncertainty(libs: dict[str, Path], *, k: int = 10, n_boot: int = 2000, kmeans_seeds: int = 10) -> dict:
    """How much the headline numbers move: NMI over ``kmeans_seeds`` k-means starts (mean, sd) for each
    backend, and a paired bootstrap over the queries of the Recall@k difference of every pair of backends
    (mean and 95% interval; the same resampled queries for both sides)."""
    data = {}
    for name, lib in libs.items():
        tracks, x = LibraryStore.open(lib).track_embeddings()
        labels = labels_for(tracks, "folder")
        order = np.argsort(tracks["path"].to_numpy())  # the same track order in every store
        data[name] = (x[order], labels.to_numpy()[order].astype(str))
    out: dict = {"nmi_over_kmeans_seeds": {}, f"recall@{k}_paired_bootstrap": {}}
    for name, (x, labels) in data.items():
        nmis = [clustering_scores(x, labels, seed=s)["nmi"] for s in range(kmeans_seeds)]
        out["nmi_over_kmeans_seeds"][name] = {"mean": float(np.mean(nmis)), "sd": float(np.std(nmis))}
    hits = {name: recall_hits(x, labels, k) for name, (x, labels) in data.items()}
    _, codes = np.unique(next(iter(data.values()))[1], return_inverse=True)
    queries = np.flatnonzero(np.bincount(codes)[codes] > 1)  # tracks whose label has another member
    rng = np.random.default_rng(0)
    samples = rng.integers(0, len(queries), size=(n_boot, len(queries)))
    names = list(hits)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            diff = hits[a][queries].astype(float) - hits[b][queries].astype(float)
            boots = diff[samples].mean(axis=1)
            out[f"recall@{k}_paired_bootstrap"][f"{a} - {b}"] = {
                "diff": float(diff.mean()),
                "ci95": [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))],
                "p_not_above_0": float((boots <= 0).mean()),
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="trained checkpoint folder")
    ap.add_argument("--heldout", type=Path, default=Path("/work/corpus/heldout"))
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "quality")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--extra", nargs="*", default=[], help="more checkpoint folders to compare")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    twin = random_init_twin(args.model, args.work / "random-init")
    backends = {"features": "features", "random-init": str(twin), args.model.name: str(args.model)}
    backends.update({Path(e).name: e for e in args.extra})
    rows, reports, libs = [], {}, {}
    for name, spec in backends.items():
        lib = libs[name] = args.work / f"lib-{name}"
        t0 = time.perf_counter()
        embed_library(args.heldout, lib, EmbedConfig(model=spec, workers=args.workers, reembed=True))
        seconds = time.perf_counter() - t0
        report = evaluate_library(LibraryStore.open(lib), "folder")
        reports[name] = report
        rows.append(row(name, report, seconds))
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "heldout": str(args.heldout),
        "n_tracks": reports[next(iter(reports))]["n_tracks"],
        "n_labels": reports[next(iter(reports))]["n_labels"],
        "rows": rows,
        "uncertainty": uncertainty(libs),
        "reports": reports,
    }
    (args.work / "encoder_quality.json").write_text(json.dumps(result, indent=2, default=str))
    print("| backend | Recall@1 | Recall@10 | mAP@10 | NMI | AMI | ARI | probe acc | same-vs-random |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        vals = [r[k] for k in ("recall@1", "recall@10", "map@10", "nmi", "ami", "ari", "probe_acc", "same_vs_random")]
        print(f"| {r['backend']} | " + " | ".join("-" if v is None else f"{v:.3f}" for v in vals) + " |")

    spread = result["uncertainty"]
    print("\nNMI over 10 k-means seeds: " + ", ".join(
        f"{n} {v['mean']:.3f} +- {v['sd']:.3f}" for n, v in spread["nmi_over_kmeans_seeds"].items()))
    for pair, v in spread["recall@10_paired_bootstrap"].items():
        print(f"Recall@10 {pair}: {v['diff']:+.3f} (95% {v['ci95'][0]:+.3f} .. {v['ci95'][1]:+.3f})")


if __name__ == "__main__":
    main()
