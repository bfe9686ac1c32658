"""Table of the runs made by bench/encoder_variants.sh: held-out scores and training speed of each run."""

import glob
import json
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "runs/variants"
print("| run | held-out Recall@1 | Recall@10 | mAP@10 | NMI | AMI | same-track val recall@10 | fragments/s |")
print("|---|---|---|---|---|---|---|---|")
for d in sorted(glob.glob(os.path.join(out, "*", "eval.json"))):
    run = os.path.dirname(d)
    report = json.load(open(d))
    records = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]
    val = [r for r in records if r.get("kind") == "val"]
    train = [r for r in records if r.get("kind") == "train"]
    r, c = report["retrieval"], report["clustering"]
    cells = [r["recall@1"], r["recall@10"], r["map@10"], c["nmi"], c["ami"], val[-1]["recall@10"]]
    speed = sum(t["fragments_per_s"] for t in train[-5:]) / max(1, len(train[-5:]))
    print(f"| {os.path.basename(run)} | " + " | ".join(f"{v:.3f}" for v in cells) + f" | {speed:.0f} |")
