"""Lyric vectors per second of the bundled text encoder on made-up songs (CPU).

    python bench/lyrics_encode_speed.py [--songs 200] [--lines 32] [--threads 1]

Each song has ``--lines`` lines of 6-9 words drawn from a fixed English word list, so a song is cut into
16 runs of ``lines / 16`` lines (what ``ctk embed --lyrics`` encodes). Prints songs/s, runs/s and the
model's load time.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embeddings.text_encoder import TextEncoder, lyric_segments  # noqa: E402

WORDS = ("love night heart road fire rain city light dance dream time away home river stone sing cold "
         "sun blue girl boy money train gone run hold tonight morning baby world sky down heaven").split()


def songs(n: int, lines: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["\n".join(" ".join(rng.choice(WORDS, size=int(rng.integers(6, 10)))) for _ in range(lines))
            for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=200)
    parser.add_argument("--lines", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    texts = songs(args.songs, args.lines)
    encoder = TextEncoder()
    start = time.perf_counter()
    encoder.encode(["warm up"])
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    encoder.encode_lyrics(texts)
    seconds = time.perf_counter() - start
    runs = sum(len(lyric_segments(t)) for t in texts)
    print(f"{platform.node()} {platform.processor() or platform.machine()}, {args.threads} torch thread(s): "
          f"load {load_s:.1f} s; {args.songs} songs ({runs} runs) in {seconds:.1f} s = "
          f"{args.songs / seconds:.1f} songs/s, {runs / seconds:.0f} runs/s")


if __name__ == "__main__":
    main()
