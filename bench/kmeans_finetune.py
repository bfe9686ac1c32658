"""k-means-loss fine-tuning: held-out clustering quality of a base encoder vs the same encoder fine-tuned
with ``contrastive + weight * KMeansLoss`` (``ctk finetune --kmeans-loss``), plus the collapse check.

Fine-tunes on the training folder (the sources the base model was trained on), then embeds the held-out
folder (other sources, never seen) with both models into fresh stores and scores them with
``cluster_toolkit.evaluate.evaluate_library(store, "folder")`` (k-means with k = number of labels: NMI,
AMI, ARI; Recall@10). NMI is also given as mean +- std over 5 k-means seeds, and the effective rank and
uniformity of the held-out track embeddings before and after.

    .venv/bin/python bench/kmeans_finetune.py --model runs/ctk-small-40 --k 9 --weight 0.1 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cluster_toolkit.cli._training_common import list_training_files  # noqa: E402
from cluster_toolkit.evaluate import evaluate_library  # noqa: E402
from cluster_toolkit.ingest import EmbedConfig, embed_library  # noqa: E402
from cluster_toolkit.store import LibraryStore  # noqa: E402
from embeddings.collapse import collapse_report  # noqa: E402
from embeddings.training.finetune import finetune  # noqa: E402

CORPUS = os.environ.get("CORPUS")  # the dev corpus folder (docs/ctk-small.md, "Exact command")


def heldout_scores(model: Path, heldout: Path, lib: Path, workers: int) -> dict:
    """Embed ``heldout`` with ``model`` into a fresh store ``lib`` (reused if it is already complete) and score it."""
    t0 = time.perf_counter()
    if not (lib / "store.json").is_file():
        embed_library(heldout, lib, EmbedConfig(model=str(model), workers=workers, reembed=True))
    seconds = time.perf_counter() - t0
    store = LibraryStore.open(lib)
    report = evaluate_library(store, "folder", kmeans_seeds=5)  # NMI/AMI/ARI: means over k-means seeds 0-4
    _, x = store.track_embeddings()
    c = report["clustering"]
    return {
        "nmi": c["nmi"],
        "ami": c["ami"],
        "ari": c["ari"],
        "nmi_5_seeds_mean": c["nmi"],
        "nmi_5_seeds_std": c["nmi_std"],
        "recall@10": report["retrieval"]["recall@10"],
        "recall@1": report["retrieval"]["recall@1"],
        "probe_acc": report["linear_probe"]["accuracy"],
        **{f"heldout_{k}": v for k, v in collapse_report(x).items()},
        "n_tracks": report["n_tracks"],
        "n_labels": report["n_labels"],
        "embed_s": round(seconds, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="base checkpoint folder (a ctk train run)")
    ap.add_argument("--train", type=Path, default=CORPUS and Path(CORPUS, "train"),
                    required=not CORPUS, help="default: $CORPUS/train")
    ap.add_argument("--heldout", type=Path, default=CORPUS and Path(CORPUS, "heldout"),
                    required=not CORPUS, help="default: $CORPUS/heldout")
    ap.add_argument("--work", type=Path, default=Path("runs/finetune"))
    ap.add_argument("--k", type=int, default=9)
    ap.add_argument("--weight", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--crop-seconds", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tag", default=None, help="name of this fine-tuning run [default: from k/weight/epochs]")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    tag = args.tag or f"k{args.k}-w{args.weight:g}-e{args.epochs}"
    out = args.work / f"model-{args.model.name}-{tag}"

    print(f"base model {args.model}: embedding {args.heldout}", flush=True)
    before = heldout_scores(args.model, args.heldout, args.work / f"lib-{args.model.name}", args.workers)
    print(json.dumps({"model": "base", **before}), flush=True)

    t0 = time.perf_counter()
    if (out / "model.json").is_file() and (out / "last").is_dir():
        meta = json.loads((out / "model.json").read_text())
        train_collapse = json.loads((out / "collapse.json").read_text())
        fragments_per_s = meta.get("fragments_per_s")
    else:
        result = finetune(
            list_training_files(args.train),
            model_dir=args.model,
            out_dir=out,
            k=args.k,
            weight=args.weight,
            epochs=args.epochs,
            lr=args.lr,
            crop_seconds=args.crop_seconds,
            source_dir=args.train,
        )
        train_collapse = result.collapse
        fragments_per_s = result.fragments_per_s
        (out / "collapse.json").write_text(json.dumps(train_collapse, indent=2))
    finetune_s = time.perf_counter() - t0
    print(f"fine-tuned in {finetune_s:.0f} s: {json.dumps(train_collapse)}", flush=True)

    after = heldout_scores(out, args.heldout, args.work / f"lib-{args.model.name}-{tag}", args.workers)
    print(json.dumps({"model": "fine-tuned", **after}), flush=True)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "command": " ".join(sys.argv),
        "base_model": str(args.model),
        "finetuned_model": str(out),
        "k": args.k,
        "weight": args.weight,
        "epochs": args.epochs,
        "lr": args.lr,
        "crop_seconds": args.crop_seconds,
        "finetune_s": round(finetune_s, 1),
        "fragments_per_s": fragments_per_s,
        "train_collapse": train_collapse,
        "heldout_base": before,
        "heldout_finetuned": after,
    }
    (args.work / f"kmeans_finetune-{args.model.name}-{tag}.json").write_text(json.dumps(result, indent=2))
    print("| model | NMI | NMI (5 seeds) | AMI | ARI | Recall@10 | eff. rank | uniformity |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in (("base", before), (f"fine-tuned {tag}", after)):
        print(
            f"| {name} | {r['nmi']:.3f} | {r['nmi_5_seeds_mean']:.3f} +- {r['nmi_5_seeds_std']:.3f} | "
            f"{r['ami']:.3f} | {r['ari']:.3f} | {r['recall@10']:.3f} | {r['heldout_effective_rank']:.1f} | "
            f"{r['heldout_uniformity']:.3f} |"
        )


if __name__ == "__main__":
    main()
