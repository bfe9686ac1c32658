"""``ctk embed`` of the same real tracks from a local folder and from S3 (moto's server on 127.0.0.1, in this
process, so the S3 figures are ctk's, s3fs's and moto's overhead per object, not a network's).

    .venv/bin/python bench/s3_audio.py --corpus $CORPUS --tracks 30

The tracks are ``--tracks`` of the held-out corpus, round-robin over its sources (``ray_throughput.pick_tracks``).
Each run is a whole ``embed_library`` in a fresh interpreter, default model and coverage, ``--workers`` worker
processes: the local folder into a local store, then ``s3://bench/audio`` into ``s3://bench/ctk`` (objects
uploaded before the clock starts), then the same S3 command again with nothing changed. Object ``GET`` requests
are counted in moto's request log. Prints one JSON line per run and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ray_throughput import pick_tracks  # noqa: E402 - the same choice of tracks as the Ray bench

BUCKET = "bench"


def child(music: str, lib: str, workers: int) -> None:
    from cluster_toolkit.ingest import EmbedConfig, embed_library

    t = time.monotonic()
    s = embed_library(music, lib, EmbedConfig(workers=workers))
    print(json.dumps(dict(analysed=s.analysed, skipped=s.skipped, failed=len(s.failed), wall_s=time.monotonic() - t,
                          phases=s.phases)))


class _Gets(logging.Handler):
    """Object GETs below ``/bench/audio/`` in moto's request log (werkzeug's, in this process)."""

    LINE = re.compile(rf"\bGET /{BUCKET}/audio/\S+ HTTP")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += bool(self.LINE.search(record.getMessage()))


def one_run(name: str, music: str, lib: str, workers: int, env: dict[str, str], gets: _Gets) -> dict:
    load_before = os.getloadavg()[0]
    gets.count = 0
    done = subprocess.run([sys.executable, __file__, "--child", music, lib, str(workers)], capture_output=True,
                          text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    res = json.loads(done.stdout.strip().splitlines()[-1])
    res.update(run=name, object_gets=gets.count, load_before=load_before, load_after=os.getloadavg()[0])
    res["tracks_per_s"] = res["analysed"] / res["wall_s"]
    return res


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=os.environ.get("CORPUS"), required=not os.environ.get("CORPUS"))
    ap.add_argument("--tracks", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "s3_audio.json")
    args = ap.parse_args()

    import s3fs
    from moto.server import ThreadedMotoServer

    log = logging.getLogger("werkzeug")
    log.setLevel(logging.INFO)
    log.propagate = False
    gets = _Gets()
    log.addHandler(gets)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1", "FSSPEC_S3_ENDPOINT_URL": endpoint, "PYTHONPATH": str(ROOT)}
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="bench", secret="bench")
    fs.call_s3("create_bucket", Bucket=BUCKET)
    tracks = pick_tracks(args.corpus / "heldout", args.tracks)
    started = datetime.now(UTC).isoformat(timespec="minutes")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        music = Path(tmp) / "music"
        music.mkdir()
        for i, p in enumerate(tracks):
            (music / f"{i:04d}{p.suffix}").symlink_to(p)
            fs.put_file(str(p), f"{BUCKET}/audio/{i:04d}{p.suffix}")
        for name, source, lib in [("local", str(music), str(Path(tmp) / "lib")),
                                  ("s3", f"s3://{BUCKET}/audio", f"s3://{BUCKET}/ctk"),
                                  ("s3, nothing changed", f"s3://{BUCKET}/audio", f"s3://{BUCKET}/ctk")]:
            run = one_run(name, source, lib, args.workers, env, gets)
            print(json.dumps(run), flush=True)
            runs.append(run)
    server.stop()
    result = {
        "started": started, "finished": datetime.now(UTC).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": " ".join(sys.argv), "tracks": [str(t) for t in tracks], "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print("| run | analysed | skipped | object GETs | wall s | tracks/s | first track s | load before |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['run']} | {r['analysed']} | {r['skipped']} | {r['object_gets']} | {r['wall_s']:.1f} | "
              f"{r['tracks_per_s']:.2f} | {r['phases'].get('first track', float('nan')):.1f} | "
              f"{r['load_before']:.1f} |")


if __name__ == "__main__":
    main()
