"""`ctk embed` of one checkout against another on the same files, interleaved: wall, CPU, phase timings, vectors.

For measuring a change to `ctk embed` against its baseline without bliss (bench/vs_bliss.py has the
comparison with bliss and takes the same `--baseline`). The tracks, links, page-cache warm-up and process-tree
sampling are vs_bliss.py's; each round runs `ctk --verbose embed` of this checkout and of `--baseline` (order
alternating) into fresh libraries, and the track vectors of the two libraries of round 1 are compared.

    python bench/embed_startup.py --corpus $CORPUS --n-tracks 120 --rounds 3 --baseline ../ctk-old
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from vs_bliss import CORPUS, ROOT, pick_tracks, run_ctk, track_vectors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS, required=not CORPUS, help="default: $CORPUS")
    ap.add_argument("--baseline", type=Path, required=True, help="the other ctk checkout")
    ap.add_argument("--n-tracks", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="hybrid")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "embed_startup.json")
    args = ap.parse_args()

    tracks = pick_tracks(args.corpus, args.n_tracks)
    trees = {"ctk": ROOT, "ctk-base": args.baseline.resolve()}
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    runs: dict[str, list[dict]] = {side: [] for side in trees}
    with tempfile.TemporaryDirectory(prefix="embed_startup-") as tmp:
        work = Path(tmp)
        music = work / "music"
        music.mkdir()
        for i, p in enumerate(tracks["path"]):
            (music / f"{i:04d}{Path(p).suffix.lower()}").symlink_to(p)
            Path(p).read_bytes()  # into the page cache
        for r in range(1, args.rounds + 1):
            for side in (list(trees) if r % 2 else list(trees)[::-1]):
                res = run_ctk(music, work, model=args.model, coverage="", workers=args.workers, round_no=r,
                              tree=trees[side], side=side)
                runs[side].append(res)
                print(f"round {r} {side}: {args.n_tracks / res['wall_s']:.2f} tracks/s, {res['wall_s']:.1f} s, "
                      f"{res['cpu_s'] / args.n_tracks:.3f} CPU s/track, peak PSS {res['peak_pss_mb']:.0f} MB, "
                      f"load {res['load_before']:.1f} -> {res['load_after']:.1f}"
                      + (f"; {res['phases']}" if res.get("phases") else ""), flush=True)
        new, old = track_vectors(work / "lib-ctk-1"), track_vectors(work / "lib-ctk-base-1")
        diff = float((new - old.loc[new.index]).abs().to_numpy().max())
    wall = {side: sum(x["wall_s"] for x in rs) for side, rs in runs.items()}
    cpu = {side: sum(x["cpu_s"] for x in rs) for side, rs in runs.items()}
    result = {"started": started, "command": " ".join(["python", "bench/embed_startup.py", *sys.argv[1:]]),
              "n_tracks": args.n_tracks, "wall_s": wall, "cpu_s": cpu,
              "ctk_over_base_tracks_per_s": wall["ctk-base"] / wall["ctk"],
              "per_round": [b["wall_s"] / c["wall_s"] for c, b in zip(runs["ctk"], runs["ctk-base"])],
              "max_track_vector_difference": diff, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"ctk / ctk-base tracks/s: {result['ctk_over_base_tracks_per_s']:.2f}x (per round "
          + ", ".join(f"{x:.2f}x" for x in result["per_round"]) + f"); CPU s per track "
          f"{cpu['ctk'] / (args.n_tracks * args.rounds):.3f} vs {cpu['ctk-base'] / (args.n_tracks * args.rounds):.3f}; "
          f"max |track vector difference| {diff:.1e}")


if __name__ == "__main__":
    main()
