"""Training throughput in 1 and N processes (DistributedDataParallel, gloo on CPUs, NCCL on GPUs).

Trains the same small encoder on the same real-audio tracks for the same steps and global batch, once in this
process and once in N processes started like ``ctk train --devices N`` (torch's elastic launcher, spawned
interpreters), and prints steps/s of the training loop (``TrainResult.fragments_per_s / batch``: decoding,
augmentation and data waits included, process start-up and the validation set not) plus the wall time of
the whole call (start-up included).

    CORPUS=/work/corpus .venv/bin/python bench/ddp_throughput.py --tracks 24 --steps 30 --processes 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cluster_toolkit.scanning import content_hash, iter_audio_files  # noqa: E402
from embeddings.config import AugmentConfig, FragmentConfig, TrainConfig  # noqa: E402
from embeddings.models.config import EncoderConfig  # noqa: E402
from embeddings.training import train  # noqa: E402
from embeddings.training.distributed import launch  # noqa: E402
from embeddings.training.plan import plan_new_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--music", type=Path, default=Path(os.environ.get("CORPUS", ".")) / "train")
    parser.add_argument("--tracks", type=int, default=24)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()

    paths = sorted(iter_audio_files(args.music))
    files = [(p, content_hash(p)) for p in paths[:: max(1, len(paths) // args.tracks)][: args.tracks]]
    work = Path(tempfile.mkdtemp(prefix="ctk-ddp-bench-"))
    plan = plan_new_run(
        work / "plan", music_dir=args.music, seconds=5.0, crop_seconds=3.0,
        encoder=dict(d_model=64, n_layers=2, n_heads=4, embedding_dim=32),
        training=dict(max_steps=args.steps, batch_size=args.batch_size, val_every=10_000, checkpoint_every=10_000,
                      log_every=10, cache_tracks=args.tracks, val_tracks=4),
    )
    assert isinstance(plan.config, TrainConfig) and isinstance(plan.config.augment, AugmentConfig)
    assert isinstance(plan.encoder, EncoderConfig) and isinstance(plan.fragments, FragmentConfig)
    rows = []
    for n in (1, args.processes):
        kwargs = {**plan.kwargs(), "out_dir": work / f"p{n}"}
        start = time.perf_counter()
        result = train(files, **kwargs) if n == 1 else launch(n, train, files, **kwargs)
        wall = time.perf_counter() - start
        rows.append({"processes": n, "steps": result.step, "steps_per_s": result.fragments_per_s / args.batch_size,
                     "fragments_per_s": result.fragments_per_s, "wall_s": wall})
        print(json.dumps(rows[-1]), flush=True)
    print(f"| processes | steps/s | fragments/s | wall s (start-up included) |  "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}, {args.tracks} tracks, batch {args.batch_size}, {args.steps} steps")
    for row in rows:
        print(f"| {row['processes']} | {row['steps_per_s']:.3f} | {row['fragments_per_s']:.1f} | {row['wall_s']:.0f} |")
    print(f"ratio {rows[1]['steps_per_s'] / rows[0]['steps_per_s']:.2f}x")


if __name__ == "__main__":
    main()
