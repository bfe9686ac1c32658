"""Give the tracks embedded after a run was made a label in that run, approximately (no re-clustering).

The rules are those of :mod:`cluster_toolkit.clustering.assign`: nearest centroid for k-means and
hierarchical runs (centroids rebuilt from the run's tracks), DBSCAN's nearest-core-within-eps (core tracks
are stored with the run), ``hdbscan.approximate_predict`` for HDBSCAN (the fitted model saved with the run).
Results are stored in ``cluster_labels`` with ``assigned=True`` and the rule's strength as ``probability``.
For exact labels, cluster again.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd

from cluster_toolkit.clustering.assign import assign_hdbscan, assign_to_centroids, assign_within_eps
from cluster_toolkit.clustering.base import l2_normalize
from cluster_toolkit.clustering.hierarchical import cluster_means
from cluster_toolkit.errors import ClusteringError, StoreError
from cluster_toolkit.store.protocol import Store
from cluster_toolkit.store.runs import add_assigned_labels, labels_frame, load_run, run_dir


def assign_new_tracks(store: Store, run_id: str, *, save: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """Assign the store's ok tracks that are not yet in run ``run_id`` (neither fitted nor assigned before).

    Returns the new label rows (``track_id``, ``label``, ``probability``, ...) and any warnings.
    """
    run = load_run(store, run_id)
    if run.model_id != store.model_id:
        raise StoreError(
            f"run {run.run_id} was made from model {run.model_id}, the library now holds {store.model_id}; "
            "cluster again instead of assigning"
        )
    tracks, X = store.track_embeddings()
    ids = tracks["track_id"].astype(str)
    fitted = run.labels[~run.labels["assigned"].astype(bool)]
    position = {t: i for i, t in enumerate(ids)}
    missing = [t for t in fitted["track_id"] if t not in position]
    new_rows = np.flatnonzero(~ids.isin(set(run.labels["track_id"])).to_numpy())
    if new_rows.size == 0:
        return labels_frame(run.run_id, [], np.zeros(0)), []
    fit_rows = np.array([position[t] for t in fitted["track_id"] if t in position], dtype=np.int64)
    fit_labels = fitted[fitted["track_id"].isin(position)]["label"].to_numpy()
    used = run.params.get("used", {})
    normalize = bool(run.params.get("requested", {}).get("normalize", True))
    X_new = X[new_rows]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if run.method in ("kmeans", "hierarchical"):
            space = _space(X[fit_rows], normalize)
            result = assign_to_centroids(X_new, cluster_means(space, fit_labels), normalize=normalize)
        elif run.method == "dbscan":
            dbscan_normalize = used.get("metric") == "cosine" or normalize
            core = fitted[fitted["track_id"].isin(position)]["core"].to_numpy(dtype=bool)
            space = _space(X[fit_rows], dbscan_normalize)
            result = assign_within_eps(
                X_new, space[core], fit_labels[core], float(used["eps_euclidean"]), normalize=dbscan_normalize
            )
        elif run.method == "hdbscan":
            result = assign_hdbscan(_load_hdbscan(store, run.run_id), X_new)
        else:
            raise ClusteringError(f"run {run.run_id}: no assignment rule for method {run.method!r}")
    messages = [str(w.message) for w in caught]
    if missing:
        messages.append(f"{len(missing)} tracks of the run are no longer in the library (ignored)")
    rows = labels_frame(
        run.run_id,
        ids.iloc[new_rows].tolist(),
        result.labels,
        probability=result.strengths,
        assigned=True,
    )
    if save:
        add_assigned_labels(store, run.run_id, rows)
    return rows, messages


def _space(X: np.ndarray, normalize: bool) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return l2_normalize(X) if normalize else X


def _load_hdbscan(store: Store, run_id: str):
    path = run_dir(store, run_id) / "hdbscan.pkl"
    if not path.is_file():
        raise ClusteringError(
            f"run {run_id}: the fitted HDBSCAN model ({path}) is missing, so new tracks cannot be placed; "
            f"cluster again with `ctk cluster --method hdbscan`"
        )
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
        raise StoreError(f"{path}: unreadable HDBSCAN model ({exc}); cluster again") from exc
