"""A library store on S3 against the same store on local disk: commits, reads, the lock (moto's S3 server on
127.0.0.1, so the figures are ctk's and s3fs's overhead per request, not a network's).

    python bench/remote_store.py [--tracks 640] [--fragments 5] [--dim 128]

Prints one Markdown table: seconds for each step, local and S3, and their ratio.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _batch(ids: list[str], n_frag: int, dim: int, rng: np.random.Generator):
    tracks = pd.DataFrame({"track_id": ids, "path": [f"/m/{i}.flac" for i in ids], "status": "ok",
                           "n_fragments": n_frag, "title": ids})
    frags = pd.DataFrame({"track_id": np.repeat(ids, n_frag),
                          "fragment_index": np.tile(np.arange(n_frag), len(ids)).astype(np.int32),
                          "start_s": np.float32(0), "split": "train"})
    return (tracks, rng.standard_normal((len(ids), dim)).astype(np.float32), frags,
            rng.standard_normal((n_frag * len(ids), dim)).astype(np.float32))


def _steps(location: str | Path, n_tracks: int, n_frag: int, dim: int) -> dict[str, float]:
    from cluster_toolkit.store import LibraryStore

    rng = np.random.default_rng(0)
    out = {}
    t0 = time.perf_counter()
    store = LibraryStore.open(location, create=True)
    store.set_model({"name": "bench"}, "bench-000000000000", dim)
    out["open + create"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with store.writing("bench"):
        for start in range(0, n_tracks, 32):
            store.commit_batch(*_batch([f"t{i:06d}" for i in range(start, min(n_tracks, start + 32))], n_frag, dim,
                                       rng))
        store.compact()
    out[f"{n_tracks // 32} commits of 32 tracks + compact"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(5):
        with store.writing("bench"):
            pass
    out["take and give back the lock (x5)"] = time.perf_counter() - t0
    reader = LibraryStore.open(location)
    t0 = time.perf_counter()
    tracks, x = reader.track_embeddings()
    out["track_embeddings()"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    frags, fx = reader.fragment_embeddings()
    out["fragment_embeddings()"] = time.perf_counter() - t0
    assert len(tracks) == n_tracks and len(frags) == n_tracks * n_frag
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=640)
    parser.add_argument("--fragments", type=int, default=5)
    parser.add_argument("--dim", type=int, default=128)
    args = parser.parse_args()

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    import fsspec

    fsspec.config.conf["s3"] = {"endpoint_url": url}
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket="bench")
    with tempfile.TemporaryDirectory() as tmp:
        local = _steps(Path(tmp) / "lib", args.tracks, args.fragments, args.dim)
    remote = _steps("s3://bench/lib", args.tracks, args.fragments, args.dim)
    server.stop()
    print(f"{args.tracks} tracks x {args.fragments} fragments, dim {args.dim}\n")
    print("| step | local (s) | s3 on moto (s) | s3 / local |\n|---|---:|---:|---:|")
    for step, seconds in local.items():
        print(f"| {step} | {seconds:.2f} | {remote[step]:.2f} | {remote[step] / max(seconds, 1e-9):.1f} |")


if __name__ == "__main__":
    main()
