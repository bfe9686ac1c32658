"""``ctk serve`` on a 20k-track library: start-up time and per-request latency.

A synthetic store is written through the store's real writer (:meth:`LibraryStore.commit_batch`): ``--tracks``
tracks with made-up artist / title / album tags (words drawn with Zipf frequencies from a 4,000-word vocabulary
of common English words and made-up ones, so many tracks share words, as in a real library; one artist per 12
tracks, one album per 10), random vectors as embeddings (``--fragments`` fragments per track, the pooled vector
their mean), and a cached map layout (random coordinates: the UMAP run itself is not measured here).

Measured:
- **cold start**: ``ctk serve`` launched as a new process until ``/api/info`` answers (imports, reading the
  store, building the search texts and the faiss index);
- per request, over real HTTP on 127.0.0.1 (httpx, one client, sequential): ``/api/search`` with queries made
  from random tracks' tags with one typo (a dropped letter) in a random word, its second page, ``/api/tracks/ID``,
  ``/api/tracks/ID/similar?n=10``, ``/api/map`` and ``/``. The first search after start-up is reported
  on its own.

Usage: ``python bench/serve_latency.py [--tracks 20000] [--fragments 8] [--queries 200] [--out bench/out]``.
Prints a Markdown table (for docs/BENCHMARKS.md) and writes the raw timings as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COMMON = ("the of love night blue my you me in on a to heart time life dream light city day way home "
          "girl baby man song world rain fire river summer road").split()
SYLLABLES = "ka lo mi ra ne to su vi da pe mo ri la zu fe no ta be ki sa go ru mi ve".split()


def vocabulary(rng: np.random.Generator, size: int = 4000) -> tuple[list[str], np.ndarray]:
    """Tag words and their probabilities: a few common English words, then made-up words of 2-4 syllables,
    drawn with Zipf frequencies (rank^-1), as words in real tags are."""
    made = {"".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 5)))) for _ in range(size * 2)}
    words = COMMON + sorted(made - set(COMMON))[: size - len(COMMON)]
    p = 1.0 / np.arange(1, len(words) + 1)
    return words, p / p.sum()


def phrase(rng: np.random.Generator, vocab: tuple[list[str], np.ndarray], n: int) -> str:
    words, p = vocab
    return " ".join(words[i] for i in rng.choice(len(words), size=n, p=p)).title()


def make_store(root: Path, n_tracks: int, n_fragments: int, dim: int = 128, seed: int = 0) -> float:
    """The synthetic store; returns the seconds it took to write."""
    import pandas as pd

    from cluster_toolkit.plots.pictures import layout_table
    from cluster_toolkit.store import LibraryStore

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng)
    store = LibraryStore.open(root, create=True)
    store.set_model({"name": "synthetic", "dim": dim}, "synthetic-000000000001", dim)
    artists = [phrase(rng, vocab, 2) for _ in range(max(1, n_tracks // 12))]
    albums = [phrase(rng, vocab, 3) for _ in range(max(1, n_tracks // 10))]
    batch = 5000
    for start in range(0, n_tracks, batch):
        ids = [f"{i:032x}" for i in range(start, min(start + batch, n_tracks))]
        tracks = pd.DataFrame({
            "track_id": ids,
            "path": [f"/music/{i % 97}/{i}.flac" for i in range(start, start + len(ids))],
            "size": 1000, "mtime": 1.0,
            "title": [phrase(rng, vocab, int(rng.integers(1, 5))) for _ in ids],
            "artist": [artists[int(rng.integers(len(artists)))] for _ in ids],
            "album": [albums[int(rng.integers(len(albums)))] for _ in ids],
            "genre": "Synthetic", "duration_s": 200.0, "status": "ok", "n_fragments": n_fragments,
        })
        frag_vectors = rng.standard_normal((len(ids) * n_fragments, dim)).astype(np.float32)
        fragments = pd.DataFrame({
            "track_id": np.repeat(ids, n_fragments),
            "fragment_index": np.tile(np.arange(n_fragments, dtype=np.int32), len(ids)),
            "start_s": np.tile(np.arange(n_fragments, dtype=np.float32) * 10.0, len(ids)),
            "split": "train",
        })
        pooled = frag_vectors.reshape(len(ids), n_fragments, dim).mean(axis=1)
        store.commit_batch(tracks, track_embeddings=pooled, fragments=fragments, fragment_embeddings=frag_vectors)
    tracks, _ = store.track_embeddings()
    coords = rng.standard_normal((len(tracks), 2)).astype(np.float32)
    store.write_table(layout_table(store, tracks["track_id"]),
                      pd.DataFrame({"track_id": tracks["track_id"], "x": coords[:, 0], "y": coords[:, 1]}))
    return time.perf_counter() - started


def typo(rng: np.random.Generator, text: str) -> str:
    words = text.split()
    i = int(rng.integers(len(words)))
    if len(words[i]) > 3:
        j = int(rng.integers(1, len(words[i]) - 1))
        words[i] = words[i][:j] + words[i][j + 1:]
    return " ".join(words)


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"n": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max())}


def main() -> None:
    import httpx

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--fragments", type=int, default=8)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "lib"
        write_s = make_store(root, args.tracks, args.fragments)
        print(f"wrote a {args.tracks}-track store ({args.fragments} fragments each) in {write_s:.1f} s", flush=True)
        import pandas as pd

        tracks = pd.concat([pd.read_parquet(p) for p in sorted((root / "tracks").glob("*.parquet"))])
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "cluster_toolkit.cli.main", "serve", "--library", str(root),
                                 "--port", str(port), "--music-root", tmp],
                                env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            while True:
                try:
                    info = httpx.get(url + "/api/info", timeout=5).json()
                    break
                except httpx.TransportError:
                    if proc.poll() is not None:
                        raise SystemExit(f"ctk serve stopped: {proc.stdout.read()[-2000:]}") from None
                    time.sleep(0.05)
            cold = time.perf_counter() - started
            results: dict[str, list[float]] = {}
            client = httpx.Client(base_url=url, timeout=30)

            def timed(name: str, path: str, **params) -> httpx.Response:
                t = time.perf_counter()
                response = client.get(path, params=params or None)
                results.setdefault(name, []).append(time.perf_counter() - t)
                assert response.status_code == 200, (path, response.status_code, response.text[:300])
                return response

            rows = tracks.sample(args.queries, random_state=0)
            queries = [typo(rng, f"{r.artist} {r.title}") for r in rows.itertuples()]
            first = timed("first search", "/api/search", q=queries[0])
            found = 0
            for q, want in zip(queries, rows["track_id"]):
                hits = timed("search", "/api/search", q=q).json()["results"]
                found += want in [h["track_id"] for h in hits]
                timed("search, page 2", "/api/search", q=q, page=2)
            for tid in rows["track_id"][:50]:
                timed("track", f"/api/tracks/{tid}")
                timed("similar (n=10)", f"/api/tracks/{tid}/similar", n=10)
            for _ in range(5):
                timed("map (all tracks)", "/api/map")
                timed("page", "/")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    summary = {name: percentiles(values) for name, values in results.items()}
    report = {
        "tracks": args.tracks, "fragments_per_track": args.fragments, "store_write_s": write_s,
        "cold_start_s": cold, "server_load_s": info["load_seconds"], "first_search_ms": first.elapsed.total_seconds()
        * 1000, "typo_queries_with_track_on_page_1": found / len(queries), "latency": summary,
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "serve_latency.json").write_text(json.dumps(report, indent=2))
    print(f"\ncold start (process launch -> /api/info answers): {cold:.2f} s; store load inside it "
          f"{info['load_seconds']:.2f} s; typo queries whose track is on page 1: {100 * found / len(queries):.0f}%\n")
    print("| request | n | p50 ms | p95 ms | max ms |\n| --- | ---: | ---: | ---: | ---: |")
    for name, s in summary.items():
        print(f"| {name} | {s['n']} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['max_ms']:.1f} |")


if __name__ == "__main__":
    main()
