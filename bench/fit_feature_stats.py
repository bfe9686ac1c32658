"""Fit the reference statistics of the ``features`` backend over a folder of audio.

Every file under FOLDER goes through the same front end as ``ctk embed`` (decode to mono at the
backend's sample rate, every fragment of 10 s every 10 s, or ``--n-seconds``/``--step``; batched
log-mel), then the raw descriptors of all fragments give one mean and one standard deviation per
dimension, written as JSON. The shipped statistics were fitted on 10 s fragments and serve every
fragment length (on 5 s fragments, statistics of their own were measured: docs/ctk-small.md):

    .venv/bin/python bench/fit_feature_stats.py demo/music                      # -> embeddings/assets/
    .venv/bin/python bench/fit_feature_stats.py $CORPUS --out /tmp/stats.json --workers 2

Files that fail to decode are skipped and counted. Refitting changes every features vector: a
library store embedded with the old statistics records their hash and must be re-embedded.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fragment_plan import add_plan_options, fragments_from  # noqa: E402
from cluster_toolkit.ingest import iter_audio_files  # noqa: E402
from embeddings.audio import load_audio  # noqa: E402
from embeddings.backends.features import DEFAULT_STATS_PATH, feature_descriptors, write_feature_stats  # noqa: E402
from embeddings.config import AudioConfig, FragmentConfig  # noqa: E402
from embeddings.errors import AudioDecodeError  # noqa: E402
from embeddings.fragments import fragment_samples, plan_fragments  # noqa: E402
from embeddings.melspec import log_mel  # noqa: E402


def file_descriptors(path: Path, audio: AudioConfig = AudioConfig(), batch_size: int = 16,
                     fragments: FragmentConfig = FragmentConfig()) -> np.ndarray:
    """Raw descriptors ``(n_fragments, dim)`` of one file; ``(0, dim)`` when it cannot be decoded."""
    import torch

    torch.set_num_threads(1)
    try:
        decoded = load_audio(path, sr=audio.sample_rate)
        track_id = hashlib.blake2b(str(path).encode(), digest_size=8).hexdigest()
        plan = plan_fragments(decoded.duration_s, config=fragments, track_id=track_id)
    except AudioDecodeError:
        return np.zeros((0, 0))
    samples = fragment_samples(decoded.y, sr=decoded.sr, plan=plan)
    out = []
    with torch.inference_mode():
        for i in range(0, len(samples), batch_size):
            mels = log_mel(samples[i : i + batch_size], config=audio).numpy()
            out.append(feature_descriptors(mels, audio=audio))
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--out", type=Path, default=DEFAULT_STATS_PATH)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--note", default="", help="free text stored in the JSON's fitted_on (e.g. how FOLDER was made)")
    add_plan_options(ap, FragmentConfig())
    args = ap.parse_args(argv)
    one_file = partial(file_descriptors, fragments=fragments_from(args))
    files = list(iter_audio_files(args.folder))
    if not files:
        print(f"error: no audio files under {args.folder}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            per_file = list(pool.map(one_file, files, chunksize=4))
    else:
        per_file = [one_file(f) for f in files]
    ok = [d for d in per_file if len(d)]
    if len(ok) < 2:
        print(f"error: fewer than 2 of {len(files)} files under {args.folder} could be decoded", file=sys.stderr)
        return 2
    descriptors = np.concatenate(ok)
    fitted_on = {"folder": args.folder.resolve().name, "n_files": len(files), "n_decoded": len(ok),
                 "n_fragments": len(descriptors), "n_seconds": args.n_seconds, "step": args.step, "note": args.note}
    write_feature_stats(args.out, descriptors, audio=AudioConfig(), fitted_on=fitted_on)
    print(f"{args.out}: {descriptors.shape[1]} dims from {len(descriptors)} fragments of {len(ok)}/{len(files)} "
          f"files in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
