"""Track pooling and block weights of ``hybrid`` from two held-out stores, no decode and no training.

A ``hybrid`` store holds each fragment's vector ``[ (e - mu) / sd / sqrt(dim_e), f / sqrt(dim_f) ]``, so the
standardised learned vectors of every fragment come back exactly (times ``sqrt(dim_e)``). From them:

- ``hybrid W:1``: the learned block weighted W against the `features` block (track vectors = means);
- ``hybrid + std block W``: a third block, the std over the track's fragments of the standardised learned
  vectors, centred on the mean over the tracks given (transductive: no reference statistics for it exist
  yet, so this measures what the pooling could give, not a fixed map that could ship as is), scaled to
  unit mean squared norm and weighted W;
- ``learned mean+std``: the learned part alone, mean and std blocks.

Every row is scored with ``ctk evaluate``'s metrics, NMI/AMI over 10 k-means seeds and a paired bootstrap
against ``features`` and ``hybrid`` (``bench/encoder_quality.py``'s functions).

    python bench/hybrid_pooling.py HYBRID_STORE FEATURES_STORE [--model embeddings/assets/ctk-small]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.encoder_quality import METRICS, fmt, load_store, row, store_fragment_vectors, uncertainty  # noqa: E402
from cluster_toolkit.evaluate import evaluate_embeddings  # noqa: E402
from embeddings.backends.encoder import EncoderBackend  # noqa: E402
from embeddings.backends.hybrid import HybridBackend  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hybrid_store", type=Path)
    ap.add_argument("features_store", type=Path)
    ap.add_argument("--model", type=Path, default=ROOT / "embeddings" / "assets" / "ctk-small")
    ap.add_argument("--out", type=Path, default=None, help="JSON of the rows and the uncertainty")
    args = ap.parse_args()
    xh, labels, paths, store = load_store(args.hybrid_store)
    xf, _, paths_f, _ = load_store(args.features_store)
    if not np.array_equal(paths, paths_f):
        raise SystemExit("the two stores hold other tracks")
    d = HybridBackend(EncoderBackend.from_checkpoint(args.model)).encoder.dim
    frags = store_fragment_vectors(store, paths)
    z = [f[:, :d] * np.sqrt(d) for f in frags]  # standardised learned fragment vectors
    learned = np.stack([g.mean(0) for g in z]) / np.sqrt(d)
    feats = np.stack([f[:, d:].mean(0) for f in frags])
    s = np.stack([g.std(0) for g in z])
    s = s - s.mean(0)
    s = s / np.sqrt((s**2).sum(1).mean())
    data = {"features": xf, "hybrid": xh, "learned standardised": learned}
    for w in (0.5, 0.75, 1.5, 2.0):
        data[f"hybrid {w:g}:1"] = np.concatenate([w * learned, feats], 1)
    for w in (0.25, 0.5, 1.0):
        data[f"hybrid + std block {w:g}"] = np.concatenate([learned, feats, w * s], 1)
    data["learned mean+std"] = np.concatenate([learned, s * np.sqrt((learned**2).sum(1).mean())], 1)
    data = {k: (v.astype(np.float32), labels) for k, v in data.items()}
    reports = {name: evaluate_embeddings(x, lab, kmeans_seeds=10) for name, (x, lab) in data.items()}
    rows = [row(name, report) for name, report in reports.items()]
    u = uncertainty(data, reports, ["features", "hybrid"])
    spread = u["over_kmeans_seeds"]
    print(f"{len(paths)} tracks, {sum(len(f) for f in frags)} fragments ({args.hybrid_store})")
    print("| backend | Recall@1 | Recall@10 | mAP@10 | NMI | AMI | ARI | probe | same-vs-random | NMI, 10 seeds "
          "| AMI, 10 seeds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        q = spread[r["backend"]]
        print(f"| {r['backend']} | " + " | ".join(fmt(r[k]) for k in METRICS)
              + f" | {q['nmi']['mean']:.3f} +- {q['nmi']['sd']:.3f} | {q['ami']['mean']:.3f} +- {q['ami']['sd']:.3f} |")
    for pair, v in u["paired_bootstrap"].items():
        print(f"  {pair}: " + "; ".join(
            f"{m} {e['diff']:+.3f} ({e['ci95'][0]:+.3f} .. {e['ci95'][1]:+.3f})" for m, e in v.items()))
    if args.out:
        args.out.write_text(json.dumps({"rows": rows, "uncertainty": u}, indent=1, default=str))


if __name__ == "__main__":
    main()
