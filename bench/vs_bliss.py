"""`ctk embed` against bliss-audio on the same files, interleaved, each side with 2 processes.

bliss (bliss-rs, Python binding `bliss-audio`, `pip install -e '.[bench]'`) decodes whole tracks with
ffmpeg and computes ~20 descriptors per song; it is the tool a laptop user compares against for a first
analysis of a library. Both sides get the same folder of links to dev-corpus tracks (eval_ok, decodable by
libsndfile: no tracker modules, no duplicates, spread round-robin over sources). One round runs

* ctk: the real command line, `python -m cluster_toolkit.cli.main embed MUSIC --library FRESH --workers 2`
  (start-up, scan, hashing, store commits included) with `--model` and `--coverage` as given;
* bliss: a Python process with a pool of 2 worker processes (fork) calling `bliss_audio.Song(path)` for
  every file and collecting the analyses in the parent;

each in a child process whose whole process tree is sampled every 0.1 s (CPU seconds of every process,
peak proportional set size: shared library pages counted once). A warm-up (every file read once into the
page cache, then both sides on the first `--warmup-tracks` files, not counted) is followed by `--rounds`
rounds whose order alternates
(ctk first, then bliss first, ...). The load average is recorded before and after every run.
With ``--baseline TREE`` (another checkout of ctk, e.g. a `git worktree` of an older commit) a third side,
``ctk-base``, runs that tree's command line in the same rounds (the order rotates over the three sides), so a
change is measured against its baseline and bliss under the same load; the track vectors of the two ctk
libraries of round 1 are compared (max |difference|). ctk runs with `--verbose`, and the phase timings it
prints (seconds from the start of the run) are kept per round.

    python bench/vs_bliss.py --corpus $CORPUS --n-tracks 120 --rounds 3 --model hybrid
    python bench/vs_bliss.py --corpus $CORPUS --n-tracks 120 --rounds 3 --model hybrid --baseline ../ctk-old
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from embed_throughput import tree_sample

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings.audio import DECODABLE_EXTENSIONS  # noqa: E402

CORPUS = os.environ.get("CORPUS")  # the dev corpus folder (docs/ctk-small.md, "Exact command")

BLISS_CODE = """
import sys, time
from concurrent.futures import ProcessPoolExecutor  # a worker that dies fails the run (a Pool would hang)
import bliss_audio

def analyse(path):
    try:
        return path, list(bliss_audio.Song(path).analysis), None
    except Exception as exc:  # a failure is counted, the run goes on
        return path, None, str(exc)

if __name__ == "__main__":
    paths = sys.argv[2:]
    with ProcessPoolExecutor(int(sys.argv[1])) as pool:
        results = list(pool.map(analyse, paths))
    failed = [r for r in results if r[1] is None]
    print(f"analysed={len(results) - len(failed)} failed={len(failed)}", flush=True)
"""


def pick_tracks(corpus: Path, n: int, min_seconds: float = 0.0) -> pd.DataFrame:
    """``n`` eval_ok tracks libsndfile decodes, round-robin over sources (seeded)."""
    manifest = pd.read_csv(corpus / "manifest.csv")
    suffix = manifest["path"].str.extract(r"(\.[^./]+)$")[0].str.lower()
    ok = manifest[
        (manifest["eval_ok"] == 1)
        & (manifest["kind"] != "tracker-module")
        & manifest["duplicate_of"].isna()
        & suffix.isin(DECODABLE_EXTENSIONS)
        & (manifest["duration_s"] >= min_seconds)
    ]
    ok = ok.sample(frac=1.0, random_state=0)
    ok = ok.assign(_rank=ok.groupby("game").cumcount()).sort_values(["_rank", "game"])
    return ok.head(n).reset_index(drop=True)


def measure(cmd: list[str], *, env: dict[str, str] | None = None) -> dict:
    """Run ``cmd``; wall time, CPU seconds and peak PSS of its whole process tree, load averages."""
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak_pss, cpu = 0.0, {}
    while proc.poll() is None:
        peak_pss = max(peak_pss, tree_sample(proc.pid, cpu))
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{err[-3000:]}")
    return {"wall_s": wall, "cpu_s": sum(cpu.values()), "peak_pss_mb": peak_pss,
            "load_before": load_before[0], "load_after": os.getloadavg()[0], "stdout_tail": out[-400:],
            "stderr_tail": err[-2000:]}


def run_ctk(music: Path, work: Path, *, model: str, coverage: str, workers: int, round_no: int,
            tree: Path = ROOT, side: str = "ctk", extra: tuple[str, ...] = ()) -> dict:
    lib = work / f"lib-{side}-{round_no}"
    cmd = [sys.executable, "-m", "cluster_toolkit.cli.main", "--verbose", "embed", str(music), "--library",
           str(lib), "--workers", str(workers), "--model", model]
    if coverage:
        cmd += ["--coverage", coverage]
    cmd += extra
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = measure(cmd, env=env)
    timings = [line for line in result.pop("stderr_tail").splitlines() if line.startswith("timings")]
    result["phases"] = timings[-1] if timings else None
    return result


def track_vectors(lib: Path) -> pd.DataFrame:
    """Track id -> vector of a library (read with pyarrow: the bench does not import ctk's store)."""
    import numpy as np
    import pyarrow.parquet as pq

    table = pq.read_table(lib / "track_embeddings").to_pandas()
    return pd.DataFrame(np.stack(table["embedding"].to_numpy()), index=table["track_id"])


def run_bliss(paths: list[str], *, workers: int) -> dict:
    result = measure([sys.executable, "-c", BLISS_CODE, str(workers), *paths])
    del result["stderr_tail"]
    return result


def summarise(runs: list[dict], n: int) -> dict:
    wall = sum(r["wall_s"] for r in runs)
    cpu = sum(r["cpu_s"] for r in runs)
    return {
        "tracks_per_s": n * len(runs) / wall,
        "tracks_per_s_per_round": [n / r["wall_s"] for r in runs],
        "cpu_s_per_track": cpu / (n * len(runs)),
        "peak_pss_mb": max(r["peak_pss_mb"] for r in runs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS, required=not CORPUS, help="default: $CORPUS")
    ap.add_argument("--n-tracks", type=int, default=120)
    ap.add_argument("--min-seconds", type=float, default=0.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup-tracks", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="ctk-small", help="ctk backend (default: ctk-small)")
    ap.add_argument("--coverage", default="", help="ctk --coverage (default: ctk's default)")
    ap.add_argument("--baseline", type=Path, default=None, help="another ctk checkout, run as a third side")
    ap.add_argument("--also", default="", metavar="'FLAGS'",
                    help="one more ctk side, 'ctk-also': this tree with these extra ctk embed flags, e.g. "
                         "'--sampled-fragments 8' (the cost of another setting, in the same rounds)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "vs_bliss.json")
    args = ap.parse_args()

    tracks = pick_tracks(args.corpus, args.n_tracks, args.min_seconds)
    if len(tracks) < args.n_tracks:
        raise SystemExit(f"only {len(tracks)} tracks qualify, asked for {args.n_tracks}")
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with tempfile.TemporaryDirectory(prefix="vs_bliss-") as tmp:
        work = Path(tmp)
        music = work / "music"
        music.mkdir()
        links = []
        for i, p in enumerate(tracks["path"]):
            link = music / f"{i:04d}{Path(p).suffix.lower()}"
            link.symlink_to(p)
            links.append(str(link))
        warm = work / "warm-up"
        warm.mkdir()
        for link in links[: args.warmup_tracks]:
            (warm / Path(link).name).symlink_to(os.readlink(link))
        for link in links:
            Path(link).read_bytes()
        print("warm-up", flush=True)
        trees = {"ctk": (ROOT, ()), **({"ctk-base": (args.baseline.resolve(), ())} if args.baseline else {}),
                 **({"ctk-also": (ROOT, tuple(shlex.split(args.also)))} if args.also else {})}
        for side, (tree, extra) in trees.items():
            run_ctk(warm, work, model=args.model, coverage=args.coverage, workers=args.workers, round_no=0,
                    tree=tree, side=side, extra=extra)
        run_bliss([str(p) for p in sorted(warm.iterdir())], workers=args.workers)
        sides = {side: (lambda r, tree=tree, side=side, extra=extra: run_ctk(
            music, work, model=args.model, coverage=args.coverage, workers=args.workers, round_no=r, tree=tree,
            side=side, extra=extra)) for side, (tree, extra) in trees.items()}
        sides["bliss"] = lambda r: run_bliss(links, workers=args.workers)
        names = list(sides)
        runs: dict[str, list[dict]] = {name: [] for name in names}
        for r in range(1, args.rounds + 1):
            shift = (r - 1) % len(names)  # ctk, bliss / bliss, ctk / ... (three sides: rotated)
            order = names[shift:] + names[:shift] if len(names) > 2 or r % 2 else names[::-1]
            for name in order:
                res = sides[name](r)
                runs[name].append(res)
                print(f"round {r} {name}: {args.n_tracks / res['wall_s']:.2f} tracks/s, "
                      f"{res['cpu_s'] / args.n_tracks:.3f} CPU s/track, peak PSS {res['peak_pss_mb']:.0f} MB, "
                      f"load {res['load_before']:.2f} -> {res['load_after']:.2f}"
                      + (f"; {res['phases']}" if res.get("phases") else ""), flush=True)
        vector_diff = None
        if args.baseline:
            new, old = track_vectors(work / "lib-ctk-1"), track_vectors(work / "lib-ctk-base-1")
            vector_diff = float((new - old.loc[new.index]).abs().to_numpy().max())
            print(f"max |track vector difference| ctk vs ctk-base, round 1: {vector_diff:.2e}", flush=True)
    summary = {name: summarise(rs, args.n_tracks) for name, rs in runs.items()}
    ratios = [c["wall_s"] and b["wall_s"] / c["wall_s"] for c, b in zip(runs["ctk"], runs["bliss"])]
    result = {
        "started": started,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "model": args.model,
        "coverage": args.coverage or "(ctk default)",
        "also": args.also,
        "n_tracks": args.n_tracks,
        "audio_hours": float(tracks["duration_s"].sum() / 3600),
        "mean_track_s": float(tracks["duration_s"].mean()),
        "formats": tracks["path"].str.extract(r"\.([^./]+)$")[0].str.lower().value_counts().to_dict(),
        "summary": summary,
        "ratio_tracks_per_s": summary["ctk"]["tracks_per_s"] / summary["bliss"]["tracks_per_s"],
        "ratio_per_round": ratios,
        "ratio_cpu_s_per_track": summary["bliss"]["cpu_s_per_track"] / summary["ctk"]["cpu_s_per_track"],
        "ratios_vs_bliss": {name: {"tracks_per_s": summary[name]["tracks_per_s"] / summary["bliss"]["tracks_per_s"],
                                   "cpu_s_per_track": summary["bliss"]["cpu_s_per_track"]
                                   / summary[name]["cpu_s_per_track"]} for name in summary if name != "bliss"},
        **({"baseline": str(args.baseline),
            "ratio_ctk_base_tracks_per_s": summary["ctk-base"]["tracks_per_s"] / summary["bliss"]["tracks_per_s"],
            "ratio_ctk_base_per_round": [c["wall_s"] and b["wall_s"] / c["wall_s"]
                                         for c, b in zip(runs["ctk-base"], runs["bliss"])],
            "ctk_vs_base_wall": summary["ctk"]["tracks_per_s"] / summary["ctk-base"]["tracks_per_s"],
            "max_track_vector_difference": vector_diff} if args.baseline else {}),
        "load_average_range": [min(r["load_before"] for rs in runs.values() for r in rs),
                               max(r["load_after"] for rs in runs.values() for r in rs)],
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    print(markdown(result, args.n_tracks))


def markdown(result: dict, n: int) -> str:
    """The run as Markdown tables to paste into docs/BENCHMARKS.md."""
    runs, summary = result["runs"], result["summary"]
    names = list(runs)
    rounds = range(len(runs["bliss"]))
    head = " / ".join(names)
    lines = [f"`{result['command']}`, started {result['started']}, {result['machine']}, load average "
             f"{result['load_average_range'][0]:.1f}-{result['load_average_range'][1]:.1f}", "",
             f"| per round ({head}) | " + " | ".join(f"round {r + 1}" for r in rounds) + " |",
             "|---" * (len(rounds) + 1) + "|"]
    for label, cell in [("wall: tracks/s", lambda x: f"{n / x['wall_s']:.2f}"),
                        ("CPU s per track (process tree)", lambda x: f"{x['cpu_s'] / n:.3f}"),
                        ("peak PSS (MB)", lambda x: f"{x['peak_pss_mb']:.0f}"),
                        ("load average before", lambda x: f"{x['load_before']:.1f}")]:
        lines.append(f"| {label} | " + " | ".join(" / ".join(cell(runs[k][r]) for k in names) for r in rounds)
                     + " |")
    lines += ["", f"| all rounds | {' | '.join(names)} |", "|---" * (len(names) + 1) + "|",
              "| tracks/s (wall) | " + " | ".join(f"{summary[k]['tracks_per_s']:.2f}" for k in names) + " |",
              "| CPU s per track | " + " | ".join(f"{summary[k]['cpu_s_per_track']:.3f}" for k in names) + " |",
              "| peak PSS (MB) | " + " | ".join(f"{summary[k]['peak_pss_mb']:.0f}" for k in names) + " |", "",
              f"ctk / bliss tracks/s: **{result['ratio_tracks_per_s']:.2f}x** (per round "
              + ", ".join(f"{x:.2f}x" for x in result["ratio_per_round"]) + f"); CPU per track: bliss / ctk "
              f"{result['ratio_cpu_s_per_track']:.2f}x"]
    if "ctk_vs_base_wall" in result:
        lines.append(f"ctk-base / bliss: {result['ratio_ctk_base_tracks_per_s']:.2f}x (per round "
                     + ", ".join(f"{x:.2f}x" for x in result["ratio_ctk_base_per_round"])
                     + f"); ctk / ctk-base tracks/s: {result['ctk_vs_base_wall']:.2f}x; max |track vector "
                     f"difference| {result['max_track_vector_difference']:.1e}")
    for name, r in result["ratios_vs_bliss"].items():
        if name not in ("ctk", "ctk-base"):
            lines.append(f"{name} / bliss tracks/s: {r['tracks_per_s']:.2f}x; CPU per track: bliss / {name} "
                         f"{r['cpu_s_per_track']:.2f}x")
    phases = [x.get("phases") for x in runs["ctk"] if x.get("phases")]
    lines += ["", *(f"ctk round {r + 1} {p}" for r, p in enumerate(phases))]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
