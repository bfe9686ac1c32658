"""Start-up of `ctk --help` and of every `ctk CMD --help`: wall and CPU time, min over N runs.

Each run is a fresh interpreter (`python -m cluster_toolkit.cli.main ... --help`, the tree given by
`--tree`, default this checkout); the CPU time is user + system of that process (`os.wait4`), which a busy
machine inflates less than the wall time. Runs of the different commands are interleaved so that a change of
load hits all of them alike; with `--compare OTHER_TREE` the two trees are interleaved too and the ratio of
their wall times is printed per command.

    python bench/help_startup.py --runs 10
    python bench/help_startup.py --runs 10 --compare /path/to/other/checkout
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands(tree: Path) -> list[list[str]]:
    """``[]`` (the root) and every command and sub-command of the CLI in ``tree``, as argument lists."""
    code = """
import json, typer
from cluster_toolkit.cli.main import app
group = typer.main.get_command(app)
out = []
for name in group.list_commands(None):
    command = group.get_command(None, name)
    subs = getattr(command, "list_commands", None)
    out += [[name, sub] for sub in subs(None)] if subs else [[name]]
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(tree)}, cwd=tree)
    return [[], *json.loads(done.stdout)]


def once(tree: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one ``ctk ARGS --help`` in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "100"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "cluster_toolkit.cli.main", *args, "--help"], cwd=tree,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"ctk {' '.join(args)} --help exited with {proc.returncode} in {tree}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--tree", type=Path, default=ROOT)
    ap.add_argument("--compare", type=Path, default=None, help="a second checkout, interleaved with --tree")
    args = ap.parse_args()
    trees = [args.tree.resolve()] + ([args.compare.resolve()] if args.compare else [])
    cmds = commands(trees[0])
    best: dict[tuple[str, str], list[float]] = {}
    load = [os.getloadavg()[0]]
    for _ in range(args.runs):
        for cmd in cmds:
            for tree in trees:
                wall, cpu = once(tree, cmd)
                key = (str(tree), " ".join(["ctk", *cmd, "--help"]))
                old = best.get(key, [float("inf"), float("inf")])
                best[key] = [min(old[0], wall), min(old[1], cpu)]
        load.append(os.getloadavg()[0])
    print(f"min of {args.runs} runs; load average {min(load):.2f}-{max(load):.2f} on {os.cpu_count()} cores")
    header = "| command | " + " | ".join(f"wall s / CPU s ({Path(t).name})" for t in trees)
    print(header + (" | wall ratio |" if len(trees) > 1 else " |"))
    print("|---" * (len(trees) + 1 + (len(trees) > 1)) + "|")
    rows = {}
    for cmd in cmds:
        name = " ".join(["ctk", *cmd, "--help"])
        cells = [best[(str(t), name)] for t in trees]
        line = f"| `{name}` | " + " | ".join(f"{w:.3f} / {c:.3f}" for w, c in cells)
        if len(trees) > 1:
            line += f" | {cells[1][0] / cells[0][0]:.2f}x"
        print(line + " |")
        rows[name] = cells
    worst = max(cells[0][0] for cells in rows.values())
    print(f"slowest wall ({Path(trees[0]).name}): {worst:.3f} s")
    out = ROOT / "bench" / "out" / "help_startup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": args.runs, "load": load, "trees": [str(t) for t in trees],
                               "min_wall_cpu": rows}, indent=2))


if __name__ == "__main__":
    main()
