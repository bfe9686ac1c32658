"""The Ray engine against the local engine on the same real tracks: tracks/s, CPU seconds per track, and the
projected cost of a million tracks.

Each run is a whole ``embed_library`` into a fresh store, in a fresh interpreter, on a folder of links to the
same held-out corpus tracks (``$CORPUS/heldout``, spread round-robin over its sources), with the default model
and coverage: the local engine with 1 and 2 worker processes, ``--engine ray`` with 1 and 2 encoder actors
(Ray started by the run itself, as ``ctk embed --engine ray`` does without ``RAY_ADDRESS``). The configurations
run interleaved, round after round, so that a shared machine's load falls on all of them alike; ratios are
taken within one invocation. CPU time is sampled over the run's whole process tree (Ray's GCS, raylet and
workers included) every 0.1 s; "steady" figures run from the first finished track to the last, so they leave
out start-up (Ray's, the workers', the model's), which a catalogue-sized run pays once.

    .venv/bin/python bench/ray_throughput.py --corpus $CORPUS --tracks 40 --rounds 1

Projected cost of a million tracks = steady CPU seconds per track x 1e6 / 3600 CPU-hours x ``--usd-per-cpu-hour``
(default 0.0425: an on-demand compute-optimised cloud vCPU, the price is an assumption to replace by yours).
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
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from embed_throughput import tree_sample  # noqa: E402 - the process-tree sampler of the other embed bench

CONFIGS = [("local", 1), ("ray", 1), ("local", 2), ("ray", 2)]
AUDIO = (".ogg", ".flac", ".mp3", ".wav", ".opus")


def pick_tracks(folder: Path, n: int) -> list[Path]:
    """``n`` audio files of ``folder``'s source folders, round-robin over the sources, in a fixed order."""
    sources = sorted(p for p in folder.iterdir() if p.is_dir())
    files = [sorted(f for f in s.rglob("*") if f.suffix.lower() in AUDIO) for s in sources]
    out: list[Path] = []
    for i in range(max(map(len, files), default=0)):
        out += [f[i] for f in files if i < len(f)]
    if len(out) < n:
        raise SystemExit(f"{folder}: only {len(out)} audio files, {n} asked for")
    return out[:n]


def child(music: str, lib: str, engine: str, workers: int) -> None:
    """One run, in the child process: prints when it started, ended and finished each track."""
    from cluster_toolkit.ingest import EmbedConfig, _NullReporter, embed_library

    class Clock(_NullReporter):
        done: list[float] = []

        def track_done(self, path: str, error: str | None) -> None:
            self.done.append(time.monotonic())

    t = time.monotonic()
    s = embed_library(music, lib, EmbedConfig(engine=engine, workers=workers), Clock())
    print(json.dumps(dict(analysed=s.analysed, failed=len(s.failed), start=t, end=time.monotonic(), done=Clock.done)))


def one_run(music: Path, lib: Path, engine: str, workers: int) -> dict:
    load_before = os.getloadavg()[0]
    # a loaded machine starts Ray's raylet slowly: wait up to 5 min for it (Ray's default: 60 s)
    env = {"RAY_raylet_start_wait_time_s": "300", **os.environ}
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(music), str(lib), engine, str(workers)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    cpu: dict[int, float] = {}
    series: list[tuple[float, float]] = []  # (monotonic time, CPU seconds of the process tree so far)
    while proc.poll() is None:
        tree_sample(proc.pid, cpu)
        series.append((time.monotonic(), sum(cpu.values())))
        time.sleep(0.1)
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"{engine} x{workers} failed:\n{err[-3000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    done = res.pop("done")

    def cpu_at(t: float) -> float:
        return max((c for s, c in series if s <= t), default=0.0)

    n = res["analysed"]
    wall = res["end"] - res["start"]
    steady_s = done[-1] - done[0]
    steady_cpu = cpu_at(done[-1]) - cpu_at(done[0])
    return {
        "engine": engine, "workers": workers, "tracks": n, "failed": res["failed"],
        "wall_s": wall, "tracks_per_s": n / wall, "first_track_s": done[0] - res["start"],
        "steady_tracks_per_s": (n - 1) / steady_s, "cpu_s": sum(cpu.values()),
        "cpu_s_per_track": sum(cpu.values()) / n, "steady_cpu_s_per_track": steady_cpu / (n - 1),
        "load_before": load_before, "load_after": os.getloadavg()[0],
    }


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        music, lib, engine, workers = sys.argv[2:6]
        return child(music, lib, engine, int(workers))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=os.environ.get("CORPUS"), required=not os.environ.get("CORPUS"))
    ap.add_argument("--tracks", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--usd-per-cpu-hour", type=float, default=0.0425)
    ap.add_argument("--configs", default=",".join(f"{e}:{w}" for e, w in CONFIGS),
                    help="engine:workers, comma-separated, in the order of each round")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "ray_throughput.json")
    args = ap.parse_args()
    configs = [(c.split(":")[0], int(c.split(":")[1])) for c in args.configs.split(",")]
    tracks = pick_tracks(args.corpus / "heldout", args.tracks)
    runs = []
    started = datetime.now(UTC).isoformat(timespec="minutes")
    with tempfile.TemporaryDirectory() as tmp:
        music = Path(tmp) / "music"
        music.mkdir()
        for i, p in enumerate(tracks):
            (music / f"{i:04d}{p.suffix}").symlink_to(p)
        for r in range(args.rounds):
            for engine, workers in configs:
                run = one_run(music, Path(tmp) / f"lib-{engine}-{workers}-{r}", engine, workers)
                print(json.dumps(run), flush=True)
                runs.append(run)
    summary = {}
    for engine, workers in configs:
        mine = [r for r in runs if (r["engine"], r["workers"]) == (engine, workers)]
        best = {k: sum(r[k] for r in mine) / len(mine) for k in
                ("tracks_per_s", "steady_tracks_per_s", "cpu_s_per_track", "steady_cpu_s_per_track", "first_track_s")}
        best["usd_per_million_tracks"] = best["steady_cpu_s_per_track"] * 1e6 / 3600 * args.usd_per_cpu_hour
        best["cpu_hours_per_million_tracks"] = best["steady_cpu_s_per_track"] * 1e6 / 3600
        summary[f"{engine}x{workers}"] = best
    for workers in sorted({w for _, w in configs}):
        if f"localx{workers}" not in summary or f"rayx{workers}" not in summary:
            continue
        local, ray = summary[f"localx{workers}"], summary[f"rayx{workers}"]
        summary[f"ray/local x{workers}"] = {k: ray[k] / local[k] for k in
                                            ("tracks_per_s", "steady_tracks_per_s", "steady_cpu_s_per_track")}
    result = {
        "started": started, "finished": datetime.now(UTC).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": " ".join(sys.argv), "tracks": [str(t) for t in tracks], "runs": runs, "summary": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
