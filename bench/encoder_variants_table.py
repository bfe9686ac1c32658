"""Table of the runs made by bench/encoder_variants.sh (last validation of each run)."""
import glob
import json
import os
import sys

rows = []
for d in sorted(glob.glob(os.path.join(sys.argv[1] if len(sys.argv) > 1 else "runs/variants", "*/"))):
    name = os.path.basename(d.rstrip("/"))
    recs = [json.loads(line) for line in open(d + "metrics.jsonl")]
    val = [r for r in recs if r.get("kind") == "val"]
    tr = [r for r in recs if r.get("kind") == "train"]
    if not val:
        continue
    last = val[-1]
    rows.append((name, last["step"], last["val_loss"], last["recall@1"], last["recall@10"], tr[-1]["fragments_per_s"]))
print("| run | steps | validation loss | same-track recall@1 | recall@10 | fragments/s |")
print("|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:.1f} |")
