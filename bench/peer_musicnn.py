"""MusiCNN (Pons & Serra, 2019), the supervised tag model that peer tools ship (AudioMuse-AI and other
Essentia-based tools), as one vector per track of a folder, for scoring beside ctk's backends (issue 9).

Bench only, never a runtime dependency of ctk: MusiCNN runs on TensorFlow 1.x graph code
(``tf.compat.v1.layers``, gone from TensorFlow >= 2.16), so it needs its OWN virtual environment, apart from
the project's (the ``musicnn`` wheel pins numpy < 1.17 and TensorFlow 1.x, so it is installed without its
dependencies, next to what it really imports)::

    python3 -m venv /work/scratch/musicnn/venv
    /work/scratch/musicnn/venv/bin/pip install "tensorflow-cpu==2.15.1" "numpy<2" librosa soundfile
    /work/scratch/musicnn/venv/bin/pip install --no-deps musicnn==0.1.0

    /work/scratch/musicnn/venv/bin/python bench/peer_musicnn.py $CORPUS/heldout \\
        --model MSD_musicnn --out /work/scratch/musicnn/msd_musicnn.npz

The ``musicnn`` wheel ships its trained weights (``MSD_musicnn``: Million Song Dataset tags, the model peers
use; ``MTT_musicnn``: MagnaTagATune). The input is musicnn's own: ``musicnn.extractor.batch_data`` (librosa,
16 kHz, 96 log-mels) cut into non-overlapping 3 s patches, the defaults of ``musicnn.extractor.extractor``.
The graph is built once and run on batches of patches instead of calling ``extractor()`` per file (which
rebuilds and restores the graph, runs one patch at a time and, in 0.1.0, returns the first patch's
``penultimate`` for every patch: see ``check_against_extractor``); ``--check`` compares both on the first track.
Per track the features ``extractor(..., extract_features=True)`` returns are averaged over its patches:
``penultimate`` (the 200-unit dense layer before the tag logits; written as ``vectors``) and ``max_pool``
(the temporal max pooling of the mid-end feature map). The ``.npz`` holds ``paths`` (absolute), ``vectors``,
``max_pool``, ``patches`` (count per track) and ``cpu_s`` (CPU seconds per track, decode included); score it
with ``python bench/encoder_quality.py ... --vectors musicnn=FILE.npz``.

``--patches N`` keeps N patches of 3 s evenly spaced over each track instead of every patch (the
counterpart of ``ctk embed``'s sampled coverage; about N x 0.15 CPU s per track on the 2-core VM). One
TensorFlow thread; ``--max-load L`` waits between tracks while the 1-minute load average exceeds L.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

#: what ctk decodes (embeddings.audio.DECODABLE_EXTENSIONS; not imported: this runs in another venv)
EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".w64"}
BATCH = 64


def audio_files(folder: Path) -> list[Path]:
    """Absolute paths as ``ctk embed`` stores them (symlinks not resolved), sorted."""
    return sorted(p.absolute() for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())


class MusiCNN:
    """One restored MusiCNN graph and session; ``features(path)`` -> (penultimate, max_pool) per patch."""

    def __init__(self, model: str, input_length: float = 3.0):
        import librosa
        import tensorflow as tf
        from musicnn import configuration as config
        from musicnn import extractor, models

        tf.compat.v1.disable_eager_execution()
        self.tf, self.extractor = tf, extractor
        labels = config.MTT_LABELS if "MTT" in model else config.MSD_LABELS
        # as musicnn.extractor.extractor converts seconds to frames
        self.n_frames = librosa.time_to_frames(
            input_length, sr=config.SR, n_fft=config.FFT_SIZE, hop_length=config.FFT_HOP) + 1
        tf.compat.v1.reset_default_graph()
        with tf.name_scope("model"):
            self.x = tf.compat.v1.placeholder(tf.float32, [None, self.n_frames, config.N_MELS])
            self.is_training = tf.compat.v1.placeholder(tf.bool)
            out = models.define_model(self.x, self.is_training, model, len(labels))
        self.penultimate, self.max_pool = out[8], out[7]
        session_config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        self.sess = tf.compat.v1.Session(config=session_config)
        weights = Path(extractor.__file__).parent / model
        tf.compat.v1.train.Saver().restore(self.sess, str(weights) + "/")

    def features(self, path: Path, patches: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per patch; ``patches`` N: only N patches evenly spaced over the track (all when it has fewer)."""
        # overlap = n_frames: non-overlapping patches, extractor()'s default (input_overlap=False)
        batch, _ = self.extractor.batch_data(str(path), self.n_frames, self.n_frames)
        if patches is not None and len(batch) > patches:
            batch = batch[np.linspace(0, len(batch) - 1, patches).round().astype(int)]
        pen, mx = [], []
        for i in range(0, len(batch), BATCH):
            p, m = self.sess.run([self.penultimate, self.max_pool],
                                 feed_dict={self.x: batch[i:i + BATCH], self.is_training: False})
            pen.append(p)
            mx.append(m)
        return np.concatenate(pen), np.concatenate(mx)


def check_against_extractor(path: Path, model: str, pen: np.ndarray, mx: np.ndarray) -> float:
    """Max |difference| between our batched features and ``musicnn.extractor.extractor``'s for one track.

    musicnn 0.1.0's ``extractor`` returns the FIRST patch's ``penultimate`` for every patch (its loop over the
    later batches concatenates the first batch's value again; ``max_pool`` is updated), so only that row of
    ``penultimate`` is compared; averaging its output would give the first 3 s of the track."""
    from musicnn.extractor import extractor

    _, _, feats = extractor(str(path), model=model, extract_features=True)
    return float(max(np.abs(feats["penultimate"][0] - pen[0]).max(), np.abs(feats["max_pool"] - mx).max()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--model", default="MSD_musicnn", help="MSD_musicnn (default) or MTT_musicnn")
    ap.add_argument("--out", type=Path, required=True, help=".npz to write (rewritten every 20 tracks)")
    ap.add_argument("--max-load", type=float, default=None, help="wait while the 1-min load average exceeds this")
    ap.add_argument("--patches", type=int, default=None, help="N patches of 3 s evenly spaced over each track "
                    "instead of all of them (like ctk embed's sampled coverage; default: the whole track)")
    ap.add_argument("--check", action="store_true", help="compare with musicnn.extractor.extractor on track 1")
    args = ap.parse_args()
    files = audio_files(args.folder)
    net = MusiCNN(args.model)
    done: dict[str, tuple] = {}
    if args.out.exists():  # resume
        with np.load(args.out) as z:
            for i, p in enumerate(z["paths"]):
                done[str(p)] = (z["vectors"][i], z["max_pool"][i], z["patches"][i], z["cpu_s"][i])

    def save() -> None:
        keys = sorted(done)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp.npz")
        np.savez(tmp, paths=np.array(keys), vectors=np.stack([done[k][0] for k in keys]).astype(np.float32),
                 max_pool=np.stack([done[k][1] for k in keys]).astype(np.float32),
                 patches=np.array([done[k][2] for k in keys]), cpu_s=np.array([done[k][3] for k in keys]),
                 model=np.array(args.model), patches_per_track=np.array(args.patches or 0))
        os.replace(tmp, args.out)

    t_wall = time.perf_counter()
    for n, path in enumerate(files):
        if str(path) in done:
            continue
        while args.max_load is not None and os.getloadavg()[0] > args.max_load:
            time.sleep(15)
        c0 = time.process_time()
        try:
            pen, mx = net.features(path, args.patches)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the run
            print(f"{path}: skipped ({type(exc).__name__}: {exc})", file=sys.stderr, flush=True)
            continue
        cpu = time.process_time() - c0
        if args.check and n == 0 and args.patches is None:
            diff = check_against_extractor(path, args.model, pen, mx)
            print(f"check vs musicnn.extractor.extractor: max |difference| {diff:.2e}")
        done[str(path)] = (pen.mean(axis=0), mx.mean(axis=0), len(pen), cpu)
        print(f"{len(done)}/{len(files)} {path.name}: {len(pen)} patches, {cpu:.2f} CPU s", flush=True)
        if len(done) % 20 == 0:
            save()
    save()
    cpu = np.array([v[3] for v in done.values()])
    print(f"{args.model}: {len(done)} tracks, {cpu.sum():.0f} CPU s ({cpu.mean():.2f} per track), "
          f"{time.perf_counter() - t_wall:.0f} s wall -> {args.out}")


if __name__ == "__main__":
    main()
