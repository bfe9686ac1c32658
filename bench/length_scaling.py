"""Cost per track against track length: 1, 4, 20 and 60-minute files made from dev-corpus tracks.

Long tracks are made by concatenating decoded corpus tracks (44.1 kHz stereo ones, in corpus order from a
different start for each copy, so no two files share content) and writing them with soundfile, as FLAC
and as Ogg Vorbis, into `--work` (made once, reused). For each length, `ctk embed` (the command line, 2
workers, a fresh library) runs on a folder holding the copies of that length, with sampled coverage (the
default) and with `--coverage full`; bliss-audio (2 processes) runs on the same folder when installed.
Figures: CPU seconds of the whole process tree and its peak PSS (bench/vs_bliss.py's sampler). With a
few files per length the fixed start-up would dominate, so ctk's cost per track is reported net of it:
(CPU of the run - CPU of the same command on an empty folder) / files; the workers' own start (forking,
loading the model) still counts there. `--per-track` measures instead, in this process with one torch
thread, the work `ctk embed` does for each file: content hash + decode + embed (`analyse_file`) + tags.

    python bench/length_scaling.py --corpus $CORPUS --work $SCRATCH/lengths
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from vs_bliss import run_bliss, run_ctk

CORPUS = os.environ.get("CORPUS")  # the dev corpus folder (docs/ctk-small.md, "Exact command")

ROOT = Path(__file__).resolve().parent.parent
SR = 44100
FORMATS = {"flac": {"format": "FLAC"}, "ogg": {"format": "OGG", "subtype": "VORBIS"}}


def source_tracks(corpus: Path) -> list[str]:
    manifest = pd.read_csv(corpus / "manifest.csv")
    ok = manifest[(manifest["eval_ok"] == 1) & (manifest["kind"] == "recorded") & manifest["duplicate_of"].isna()
                  & (manifest["sample_rate"] == SR) & (manifest["channels"] == 2)]
    return sorted(ok["path"].tolist())


def make_long_track(sources: list[str], start: int, minutes: float, out: Path, fmt: str) -> Path:
    """Concatenate ``sources[start:]`` (cycling) into ``out``, ``minutes`` long, written block by block."""
    if out.exists():
        return out
    need, i = int(minutes * 60 * SR), start
    tmp = out.with_suffix(out.suffix + ".part")
    with sf.SoundFile(tmp, "w", SR, 2, **FORMATS[fmt]) as f:
        while need > 0:
            with sf.SoundFile(sources[i % len(sources)]) as src:
                for block in src.blocks(blocksize=1 << 16, dtype="float32", always_2d=True):
                    block = block[:need]
                    f.write(np.ascontiguousarray(block))
                    need -= len(block)
                    if need <= 0:
                        break
            i += 1
    tmp.rename(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS, required=not CORPUS, help="default: $CORPUS")
    ap.add_argument("--work", type=Path, required=True, help="scratch folder for the long files")
    ap.add_argument("--minutes", nargs="+", type=float, default=[1, 4, 20, 60])
    ap.add_argument("--copies", type=int, default=2, help="files per length and format")
    ap.add_argument("--formats", nargs="+", default=["flac", "ogg"], choices=list(FORMATS))
    ap.add_argument("--ogg-max-minutes", type=float, default=20.0,
                    help="longer files only as FLAC (libsndfile's Vorbis encoder takes ~20 s per minute here)")
    ap.add_argument("--model", default="ctk-small")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--per-track", action="store_true", help="only the per-file work, in this process")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "length_scaling.json")
    args = ap.parse_args()
    sources = source_tracks(args.corpus)
    if args.per_track:
        per_track(args, sources)
        return
    has_bliss = importlib.util.find_spec("bliss_audio") is not None
    empty = args.work / "empty"
    empty.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="length_scaling-") as libs:
        fixed = {cov: run_ctk(empty, Path(libs), model=args.model, coverage=cov, workers=args.workers,
                              round_no=f"empty-{cov}")["cpu_s"] for cov in ("sampled", "full")}
    print("fixed start-up CPU s", json.dumps(fixed), flush=True)
    rows = []
    for minutes in args.minutes:
        music = args.work / f"{minutes:g}min"
        music.mkdir(parents=True, exist_ok=True)
        formats = [f for f in args.formats if f != "ogg" or minutes <= args.ogg_max_minutes]
        files = [make_long_track(sources, 37 * c + 11 * k, minutes, music / f"copy{c}.{fmt}", fmt)
                 for k, fmt in enumerate(formats) for c in range(args.copies)]
        n = len(files)
        with tempfile.TemporaryDirectory(prefix="length_scaling-") as libs:  # fresh libraries every time
            runs = {cov: run_ctk(music, Path(libs), model=args.model, coverage=cov, workers=args.workers,
                                 round_no=f"{minutes:g}-{cov}") for cov in ("sampled", "full")}
        if has_bliss:
            runs["bliss"] = run_bliss([str(f) for f in files], workers=args.workers)
        row = {"minutes": minutes, "files": n, "mb_per_file": float(np.mean([f.stat().st_size for f in files]) / 1e6)}
        for name, r in runs.items():
            row[name] = {"cpu_s_per_track": (r["cpu_s"] - fixed.get(name, 0.0)) / n, "cpu_s": r["cpu_s"],
                         "wall_s_per_track": r["wall_s"] / n,
                         "peak_pss_mb": r["peak_pss_mb"], "load": [r["load_before"], r["load_after"]]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "command": " ".join(sys.argv),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "model": args.model,
              "fixed_cpu_s": fixed, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print("| length | files | MB/file | ctk sampled CPU s/track (net) | peak PSS | ctk full CPU s/track (net) | "
          "peak PSS | bliss CPU s/track | peak PSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [f"{r[k]['cpu_s_per_track']:.2f} | {r[k]['peak_pss_mb']:.0f} MB" if k in r else "- | -"
                 for k in ("sampled", "full", "bliss")]
        print(f"| {r['minutes']:g} min | {r['files']} | {r['mb_per_file']:.0f} | " + " | ".join(cells) + " |")


def per_track(args: argparse.Namespace, sources: list[str]) -> None:
    """CPU seconds of the per-file work of ``ctk embed`` (hash, decode, embed, tags) for each length."""
    import torch

    sys.path.insert(0, str(ROOT))
    from cluster_toolkit.scanning import content_hash
    from embeddings.backends import load_backend
    from embeddings.config import CoverageConfig, FragmentConfig
    from embeddings.inference import analyse_file
    from embeddings.tags import read_tags

    torch.set_num_threads(1)
    backend = load_backend(args.model)
    rows = []
    for i, minutes in enumerate(args.minutes):
        music = args.work / f"{minutes:g}min"
        files = sorted(music.glob("copy*.*"))
        if i == 0:  # warm-up: first calls build the mel filterbank and warm the model
            analyse_file(files[0], backend=backend, fragment_config=FragmentConfig(), track_id="warm-up")
        row: dict = {"minutes": minutes, "files": len(files)}
        for mode in ("sampled", "full"):
            t = time.process_time()
            for f in files:
                tid = content_hash(f)
                analyse_file(f, backend=backend, fragment_config=FragmentConfig(), track_id=tid,
                             coverage=CoverageConfig(mode=mode))
                read_tags(f)
            row[mode] = (time.process_time() - t) / len(files)
        t = time.process_time()
        for f in files:
            content_hash(f)
        row["hash"] = (time.process_time() - t) / len(files)
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = args.out.with_name(args.out.stem + "_per_track.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": " ".join(sys.argv), "model": args.model, "rows": rows}, indent=2))
    print("| length | files | sampled: CPU s/track | of which content hash | full: CPU s/track |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['minutes']:g} min | {r['files']} | {r['sampled']:.3f} | {r['hash']:.3f} | {r['full']:.2f} |")


if __name__ == "__main__":
    main()
