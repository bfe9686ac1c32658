"""Fit the ``hybrid+std`` pooling of an encoder on its training sources, and choose the std block's weight there.

For every track under FOLDER (the model's *training* sources, one sub-folder per source), the fragments that
``ctk embed`` would embed (``--coverage``, default ``sampled``: spread fragments, only their spans decoded)
go through the encoder at MODEL and the `features` backend (5 fragments of 10 s, as the shipped statistics were
fitted; ``--n-seconds``/``--step``/``--sampled-fragments``). Per track, the std over its fragments of the
standardised learned vectors (``HybridBackend.standardised``) is taken; the mean and std of that std over
the tracks are the pooling statistics. Each ``--weights`` W is then scored on FOLDER's tracks (label = the
sub-folder; ``ctk evaluate``'s metrics) as the track vector ``[hybrid mean vector, W * std block]``; W = 0
is ``hybrid`` itself. ``--write W`` stores the statistics and W in ``MODEL/pooling_stats.json``:

    python bench/fit_pooling_stats.py runs/ctk-small $CORPUS/train --mels /tmp/train-mels            # score only
    python bench/fit_pooling_stats.py runs/ctk-small $CORPUS/train --mels /tmp/train-mels --write 0.25

Several models share one decode through ``--mels`` (a cache of the fragments' log-mels, one file per track).
The scores on FOLDER flatter the learned block (the encoder trained on these sources); they choose W, the
held-out group (``bench/encoder_quality.py --hybrid-std``) judges it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fragment_plan import add_plan_options, coverage_from, fragments_from, legacy_plan  # noqa: E402
from cluster_toolkit.evaluate import evaluate_embeddings  # noqa: E402
from cluster_toolkit.ingest import iter_audio_files  # noqa: E402
from embeddings.backends.encoder import EncoderBackend  # noqa: E402
from embeddings.backends.hybrid import (  # noqa: E402
    POOLING_STATS_FILE,
    STATS_FILE,
    HybridBackend,
    sha256_of,
    write_pooling_stats,
)
from embeddings.config import (  # noqa: E402
    LEGACY_COVERAGE,
    AudioConfig,
    CoverageConfig,
    FragmentConfig,
)
from embeddings.errors import AudioDecodeError  # noqa: E402
from embeddings.inference import decode_track, fragment_mels  # noqa: E402

METRICS = ("recall@1", "recall@10", "map@10", "nmi", "ami", "probe_acc")


def _mels_job(job: tuple[str, str, FragmentConfig, CoverageConfig]) -> str | None:
    """Log-mels of one file's fragments into the cache; None (and a one-line error) when it cannot be decoded."""
    import torch

    torch.set_num_threads(1)
    path, out, fragments, coverage = job
    track_id = hashlib.blake2b(path.encode(), digest_size=8).hexdigest()
    try:
        decoded = decode_track(path, sr=AudioConfig().sample_rate, fragment_config=fragments,
                               track_id=track_id, coverage=coverage)
    except AudioDecodeError as exc:
        print(f"error: {exc} (skipped)", file=sys.stderr)
        return None
    mels = fragment_mels(decoded.samples, audio=AudioConfig())
    tmp = Path(out).with_suffix(".tmp.npy")
    np.save(tmp, mels.astype(np.float32))
    tmp.rename(out)
    return out


def cached_mels(files: list[Path], mel_dir: Path, *, fragments: FragmentConfig, coverage: CoverageConfig,
                workers: int) -> dict[Path, Path]:
    """``file -> its cached log-mels``, computing the missing ones (undecodable files left out). The cache name
    holds the fragment plan and coverage, so a fit of another plan never reads these fragments."""
    mel_dir.mkdir(parents=True, exist_ok=True)
    plan = (coverage.mode if legacy_plan(fragments, coverage)  # the names of the caches made before
            else f"{coverage.mode}-{coverage.n_fragments}x{fragments.n_seconds:g}/{fragments.step:g}")
    where = {f: mel_dir / f"{hashlib.blake2b(f'{plan}:{f}'.encode(), digest_size=8).hexdigest()}.npy"
             for f in files}
    jobs = [(str(f), str(out), fragments, coverage) for f, out in where.items() if not out.exists()]
    if jobs:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_mels_job, jobs, chunksize=4))
    return {f: out for f, out in where.items() if out.exists()}


def track_blocks(hybrid: HybridBackend, mels: dict[Path, Path]) -> tuple[np.ndarray, np.ndarray]:
    """Per track: the ``hybrid`` mean vector ``(n, dim_e + dim_f)`` and the std over its fragments of the
    standardised learned vectors ``(n, dim_e)``."""
    means, stds = [], []
    for out in mels.values():
        m = np.load(out)
        e = np.concatenate([hybrid.encoder.embed(m[i : i + 16]) for i in range(0, len(m), 16)])
        f = np.concatenate([hybrid.features.embed(m[i : i + 16]) for i in range(0, len(m), 16)])
        means.append(hybrid.combine(e, f).mean(axis=0))
        stds.append(hybrid.standardised(e).std(axis=0))
    return np.stack(means), np.stack(stds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", type=Path, help=f"checkpoint folder with {STATS_FILE}")
    ap.add_argument("folder", type=Path, help="the model's training sources, one sub-folder per source")
    ap.add_argument("--mels", type=Path, required=True, help="log-mel cache folder (shared by several models)")
    ap.add_argument("--coverage", default="sampled", choices=("sampled", "full"))
    ap.add_argument("--weights", type=float, nargs="*", default=[0.0, 0.25, 0.5, 1.0])
    ap.add_argument("--write", type=float, default=None, help=f"store the statistics and this weight in "
                    f"MODEL/{POOLING_STATS_FILE}")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="write the scores here")
    add_plan_options(ap, FragmentConfig(), LEGACY_COVERAGE)
    args = ap.parse_args(argv)
    fragments, coverage = fragments_from(args), coverage_from(args, args.coverage)
    import torch

    torch.set_num_threads(1)
    files = sorted(Path(f) for f in iter_audio_files(args.folder))
    if not files:
        print(f"error: no audio files under {args.folder}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    mels = cached_mels(files, args.mels, fragments=fragments, coverage=coverage, workers=args.workers)
    hybrid = HybridBackend(EncoderBackend.from_checkpoint(args.model))
    means, stds = track_blocks(hybrid, mels)
    labels = np.array([f.parent.name for f in mels], dtype=str)
    mu, sd = stds.mean(axis=0), stds.std(axis=0)
    block = (stds - mu) / np.where(sd >= 1e-6, sd, 1.0) / np.sqrt(hybrid.encoder.dim)
    scores = {}
    for w in args.weights:
        x = np.concatenate([means, w * block], axis=1).astype(np.float32) if w else means.astype(np.float32)
        report = evaluate_embeddings(x, labels)
        r, c = report["retrieval"], report["clustering"]
        scores[w] = {"recall@1": r["recall@1"], "recall@10": r["recall@10"], "map@10": r["map@10"],
                     "nmi": c["nmi"], "ami": c["ami"], "probe_acc": report["linear_probe"]["accuracy"]}
        print(f"W={w:g}: " + "  ".join(f"{m} {scores[w][m]:.3f}" for m in METRICS)
              + f"  mean {np.mean([scores[w][m] for m in METRICS]):.4f}", flush=True)
    print(f"{len(mels)}/{len(files)} tracks of {len(set(labels))} sources, {args.coverage} coverage "
          f"({args.sampled_fragments} x {args.n_seconds:g} s), "
          f"{time.perf_counter() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "n_tracks": len(mels), "scores": scores}, indent=1))
    if args.write is not None:
        out = args.model / POOLING_STATS_FILE
        fitted_on = {"folder": args.folder.resolve().name, "n_tracks": len(mels), "coverage": args.coverage,
                     "n_seconds": args.n_seconds, "step": args.step, "sampled_fragments": args.sampled_fragments,
                     "chosen_on": "the same tracks, mean of " + ", ".join(METRICS)}
        write_pooling_stats(out, stds, weight=args.write, weights_sha256=hybrid.encoder.checkpoint.weights_sha256,
                            embedding_stats_sha256=sha256_of(args.model / STATS_FILE), fitted_on=fitted_on)
        print(f"{out}: weight {args.write:g}, {stds.shape[1]} dims from {len(stds)} tracks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
