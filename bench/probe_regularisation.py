"""Does the linear probe's fixed regularisation decide a ranking? ``ctk evaluate``'s probe (logistic regression,
C = 1, on standardised vectors, averaged over repeated shuffles of 5 folds) beside the same probe with C chosen
inside each training fold (a 3-fold grid search over 1e-3 ... 10), on the same splits.

A fixed C treats an 87-dimensional vector and a 599-dimensional one alike; a probe that chooses its own
regularisation asks only whether the labels are linearly separable. Rows are stores of the same tracks (labels:
their folders) or precomputed vectors (``NAME=FILE.npz``, ``paths`` and ``vectors``, matched to the first store
by path, e.g. bench/peer_musicnn.py's).

    python bench/probe_regularisation.py features=HELDOUT_FEATURES_STORE default=HELDOUT_DEFAULT_STORE \\
        MusiCNN=msd_musicnn_p16.npz [--repeats 10]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, StratifiedKFold, cross_validate  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from bench.encoder_quality import precomputed_vectors  # noqa: E402
from cluster_toolkit.evaluate import labels_for, linear_probe  # noqa: E402
from cluster_toolkit.store import LibraryStore  # noqa: E402

GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0)


def tuned_probe(x: np.ndarray, labels: np.ndarray, *, folds: int, repeats: int, seed: int) -> dict:
    """Accuracy with C chosen by an inner stratified 3-fold grid search in every outer training fold."""
    inner = StratifiedKFold(3, shuffle=True, random_state=seed)
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                          {"logisticregression__C": list(GRID)}, cv=inner)
    outer = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    out = cross_validate(search, x, labels, cv=outer, return_estimator=True, n_jobs=-1)
    scores = out["test_score"].reshape(repeats, folds)
    chosen = collections.Counter(float(e.best_params_["logisticregression__C"]) for e in out["estimator"])
    return {"accuracy": float(scores.mean()), "split_std": float(scores.mean(axis=1).std(ddof=1)),
            "chosen_C": {str(c): n for c, n in sorted(chosen.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rows", nargs="+", help="NAME=STORE or NAME=FILE.npz (the first must be a store)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    # an inner 3-fold split of a source with 2 training tracks warns on every fit (scikit-learn passes the
    # filter on to its workers)
    warnings.filterwarnings("ignore", message="The least populated class")

    paths = labels = None
    results = {}
    print("| row | dims | probe, C = 1 (ctk evaluate) | probe, C chosen per fold | C chosen (folds) |")
    print("|---|---|---|---|---|")
    for spec in args.rows:
        name, _, where = spec.partition("=")
        if where.endswith(".npz"):
            if paths is None:
                raise SystemExit(f"{spec}: the first row must be a store (it gives the tracks and labels)")
            x = precomputed_vectors(spec, np.asarray(paths))[1]
        else:
            tracks, x = LibraryStore.open(where).track_embeddings()
            if paths is None:
                paths, labels = [str(p) for p in tracks["path"]], labels_for(tracks, "folder").to_numpy(dtype=str)
            elif [str(p) for p in tracks["path"]] != paths:
                raise SystemExit(f"{where}: not the same tracks as the first store")
        t0 = time.perf_counter()
        fixed = linear_probe(x, labels, folds=args.folds, repeats=args.repeats, seed=args.seed)
        tuned = tuned_probe(x, labels, folds=fixed["folds"], repeats=args.repeats, seed=args.seed)
        results[name] = {"dims": int(x.shape[1]), "fixed_C1": fixed, "tuned": tuned,
                         "seconds": round(time.perf_counter() - t0, 1)}
        print(f"| {name} | {x.shape[1]} | {fixed['accuracy']:.3f} +- {fixed['split_std']:.3f} | "
              f"{tuned['accuracy']:.3f} +- {tuned['split_std']:.3f} | {tuned['chosen_C']} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
