"""Embed a held-out folder with many encoders for the price of one decode.

``ctk embed`` decodes every track and computes its log-mels again for each model; on a shared 2-core
machine that is most of the cost of scoring a trained encoder. Here the log-mel fragments of every
track of a library store (its own fragment plan: the same track ids, starts and splits ``ctk embed``
used) are computed once and kept as float32 ``.npy`` files, then each encoder embeds them and pools
exactly as ``ctk embed`` does (mean of the fragment vectors). ``bench/encoder_quality.py --mels DIR``
uses this for the encoders and checks it against a store that ``ctk embed`` wrote (max difference).
"""

from __future__ import annotations

import hashlib
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cluster_toolkit.store import LibraryStore  # noqa: E402
from embeddings.audio import load_audio  # noqa: E402
from embeddings.config import AudioConfig  # noqa: E402
from embeddings.fragments import FragmentPlan, fragment_samples  # noqa: E402
from embeddings.inference import pool_fragments  # noqa: E402
from embeddings.melspec import log_mel  # noqa: E402


def _one(job: tuple[str, str, list[float], str, float]) -> str:
    import torch

    torch.set_num_threads(1)
    path, track_id, starts, out, n_seconds = job
    audio = AudioConfig()
    y = load_audio(path, sr=audio.sample_rate).y
    starts_s = np.asarray(starts, dtype=np.float64)
    plan = FragmentPlan(starts=starts_s, splits=("train",) * len(starts), n_seconds=n_seconds)
    samples = fragment_samples(y, sr=audio.sample_rate, plan=plan)
    mels = np.concatenate([log_mel(samples[i : i + 16], config=audio).numpy() for i in range(0, len(samples), 16)])
    tmp = Path(out).with_suffix(".tmp.npy")
    np.save(tmp, mels.astype(np.float32))
    tmp.rename(out)
    return out


def mels_file(track_id: str, starts: list[float], n_seconds: float) -> str:
    """Cache file name of one track's log-mels under one fragment plan: the track id and a hash of the
    fragment starts and length, so a store with another coverage never reads fragments of a different plan."""
    plan = hashlib.blake2b(np.asarray([n_seconds, *starts], dtype=np.float64).tobytes(), digest_size=6).hexdigest()
    return f"{track_id}-{plan}.npy"


def cache_mels(store_dir: Path, mel_dir: Path, *, workers: int = 2, n_seconds: float = 10.0) -> pd.DataFrame:
    """Log-mels of every fragment of the store's tracks into ``mel_dir/<track_id>-<plan>.npy`` (kept if there).
    Returns the tracks (path, track_id, mels: the cache file name), ordered as the store lists them."""
    store = LibraryStore.open(store_dir)
    tracks = store.tracks()[["path", "track_id"]]
    frags, _ = store.fragment_embeddings()
    mel_dir.mkdir(parents=True, exist_ok=True)
    jobs, files = [], []
    for path, track_id in tracks.itertuples(index=False):
        starts = frags.loc[frags["track_id"] == track_id].sort_values("fragment_index")["start_s"].tolist()
        files.append(mels_file(track_id, starts, n_seconds))
        out = mel_dir / files[-1]
        if not out.exists():
            jobs.append((path, track_id, starts, str(out), n_seconds))
    if jobs:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_one, jobs, chunksize=2))
    return tracks.assign(mels=files).reset_index(drop=True)


def embed_cached(spec: str, tracks: pd.DataFrame, mel_dir: Path, *, batch_size: int = 32) -> tuple[np.ndarray, list]:
    """Track vectors ``(n, dim)`` (rows as ``tracks``) and each track's fragment vectors, from cached log-mels."""
    import torch

    from embeddings.backends import load_backend

    torch.set_num_threads(2)
    backend = load_backend(spec)
    pooled, per_track = [], []
    for name in tracks["mels"]:
        mels = np.load(mel_dir / name)
        frag = np.concatenate([backend.embed(mels[i : i + batch_size]) for i in range(0, len(mels), batch_size)])
        per_track.append(frag)
        pooled.append(pool_fragments(frag))
    return np.stack(pooled), per_track
