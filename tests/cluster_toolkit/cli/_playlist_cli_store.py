"""A small real library store for the playlist commands' tests: 3 genres x 12 tracks, fragments, a cluster run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cluster_toolkit.store import LibraryStore
from cluster_toolkit.store.runs import ClusterRun, labels_frame, save_run

GENRES = ("Jazz", "Metal", "Techno")
PER = 12
DIM = 16
RUN_ID = "kmeans-0123456789"


def build_store(root: Path, music: Path) -> LibraryStore:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, DIM))
    rows, vecs, frag_rows, frag_vecs = [], [], [], []
    for g, genre in enumerate(GENRES):
        for i in range(PER):
            tid = f"{genre.lower()}{i:03d}"
            v = centres[g] + 0.3 * rng.normal(size=DIM)
            rows.append({
                "track_id": tid, "path": str(music / genre / f"{i:03d}.flac"), "size": 1000, "mtime": 1.0,
                "title": f"{genre} Song {i}", "artist": f"{genre} Band {i % 4}", "album": f"{genre} Album",
                "isrc": f"QZ{g}{i:09d}", "genre": f"{genre}; Instrumental", "duration_s": 180.0 + i,
                "status": "ok", "n_fragments": 3,
            })
            vecs.append(v)
            for f in range(3):
                frag_rows.append({"track_id": tid, "fragment_index": f, "start_s": 10.0 * f, "split": "train"})
                frag_vecs.append(v + 0.1 * rng.normal(size=DIM))
    store = LibraryStore.open(root, create=True)
    store.set_model({"name": "toy", "dim": DIM}, "toy-000000000001", DIM)
    store.commit_batch(pd.DataFrame(rows), track_embeddings=np.asarray(vecs, dtype=np.float32),
                       fragments=pd.DataFrame(frag_rows), fragment_embeddings=np.asarray(frag_vecs, dtype=np.float32))
    ids = [r["track_id"] for r in rows]
    labels = np.repeat(np.arange(3), PER)
    save_run(store, ClusterRun(
        run_id=RUN_ID, method="kmeans", params={"k": 3}, model_id="toy-000000000001", metrics={}, n_clusters=3,
        n_noise=0, created_at="2026-01-01T00:00:00+00:00", seconds=0.1, seed=0,
        labels=labels_frame(RUN_ID, ids, labels),
    ))
    return store
