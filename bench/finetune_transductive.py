"""Cluster-loss fine-tuning measured the way it is used: fine-tune on the library that is then clustered.

A user runs ``ctk finetune`` on their own library and clusters that same library, so here every model is
fine-tuned on the held-out group's audio (its folder labels never used: track positives, not folder
positives, which would be the labels) and scored on that same group against the base model:

- NMI and AMI of k-means (k = number of labels) over ``--kmeans-seeds`` seeds (mean +- std), Recall@10 of a
  same-source track, and the collapse check (effective rank, uniformity) of the track vectors;
- for the encoder alone and for ``hybrid`` built with that encoder (its standardised vector next to the
  `features` vector, as ``embeddings/backends/hybrid.py``; a fine-tuned encoder's reference statistics are
  fitted on the library's fragments, the base model keeps its shipped ones, and a row refits them too).

Track vectors use the fragments ``ctk embed`` stored for the base model (``--store``: today's sampled
coverage), embedded by each model from log-mels. Every held-out track is decoded once: the log-mels of all
its fragments are kept in ``--work/mels`` and every fine-tuning run reads them instead of decoding again
(``embeddings.training.data.decode_fragments`` is wrapped for this process only), so runs differ only by
their loss and seed.

    CORPUS=/work/corpus nice -n 5 .venv/bin/python bench/finetune_transductive.py decode
    ... bench/finetune_transductive.py run --tag control --cluster-loss kmeans --weight 1e-6 --k 8
    ... bench/finetune_transductive.py run --tag dec-k8 --cluster-loss dec --weight 1 --k 8
    ... bench/finetune_transductive.py table
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cluster_toolkit.cli._training_common import list_training_files  # noqa: E402
from cluster_toolkit.evaluate import clustering_scores, labels_for  # noqa: E402
from cluster_toolkit.store import LibraryStore  # noqa: E402
from embeddings.collapse import collapse_report  # noqa: E402
from embeddings.config import AudioConfig, FragmentConfig  # noqa: E402
from embeddings.inference import pool_fragments  # noqa: E402
from embeddings.retrieval import retrieval_scores  # noqa: E402
from embeddings.training import data as train_data  # noqa: E402

CORPUS = os.environ.get("CORPUS")
BASE = ROOT / "embeddings" / "assets" / "ctk-small"
STORE = Path("/work/scratch/lead/heldout-hybrid.ctk")


def _decode_one(job: tuple[train_data.TrainTrack, str]) -> str:
    import torch

    torch.set_num_threads(1)
    track, out = job
    mels = train_data.decode_fragments(
        track, range(len(track.starts)), audio=AudioConfig(), fragments=FragmentConfig()
    ).numpy()
    tmp = Path(out).with_suffix(".tmp.npy")
    np.save(tmp, mels)
    tmp.rename(out)
    return out


def decode(files: list, mel_dir: Path, workers: int) -> list[train_data.TrainTrack]:
    """Log-mels (float16) of every fragment of every track into ``mel_dir/<track_id>.npy`` (kept if there)."""
    tracks, skipped = train_data.index_tracks(files, fragments=FragmentConfig())
    for path, why in skipped:
        print(f"skipped {path}: {why}", flush=True)
    mel_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(t, str(mel_dir / f"{t.track_id}.npy")) for t in tracks if not (mel_dir / f"{t.track_id}.npy").exists()]
    if jobs:
        with ProcessPoolExecutor(workers) as pool:
            for done, _ in enumerate(pool.map(_decode_one, jobs, chunksize=1), start=1):
                if done % 20 == 0:
                    print(f"decoded {done}/{len(jobs)}", flush=True)
    return tracks


def use_decoded(mel_dir: Path) -> None:
    """Make this process's training read the log-mels of ``mel_dir`` instead of decoding the audio again."""
    real = train_data.decode_fragments

    def cached(track, indices, *, audio, fragments):
        import torch

        path = mel_dir / f"{track.track_id}.npy"
        if not path.exists():
            return real(track, indices, audio=audio, fragments=fragments)
        return torch.from_numpy(np.load(path)[list(indices)])

    train_data.decode_fragments = cached


def store_fragments(tracks: list[train_data.TrainTrack]) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """Track ids, folder labels and, per track, the indices (into its decoded fragments) of the fragments
    ``ctk embed`` stored for it in ``STORE`` (today's sampled coverage)."""
    store = LibraryStore.open(STORE)
    frags, _ = store.fragment_embeddings()
    table = store.tracks()
    ids = table["track_id"].tolist()
    labels = labels_for(table, "folder").astype(str).to_numpy()
    by_id = {t.track_id: t for t in tracks}
    rows = {}
    for tid, group in frags.sort_values(["track_id", "fragment_index"]).groupby("track_id"):
        starts = by_id[tid].starts
        rows[tid] = np.array([starts.index(float(s)) for s in group["start_s"]])
    return ids, labels, rows


def embed_store_fragments(model: Path, ids: list[str], rows: dict, mel_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Track vectors (mean of fragment vectors, as ``ctk embed``) and all fragment vectors of ``model``."""
    import torch

    from embeddings.backends import load_backend

    torch.set_num_threads(2)
    backend = load_backend(str(model))
    tracks, frags = [], []
    for tid in ids:
        mels = np.load(mel_dir / f"{tid}.npy")[rows[tid]].astype(np.float32)
        vectors = backend.embed(mels)
        frags.append(vectors)
        tracks.append(pool_fragments(vectors))
    return np.stack(tracks), np.concatenate(frags)


def features_block(ids: list[str]) -> np.ndarray:
    """The `features` backend's own track vectors, read back from the hybrid store (unscaled)."""
    from embeddings.backends.hybrid import HybridBackend

    store = LibraryStore.open(STORE)
    table, x = store.track_embeddings()
    order = {tid: i for i, tid in enumerate(table["track_id"])}
    hybrid = HybridBackend.from_checkpoint(BASE)
    return hybrid.split(x[[order[t] for t in ids]])[1] / hybrid._features_scale


def fit_stats(model: Path, fragment_vectors: np.ndarray, note: str) -> None:
    """``embedding_stats.json`` of ``model`` fitted on the library's own fragments (labels unused)."""
    from embeddings.backends.hybrid import STATS_FILE, write_embedding_stats

    sha = json.loads((model / "model.json").read_text())["weights_sha256"]
    write_embedding_stats(model / STATS_FILE, fragment_vectors, weights_sha256=sha,
                          fitted_on={"folder": "heldout", "n_fragments": len(fragment_vectors), "note": note})


def scores(x: np.ndarray, labels: np.ndarray, seeds: int) -> dict:
    """NMI/AMI (k = labels) over k-means seeds, ``ctk cluster``'s k auto and AMI there, Recall@10, collapse."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_mutual_info_score

    from cluster_toolkit.clustering.auto_params import choose_k

    runs = [clustering_scores(x, labels, seed=s) for s in range(seeds)]
    k_auto = choose_k(x).k
    u = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    auto = [adjusted_mutual_info_score(labels, KMeans(k_auto, n_init=10, random_state=s).fit_predict(u))
            for s in range(seeds)]
    return {
        "nmi": [r["nmi"] for r in runs], "ami": [r["ami"] for r in runs], "k_auto": int(k_auto), "ami_k_auto": auto,
        "recall@10": retrieval_scores(x, labels, ks=(10,))["recall@10"], **collapse_report(x),
    }


def score_model(model: Path, ids, labels, rows, mel_dir: Path, seeds: int, *, refit_stats: bool) -> dict:
    """Scores of ``model`` alone and of hybrid with it (statistics refitted on the library if ``refit_stats``)."""
    from embeddings.backends.hybrid import HybridBackend

    t0 = time.perf_counter()
    e, frags = embed_store_fragments(model, ids, rows, mel_dir)
    if refit_stats:
        fit_stats(model, frags, "fitted by bench/finetune_transductive.py on the library it clusters")
    hybrid = HybridBackend.from_checkpoint(model).combine(e, features_block(ids))
    out = {"encoder": scores(e, labels, seeds), "hybrid": scores(hybrid, labels, seeds),
           "embed_s": round(time.perf_counter() - t0, 1)}
    if model == BASE:  # the check that these vectors are the ones ``ctk embed`` stored
        table, stored = LibraryStore.open(STORE).track_embeddings()
        order = {tid: i for i, tid in enumerate(table["track_id"])}
        out["max_abs_diff_vs_store"] = float(np.abs(stored[[order[t] for t in ids]] - hybrid).max())
        print(f"max |hybrid - store| = {out['max_abs_diff_vs_store']:.2e}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["decode", "run", "table"])
    ap.add_argument("--heldout", type=Path, default=CORPUS and Path(CORPUS, "heldout"), required=not CORPUS)
    ap.add_argument("--work", type=Path, default=Path("/work/scratch/tkm/transductive"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tag", default="base")
    ap.add_argument("--cluster-loss", choices=["kmeans", "dec"], default="kmeans")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--weight", type=float, default=1.0)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (a short run)")
    ap.add_argument("--kmeans-fragments", type=int, default=4096, help="fragments embedded per centroid refit")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kmeans-seeds", type=int, default=10)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    files = list_training_files(args.heldout)
    if args.stage == "decode":
        t0 = time.perf_counter()
        tracks = decode(files, args.work / "mels", args.workers)
        print(f"{len(tracks)} tracks decoded in {time.perf_counter() - t0:.0f} s", flush=True)
        return
    if args.stage == "table":
        print_table(args.work / "results")
        return
    mel_dir = args.work / "mels"
    tracks = decode(files, mel_dir, args.workers)  # all there: nothing to do
    ids, labels, rows = store_fragments(tracks)
    out = args.work / "models" / args.tag
    record: dict = {"tag": args.tag, "date": datetime.now(UTC).isoformat(timespec="minutes"),
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
                    "command": " ".join(sys.argv)}
    if args.tag.startswith("base"):
        model = BASE
        if args.tag == "base-refit":  # the base encoder with statistics refitted on the library, as fine-tuned ones
            model = out
            out.mkdir(parents=True, exist_ok=True)
            for name in ("model.json", "model.safetensors"):
                (out / name).write_bytes((BASE / name).read_bytes())
        record.update(score_model(model, ids, labels, rows, mel_dir, args.kmeans_seeds,
                                  refit_stats=args.tag == "base-refit"))
    else:
        import torch

        from embeddings.training.finetune import finetune

        torch.set_num_threads(1)  # runs share a loaded 2-core machine
        use_decoded(mel_dir)
        overrides = {"positives": "track", "seed": args.seed, "kmeans_fragments": args.kmeans_fragments}
        if args.max_steps:
            overrides["max_steps"] = args.max_steps
        t0 = time.perf_counter()
        result = finetune(files, model_dir=BASE, out_dir=out, k=args.k, weight=args.weight, epochs=args.epochs,
                          lr=args.lr, cluster_loss=args.cluster_loss, source_dir=args.heldout,
                          overrides=overrides)
        record.update({"cluster_loss": args.cluster_loss, "k": args.k, "weight": args.weight, "epochs": args.epochs,
                       "max_steps": args.max_steps, "kmeans_fragments": args.kmeans_fragments, "lr": args.lr,
                       "seed": args.seed, "finetune_s": round(time.perf_counter() - t0, 1),
                       "steps": result.step,
                       "fragments_per_s": result.fragments_per_s, "train_collapse": result.collapse})
        print(f"fine-tuned {args.tag} in {record['finetune_s']} s", flush=True)
        record.update(score_model(out, ids, labels, rows, mel_dir, args.kmeans_seeds, refit_stats=True))
    (args.work / "results").mkdir(exist_ok=True)
    (args.work / "results" / f"{args.tag}.json").write_text(json.dumps(record, indent=1))
    print_table(args.work / "results")


def _ms(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def print_table(results: Path) -> None:
    print("| model | representation | NMI | AMI | k auto | AMI at k auto | Recall@10 | eff. rank | uniformity "
          "| fine-tune s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in sorted(results.glob("*.json")):
        r = json.loads(path.read_text())
        for rep in ("encoder", "hybrid"):
            s = r[rep]
            print(f"| {r['tag']} | {rep} | {_ms(s['nmi'])} | {_ms(s['ami'])} | {s['k_auto']} | "
                  f"{_ms(s['ami_k_auto'])} | "
                  f"{s['recall@10']:.3f} | {s['effective_rank']:.1f} | {s['uniformity']:.3f} | "
                  f"{r.get('finetune_s', '-')} |")


if __name__ == "__main__":
    main()
