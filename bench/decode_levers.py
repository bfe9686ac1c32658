"""CPU cost of each stage of `ctk embed`'s per-track work, and of the levers tried on each, in one process
with one torch thread (CPU seconds per track: robust on a shared machine).

Stages: decode (whole track, or only the sampled spans by seeking), resample (soxr at each quality), log-mel
(torch.stft + mel), the backend's forward (fragments of one track per call, or batches of 32 fragments across
tracks), and the per-file extras (tags with mutagen, the content hash).

    python bench/decode_levers.py --corpus $CORPUS --n-tracks 24 --model ctk-small
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from vs_bliss import pick_tracks

CORPUS = os.environ.get("CORPUS")  # the dev corpus folder (docs/ctk-small.md, "Exact command")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cpu(fn, items) -> float:
    """CPU seconds per item of ``fn`` over ``items``."""
    t = time.process_time()
    for item in items:
        fn(item)
    return (time.process_time() - t) / len(items)


def source_rate_spans(path: str, choose) -> tuple[int, list[np.ndarray]]:
    """The sampled spans of ``path`` (with their 0.1 s margins), mono, at the file's own rate."""
    with sf.SoundFile(path) as f:
        out = []
        for start in choose(f.frames / f.samplerate):
            f.seek(max(int((start - 0.1) * f.samplerate), 0))
            out.append(f.read(int(10.2 * f.samplerate), dtype="float32", always_2d=True).mean(axis=1))
        return f.samplerate, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS, required=not CORPUS, help="default: $CORPUS")
    ap.add_argument("--n-tracks", type=int, default=24)
    ap.add_argument("--model", default="ctk-small")
    ap.add_argument("--fragments", type=int, default=6, help="the sampled budget")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "decode_levers.json")
    args = ap.parse_args()

    import torch

    from embeddings.audio import load_audio, load_spans, read_tags
    from embeddings.backends import load_backend
    from embeddings.config import FragmentConfig
    from embeddings.fragments import plan_fragments, spread_fragments
    from embeddings.melspec import log_mel

    torch.set_num_threads(1)
    backend = load_backend(args.model)
    sr, cfg = backend.audio.sample_rate, FragmentConfig()
    tracks = pick_tracks(args.corpus, args.n_tracks)
    paths = tracks["path"].tolist()

    def starts_for(path: str):
        def choose(duration_s: float) -> np.ndarray:
            return spread_fragments(plan_fragments(duration_s, config=cfg, track_id=path), args.fragments).starts
        return choose

    spans = {p: load_spans(p, sr=sr, n_seconds=cfg.n_seconds, choose_starts=starts_for(p)).samples for p in paths}
    raw = {p: source_rate_spans(p, starts_for(p)) for p in paths}
    res: dict[str, float] = {"mean_track_s": float(tracks["duration_s"].mean()), "tracks": len(paths),
                             "fragments_per_track": float(np.mean([len(s) for s in spans.values()]))}
    res["decode_full_track"] = cpu(lambda p: load_audio(p, sr=sr), paths)
    res["decode_sampled_spans_incl_resample_hq"] = cpu(
        lambda p: load_spans(p, sr=sr, n_seconds=cfg.n_seconds, choose_starts=starts_for(p)), paths)
    for quality in ("HQ", "MQ", "LQ", "QQ"):
        res[f"resample_spans_{quality}"] = cpu(
            lambda p, q=quality: [soxr.resample(y, raw[p][0], sr, quality=q) for y in raw[p][1]], paths)
    with torch.inference_mode():
        mels = {p: log_mel(spans[p], config=backend.audio).numpy() for p in paths}
        res["logmel"] = cpu(lambda p: log_mel(spans[p], config=backend.audio), paths)
        res["embed_one_track_per_call"] = cpu(lambda p: backend.embed(mels[p]), paths)
        stacked = np.concatenate(list(mels.values()))
        batches = [stacked[i: i + 32] for i in range(0, len(stacked), 32)]
        res["embed_batches_of_32_across_tracks"] = cpu(backend.embed, batches) * len(batches) / len(paths)
    res["tags_mutagen"] = cpu(read_tags, paths)
    res["content_hash_blake2b"] = cpu(lambda p: hashlib.blake2b(Path(p).read_bytes(), digest_size=16), paths)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
