"""Speed of the ``features`` backend's ``embed`` on one core.

One batch of 20 ten-second fragments (128 mels x 431 frames, about one 3-4 minute track) from the
demo library's audio, embedded ``--repeats`` times with numpy/torch/BLAS at one thread each; prints the median.

    OMP_NUM_THREADS=1 .venv/bin/python bench/features_speed.py demo/music
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cluster_toolkit.ingest import iter_audio_files  # noqa: E402
from embeddings.audio import load_audio  # noqa: E402
from embeddings.backends.features import FeaturesBackend  # noqa: E402
from embeddings.config import AudioConfig  # noqa: E402
from embeddings.melspec import log_mel  # noqa: E402


def fragments(folder: Path, n: int, audio: AudioConfig) -> np.ndarray:
    """``(n, n_samples)`` ten-second fragments taken in turn from the files under ``folder``."""
    length = 10 * audio.sample_rate
    out: list[np.ndarray] = []
    for path in iter_audio_files(folder):
        y = load_audio(path, sr=audio.sample_rate).y
        out += [y[i : i + length] for i in range(0, len(y) - length + 1, length)]
        if len(out) >= n:
            return np.stack(out[:n])
    raise SystemExit(f"error: fewer than {n} ten-second fragments under {folder}")


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: imports, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    backend = FeaturesBackend()
    with torch.inference_mode():
        mels = log_mel(fragments(args.folder, args.batch, backend.audio), config=backend.audio).numpy()
    seconds = median_seconds(lambda: backend.embed(mels), args.repeats)
    print(f"features embed: batch {mels.shape} -> {backend.dim} dims: {seconds * 1000:.0f} ms median of "
          f"{args.repeats} ({seconds / len(mels) * 1000:.1f} ms per fragment, one thread)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
