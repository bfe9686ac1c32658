"""Throughput of the audio front end and of a whole `ctk embed` run on real music.

Uses the development corpus built by ../shared/corpus/build_dev_corpus.sh (its manifest.csv).
Stages, each in seconds of audio per wall second on ONE process with one torch thread:
decode (soundfile + soxr to 22.05 kHz mono), log-mel (fragmenting + torch.stft + mel), embed
(the backend on the log-mels). Then a whole `embed_library` run with 2 worker processes into a
fresh store: tracks/s, CPU time of the whole process tree, and peak memory (RSS of the main
process; proportional set size of the whole process tree, which counts shared library pages once).

    .venv/bin/python bench/embed_throughput.py --corpus $CORPUS --limit 60 --model features
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

CORPUS = os.environ.get("CORPUS")  # the dev corpus folder (docs/ctk-small.md, "Exact command")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pick_tracks(corpus: Path, limit: int, min_seconds: float) -> pd.DataFrame:
    manifest = pd.read_csv(corpus / "manifest.csv")
    ok = manifest[
        (manifest["kind"] != "tracker-module")
        & manifest["duplicate_of"].isna()
        & (manifest["duration_s"] >= min_seconds)
    ]
    # spread over sources: round-robin by game so one soundtrack does not dominate
    ok = ok.sample(frac=1.0, random_state=0)
    ok = ok.assign(_rank=ok.groupby("game").cumcount()).sort_values(["_rank", "game"])
    return ok.head(limit).reset_index(drop=True)


def stage_rates(paths: list[str], model: str) -> dict[str, float]:
    import torch

    from embeddings.audio import load_audio
    from embeddings.backends import load_backend
    from embeddings.config import FragmentConfig
    from embeddings.fragments import fragment_samples, plan_fragments
    from embeddings.melspec import log_mel

    torch.set_num_threads(1)
    backend = load_backend(model)
    cfg = FragmentConfig()
    t_dec = t_mel = t_emb = audio = 0.0
    c_dec = c_mel = c_emb = 0.0  # CPU seconds: less sensitive to other jobs on a shared machine
    for p in paths:
        t0, c0 = time.perf_counter(), time.process_time()
        dec = load_audio(p, sr=backend.audio.sample_rate)
        t1, c1 = time.perf_counter(), time.process_time()
        plan = plan_fragments(dec.duration_s, config=cfg, track_id=p)
        with torch.inference_mode():
            mels = log_mel(fragment_samples(dec.y, sr=dec.sr, plan=plan), config=backend.audio).numpy()
        t2, c2 = time.perf_counter(), time.process_time()
        backend.embed(mels)
        t3, c3 = time.perf_counter(), time.process_time()
        t_dec += t1 - t0
        t_mel += t2 - t1
        t_emb += t3 - t2
        c_dec += c1 - c0
        c_mel += c2 - c1
        c_emb += c3 - c2
        audio += dec.duration_s
    return {
        "tracks": len(paths),
        "audio_hours": audio / 3600,
        "decode_x_realtime": audio / t_dec,
        "logmel_x_realtime": audio / t_mel,
        "decode_logmel_x_realtime_1core": audio / (t_dec + t_mel),
        "embed_x_realtime": audio / t_emb,
        "decode_x_per_cpu_s": audio / c_dec,
        "logmel_x_per_cpu_s": audio / c_mel,
        "embed_x_per_cpu_s": audio / c_emb,
        "mean_track_s": audio / len(paths),
    }


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def tree_sample(pid: int, cpu: dict[int, float]) -> float:
    """Proportional set size (MB) of a process and all its descendants (shared library pages counted
    once); records each process's CPU seconds so far in ``cpu`` (workers are children of the
    forkserver, so the parent's RUSAGE_CHILDREN does not see them)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
                    break
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            cpu[p] = max(cpu.get(p, 0.0), (int(fields[11]) + int(fields[12])) / tick)
        except OSError:
            continue
        todo += _children(p)
    return total


def whole_run(paths: list[str], model: str, workers: int) -> dict[str, float]:
    """Run `embed_library` in a child process on a folder of links to ``paths``."""
    with tempfile.TemporaryDirectory() as tmp:
        music = Path(tmp) / "music"
        music.mkdir()
        for i, p in enumerate(paths):
            (music / f"{i:04d}{Path(p).suffix}").symlink_to(p)
        code = f"""
import json, resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
from cluster_toolkit.ingest import EmbedConfig, embed_library
class Clock:
    done = []
    def scanned(self, n): pass
    def start(self, n): pass
    def track_done(self, path, error): self.done.append(time.perf_counter())
t = time.perf_counter()
s = embed_library({str(music)!r}, {str(Path(tmp) / 'lib')!r}, EmbedConfig(model={model!r}, workers={workers}), Clock())
wall = time.perf_counter() - t
steady = (len(Clock.done) - 1) / (Clock.done[-1] - Clock.done[0])
print(json.dumps(dict(analysed=s.analysed, failed=len(s.failed), wall_s=wall, audio_s=s.audio_seconds,
    steady_tracks_per_s=steady, first_track_s=Clock.done[0] - t,
    main_peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak_pss, cpu = 0.0, {}
        while proc.poll() is None:
            peak_pss = max(peak_pss, tree_sample(proc.pid, cpu))
            time.sleep(0.1)
        out, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"embed run failed:\n{err}")
        res = json.loads(out.strip().splitlines()[-1])
        res["peak_total_pss_mb"] = peak_pss
        res["cpu_s"] = sum(cpu.values())  # sampled every 0.1 s: misses at most the last 0.1 s of each process
    res["tracks_per_s"] = res["analysed"] / res["wall_s"]
    res["x_realtime"] = res["audio_s"] / res["wall_s"]
    # what 2 fully available cores would do, from the CPU time the run actually used
    res["tracks_per_s_per_2_cpu_s"] = 2 * res["analysed"] / res["cpu_s"]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS, required=not CORPUS, help="default: $CORPUS")
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("--stage-limit", type=int, default=20)
    ap.add_argument("--min-seconds", type=float, default=150.0)
    ap.add_argument("--model", default="ctk-small", help="backend (default: the default model, ctk-small)")
    ap.add_argument("--skip-whole-run", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "embed_throughput.json")
    args = ap.parse_args()
    tracks = pick_tracks(args.corpus, args.limit, args.min_seconds)
    paths = tracks["path"].tolist()
    stages = stage_rates(paths[: args.stage_limit], args.model)
    run = {} if args.skip_whole_run else whole_run(paths, args.model, args.workers)
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "model": args.model,
        "stages_1core": stages,
        "whole_run": run,
        "command": " ".join(sys.argv),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
