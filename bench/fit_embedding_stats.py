"""Fit the reference statistics that the ``hybrid`` backend standardises an encoder's vectors with.

Every fragment (10 s every 10 s, as the shipped statistics were fitted; ``--n-seconds``/``--step``) of (a sample
of) the files under FOLDER goes through ``ctk embed``'s front end and the encoder at MODEL; the per-dimension
mean and std of those fragment vectors are written to
``MODEL/embedding_stats.json`` (tied to the weights by their SHA-256). Fit on the model's *training*
sources, never on music it will be evaluated on:

    .venv/bin/python bench/fit_embedding_stats.py embeddings/assets/ctk-small $CORPUS/train --per-folder 4

``--per-folder N`` takes N files of each sub-folder (the first in a seeded shuffle), enough for 256
means and stds at a fraction of the cost of the whole folder. Files that fail to decode are skipped
and counted.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fragment_plan import add_plan_options  # noqa: E402
from cluster_toolkit.ingest import iter_audio_files  # noqa: E402
from embeddings.audio import load_audio  # noqa: E402
from embeddings.backends.encoder import EncoderBackend  # noqa: E402
from embeddings.backends.hybrid import STATS_FILE, write_embedding_stats  # noqa: E402
from embeddings.config import FragmentConfig  # noqa: E402
from embeddings.errors import AudioDecodeError  # noqa: E402
from embeddings.fragments import fragment_samples, plan_fragments  # noqa: E402
from embeddings.melspec import log_mel  # noqa: E402

_BACKEND: EncoderBackend | None = None
_MELS: Path | None = None
_FRAGMENTS: FragmentConfig = FragmentConfig()


def _init(model: str, mels: str | None, n_seconds: float, step: float) -> None:
    import torch

    global _BACKEND, _MELS, _FRAGMENTS
    torch.set_num_threads(1)
    _BACKEND = EncoderBackend.from_checkpoint(model)
    _MELS = Path(mels) if mels else None
    _FRAGMENTS = FragmentConfig(n_seconds=n_seconds, step=step)


def file_embeddings(path: Path) -> np.ndarray:
    """Fragment vectors ``(n_fragments, dim)`` of one file; ``(0, dim)`` when it cannot be decoded.

    With a log-mel cache (``--mels``) the file's fragments are decoded once for every model fitted."""
    assert _BACKEND is not None
    track_id = hashlib.blake2b(str(path).encode(), digest_size=8).hexdigest()
    # the cache name holds the fragment plan: fits of another plan never read these fragments
    plan_key = f"{_FRAGMENTS.n_seconds:g}x{_FRAGMENTS.step:g}"
    cached = None if _MELS is None else _MELS / f"{track_id}-{plan_key}.npy"
    if cached is not None and cached.exists():
        mels = np.load(cached)
        return np.concatenate([_BACKEND.embed(mels[i : i + 32]) for i in range(0, len(mels), 32)])
    try:
        decoded = load_audio(path, sr=_BACKEND.audio.sample_rate)
    except AudioDecodeError as exc:
        print(f"error: {exc} (skipped)", file=sys.stderr)
        return np.zeros((0, _BACKEND.dim), dtype=np.float32)
    plan = plan_fragments(decoded.duration_s, config=_FRAGMENTS, track_id=track_id)
    samples = fragment_samples(decoded.y, sr=decoded.sr, plan=plan)
    mels = np.concatenate([log_mel(samples[i : i + 16], config=_BACKEND.audio).numpy()
                           for i in range(0, len(samples), 16)])
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached.with_suffix(".tmp.npy"), mels)
        cached.with_suffix(".tmp.npy").rename(cached)
    return np.concatenate([_BACKEND.embed(mels[i : i + 32]) for i in range(0, len(mels), 32)])


def sample_files(folder: Path, per_folder: int, seed: int = 0) -> list[Path]:
    """All audio files under ``folder``, or ``per_folder`` of each sub-folder (seeded shuffle)."""
    files = sorted(iter_audio_files(folder))
    if per_folder <= 0:
        return files
    by_folder: dict[Path, list[Path]] = {}
    for f in files:
        by_folder.setdefault(Path(f).parent, []).append(Path(f))
    rng = random.Random(seed)
    out: list[Path] = []
    for parent in sorted(by_folder):
        members = by_folder[parent]
        rng.shuffle(members)
        out += members[:per_folder]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", type=Path, help="checkpoint folder (model.json + model.safetensors)")
    ap.add_argument("folder", type=Path, help="the model's training sources, one sub-folder per source")
    ap.add_argument("--per-folder", type=int, default=4, help="files per sub-folder (0: all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help=f"default: MODEL/{STATS_FILE}")
    ap.add_argument("--note", default="")
    ap.add_argument("--mels", type=Path, default=None, help="log-mel cache folder shared by several models' fits")
    add_plan_options(ap, FragmentConfig())
    args = ap.parse_args(argv)
    files = sample_files(args.folder, args.per_folder)
    if not files:
        print(f"error: no audio files under {args.folder}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    init = (str(args.model), str(args.mels) if args.mels else None, args.n_seconds, args.step)
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=init) as pool:
        per_file = list(pool.map(file_embeddings, files, chunksize=2))
    ok = [e for e in per_file if len(e)]
    if len(ok) < 2:
        print(f"error: fewer than 2 of {len(files)} files could be decoded", file=sys.stderr)
        return 2
    vectors = np.concatenate(ok)
    backend = EncoderBackend.from_checkpoint(args.model)
    out = args.out or args.model / STATS_FILE
    fitted_on = {"folder": args.folder.resolve().name, "per_folder": args.per_folder, "n_files": len(files),
                 "n_decoded": len(ok), "n_fragments": int(len(vectors)), "n_seconds": args.n_seconds, "step": args.step,
                 "note": args.note}
    write_embedding_stats(out, vectors, weights_sha256=backend.checkpoint.weights_sha256, fitted_on=fitted_on)
    print(f"{out}: {vectors.shape[1]} dims from {len(vectors)} fragments of {len(ok)}/{len(files)} files "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
