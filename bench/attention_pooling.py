"""Attention pooling of the `hybrid+std` fragment vectors against mean pooling, on held-out sources (issue 9 item 3),
and the fit of the ``hybrid+attn`` backend's head (``--write``).

A small attention head (:mod:`embeddings.backends.attention_pooling`) scores each fragment's mean part (the
`hybrid` blocks: learned + features), ``a = softmax_k(v . tanh(W x_k + b))`` with ``W`` ``(32, 343)``, and replaces
the track's mean of those blocks by ``sum_k a_k x_k``; the std block is the default's. ``v`` starts at zero, so
step 0 *is* mean pooling.
The head is fitted on the train sources' tracks (sampled coverage, as ``ctk embed``), full batch, Adam
(lr 1e-3), multi-positive InfoNCE over tracks with the source folder as the label (temperature 0.1).

Its one free choice, the number of steps, is made on the train side only: the train sources are split into
``--folds`` groups of whole sources; for each, the head is fitted on the others and the NMI over 10 k-means
seeds of the left-out sources is read at each of ``--steps``; the step count with the best mean gain over
step 0 is then fitted on all train sources and scored once on the held-out group beside mean pooling. With
``--write`` that head is stored next to each model's checkpoint (``attention_pooling.safetensors``), which is what
``ctk embed --model hybrid+attn[:DIR]`` loads.

    python bench/attention_pooling.py --model v2-s0=embeddings/assets/ctk-small v2-s1=runs/v2-s1 \\
        --train $CORPUS/train --heldout $CORPUS/heldout --train-mels /tmp/train-mels --heldout-mels /tmp/heldout-mels
    python bench/attention_pooling.py --model v2=embeddings/assets/ctk-small --write ...    # the shipped head
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fit_pooling_stats import cached_mels  # noqa: E402

from bench.fragment_plan import add_plan_options, coverage_from, fragments_from  # noqa: E402
from cluster_toolkit.evaluate import clustering_over_seeds, evaluate_embeddings  # noqa: E402
from cluster_toolkit.scanning import iter_audio_files  # noqa: E402
from embeddings.backends.attention_pooling import (  # noqa: E402
    ATTENTION_FILE,
    AttentionPooling,
    attention_pooled,
    fit_attention_pooling,
    write_attention_pooling,
)
from embeddings.backends.encoder import EncoderBackend  # noqa: E402
from embeddings.backends.hybrid import HybridBackend  # noqa: E402
from embeddings.config import LEGACY_COVERAGE, CoverageConfig, FragmentConfig  # noqa: E402

CORPUS = os.environ.get("CORPUS")


def fragment_vectors(hybrid: HybridBackend, folder: Path, mel_dir: Path, workers: int,
                     fragments: FragmentConfig = FragmentConfig(), coverage: CoverageConfig = LEGACY_COVERAGE):
    """Per track its ``hybrid+std`` fragment vectors ``(k, dim)`` (5 sampled fragments of 10 s, as the shipped head
    was fitted, unless told), and the tracks' source folders."""
    files = sorted(Path(f) for f in iter_audio_files(folder))
    mels = cached_mels(files, mel_dir, fragments=fragments, coverage=coverage, workers=workers)
    vectors = [hybrid.embed(np.load(out)).astype(np.float32) for out in mels.values()]
    return vectors, np.array([f.parent.name for f in mels])


def track_vectors(hybrid: HybridBackend, head: AttentionPooling, vectors: list[np.ndarray]) -> np.ndarray:
    """The default's track vectors with the mean part replaced by the head's pooling (what ``hybrid+attn`` stores)."""
    out = []
    for x in vectors:
        track = hybrid.pool(x)
        track[: head.dim] = attention_pooled(head, x[:, : head.dim])
        out.append(track)
    return np.stack(out)


def fit_head(hybrid, vectors, labels, steps, *, probe=None, seed=0):
    """Fit a head for ``max(steps)`` steps; with ``probe`` (vectors, labels), its mean NMI at each of ``steps``
    (each a fresh fit of that many steps from the same seed: full batch, so the same path)."""
    d = hybrid.mean_dim
    inputs = [x[:, :d] for x in vectors]
    scores, head = {}, None
    for step in sorted(steps):
        head = fit_attention_pooling(inputs, labels, steps=step, seed=seed)
        if probe is not None:
            scores[step] = clustering_over_seeds(track_vectors(hybrid, head, probe[0]), probe[1], seeds=10)["nmi"]
    return head, scores


def choose_steps(hybrid, vectors, labels, steps, n_folds, seed=0):
    """The step count whose NMI gain over mean pooling on left-out train sources is best (mean over folds)."""
    sources = np.random.default_rng(0).permutation(np.unique(labels))
    gains = {s: [] for s in steps}
    for fold in np.array_split(sources, n_folds):
        out = np.isin(labels, fold)
        _, scores = fit_head(hybrid, [x for x, o in zip(vectors, out) if not o], labels[~out], steps,
                             probe=([x for x, o in zip(vectors, out) if o], labels[out]), seed=seed)
        for s in steps:
            gains[s].append(scores[s] - scores[0])
    mean_gain = {s: float(np.mean(g)) for s, g in gains.items()}
    return max(steps, key=lambda s: mean_gain[s]), mean_gain


def row(name: str, v: np.ndarray, labels: np.ndarray) -> str:
    scores = evaluate_embeddings(v.astype(np.float32), labels, kmeans_seeds=10)
    r, c = scores["retrieval"], scores["clustering"]
    return (f"| {name} | {r['recall@1']:.3f} | {r['recall@10']:.3f} | {r['map@10']:.3f} | "
            f"{scores['linear_probe']['accuracy']:.3f} | {c['nmi']:.3f} ± {c['nmi_std']:.3f} | "
            f"{c['ami']:.3f} ± {c['ami_std']:.3f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", nargs="+", required=True, help="NAME=DIR checkpoints with their statistics files")
    ap.add_argument("--train", type=Path, default=CORPUS and Path(CORPUS) / "train")
    ap.add_argument("--heldout", type=Path, default=CORPUS and Path(CORPUS) / "heldout")
    ap.add_argument("--train-mels", type=Path, required=True, help="log-mel cache of the train tracks")
    ap.add_argument("--heldout-mels", type=Path, required=True, help="log-mel cache of the held-out tracks")
    ap.add_argument("--steps", type=int, nargs="+", default=[0, 25, 50, 100, 200, 300])
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help="seed of the head's initialisation (the folds stay fixed)")
    ap.add_argument("--write", action="store_true", help=f"store the chosen head as DIR/{ATTENTION_FILE}")
    add_plan_options(ap, FragmentConfig(), LEGACY_COVERAGE)
    args = ap.parse_args(argv)
    plan = (fragments_from(args), coverage_from(args))
    torch.set_num_threads(1)
    steps = sorted(set(args.steps) | {0})
    print("| backend | Recall@1 | Recall@10 | mAP@10 | probe | NMI, 10 k-means seeds | AMI, 10 seeds |")
    print("|---|---|---|---|---|---|---|")
    for spec in args.model:
        name, folder = spec.split("=", 1)
        hybrid = HybridBackend(EncoderBackend.from_checkpoint(folder), pooling="mean+std")
        train_v, train_y = fragment_vectors(hybrid, args.train, args.train_mels, args.workers, *plan)
        test_v, test_y = fragment_vectors(hybrid, args.heldout, args.heldout_mels, args.workers, *plan)
        best, gains = choose_steps(hybrid, train_v, train_y, steps, args.folds, seed=args.seed)
        print(f"<!-- {name}: NMI gain on left-out train sources by steps "
              f"{ {s: round(g, 4) for s, g in gains.items()} }, chosen {best} -->", flush=True)
        head, _ = fit_head(hybrid, train_v, train_y, [best], seed=args.seed)
        if args.write:
            where = write_attention_pooling(
                Path(folder) / ATTENTION_FILE, head, ties=hybrid.attention_ties(),
                fitted_on={"folder": str(args.train), "tracks": len(train_v), "sources": int(len(np.unique(train_y))),
                           "coverage": "sampled", "sampled_fragments": args.sampled_fragments,
                           "n_seconds": args.n_seconds, "step": args.step, "steps": best, "seed": args.seed,
                           "folds": args.folds,
                           "loss": "multi-positive InfoNCE over tracks, source labels, temperature 0.1"})
            print(f"<!-- wrote {where} -->", flush=True)
        print(row(f"{name} `hybrid+std`, mean pooling", track_vectors(hybrid, AttentionPooling(head.dim), test_v),
                  test_y), flush=True)
        attention = track_vectors(hybrid, head, test_v)
        print(row(f"{name} attention pooling ({best} steps, head seed {args.seed})", attention, test_y), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
