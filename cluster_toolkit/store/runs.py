"""Cluster runs saved in the library store: two derived tables, plus a folder of pictures per run.

``cluster_runs`` (one row per run): ``run_id``, ``method``, ``params`` (JSON: what was asked and what was
used, e.g. ``{"k": "auto", "n_clusters": 7, ...}``), ``model_id`` (the store's embedding model), ``metrics``
(JSON: internal metrics, external metrics when reference labels were given), ``n_clusters``, ``n_noise``,
``created_at`` (ISO 8601, UTC), ``seconds`` (clustering wall time), ``seed``.

``cluster_labels`` (one row per run and track): ``run_id``, ``track_id``, ``label`` (-1 = noise),
``probability`` (HDBSCAN membership strength; 1.0 for the hard methods, 0.0 for noise), ``outlier_score``
(HDBSCAN's GLOSH score; NaN for other methods), ``core`` (DBSCAN core track; False elsewhere),
``assigned`` (True for tracks placed afterwards by the approximate assignment, not by the clustering).

Run ids are deterministic: ``<method>-<10 hex>`` hashed from the method, the requested parameters, the seed,
the model id and the exact track ids and embedding bytes. Clustering the same library again with the same
options therefore gives the same run id (and, seeded, the same labels) and replaces the stored run instead
of piling up copies. Pictures and the HDBSCAN model live in ``<root>/runs/<run_id>/``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cluster_toolkit.errors import StoreError, UsageError
from cluster_toolkit.store.protocol import Store, side_folder

RUNS_TABLE = "cluster_runs"
LABELS_TABLE = "cluster_labels"
RUN_COLUMNS = [
    "run_id",
    "method",
    "params",
    "model_id",
    "metrics",
    "n_clusters",
    "n_noise",
    "created_at",
    "seconds",
    "seed",
]
LABEL_COLUMNS = ["run_id", "track_id", "label", "probability", "outlier_score", "core", "assigned"]


@dataclass(frozen=True)
class ClusterRun:
    """One saved clustering: its row of ``cluster_runs`` and its rows of ``cluster_labels``."""

    run_id: str
    method: str
    params: dict[str, Any]
    model_id: str | None
    metrics: dict[str, Any]
    n_clusters: int
    n_noise: int
    created_at: str
    seconds: float
    seed: int
    labels: pd.DataFrame = field(repr=False)

    def row(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "method": self.method,
            "params": json.dumps(self.params, sort_keys=True, default=_json_default),
            "model_id": self.model_id,
            "metrics": json.dumps(self.metrics, sort_keys=True, default=_json_default),
            "n_clusters": int(self.n_clusters),
            "n_noise": int(self.n_noise),
            "created_at": self.created_at,
            "seconds": float(self.seconds),
            "seed": int(self.seed),
        }


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a run's JSON")


def make_run_id(
    method: str,
    requested: dict[str, Any],
    *,
    seed: int,
    model_id: str | None,
    track_ids: list[str],
    embeddings: np.ndarray,
) -> str:
    """``<method>-<10 hex>``: the same inputs and options always give the same id."""
    h = hashlib.sha256()
    h.update(json.dumps([method, requested, seed, model_id], sort_keys=True, default=_json_default).encode())
    h.update("\n".join(track_ids).encode())
    h.update(np.ascontiguousarray(embeddings, dtype=np.float32).tobytes())
    return f"{method}-{h.hexdigest()[:10]}"


def labels_frame(
    run_id: str,
    track_ids: list[str],
    labels: np.ndarray,
    *,
    probability: np.ndarray | None = None,
    outlier_score: np.ndarray | None = None,
    core: np.ndarray | None = None,
    assigned: bool = False,
) -> pd.DataFrame:
    """The ``cluster_labels`` rows of one run."""
    n = len(track_ids)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (n,):
        raise StoreError(f"run {run_id}: {labels.shape[0]} labels for {n} tracks")
    default_p = np.where(labels >= 0, 1.0, 0.0)
    return pd.DataFrame(
        {
            "run_id": [run_id] * n,
            "track_id": list(track_ids),
            "label": labels,
            "probability": default_p if probability is None else np.asarray(probability, dtype=np.float64),
            "outlier_score": np.full(n, np.nan) if outlier_score is None else np.asarray(outlier_score, float),
            "core": np.zeros(n, bool) if core is None else np.asarray(core, dtype=bool),
            "assigned": np.full(n, bool(assigned)),
        }
    )


def run_dir(store: Store, run_id: str) -> Path:
    """``<root>/runs/<run_id>``: pictures and models of a run (created on demand by the writers); for a
    remote store, in its local cache folder (:func:`~cluster_toolkit.store.protocol.side_folder`)."""
    return side_folder(store) / "runs" / run_id


def save_run(store: Store, run: ClusterRun) -> None:
    """Add ``run`` to the store's tables, replacing a stored run with the same id (under the writer's lock:
    read, add, write back)."""
    with store.writing():
        runs = list_runs(store)
        runs = pd.concat([runs[runs["run_id"] != run.run_id], pd.DataFrame([run.row()])], ignore_index=True)
        labels = _read_labels(store)
        fresh = run.labels.reindex(columns=LABEL_COLUMNS)
        labels = pd.concat([labels[labels["run_id"] != run.run_id], fresh], ignore_index=True)
        store.write_table(LABELS_TABLE, labels.astype({"label": "int64", "core": bool, "assigned": bool}))
        store.write_table(RUNS_TABLE, runs[RUN_COLUMNS])


def add_assigned_labels(store: Store, run_id: str, rows: pd.DataFrame) -> None:
    """Append approximately assigned tracks (``assigned=True``) to a stored run, replacing earlier
    assignments of the same tracks."""
    with store.writing():
        labels = _read_labels(store)
        replace = (labels["run_id"] == run_id) & labels["track_id"].isin(rows["track_id"]) & labels["assigned"]
        labels = pd.concat([labels[~replace], rows.reindex(columns=LABEL_COLUMNS)], ignore_index=True)
        store.write_table(LABELS_TABLE, labels.astype({"label": "int64", "core": bool, "assigned": bool}))


def _read_labels(store: Store) -> pd.DataFrame:
    if not store.has_table(LABELS_TABLE):
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _LABEL_DTYPES.items()})
    return store.read_table(LABELS_TABLE)


_LABEL_DTYPES = {
    "run_id": "object",
    "track_id": "object",
    "label": "int64",
    "probability": "float64",
    "outlier_score": "float64",
    "core": "bool",
    "assigned": "bool",
}


def list_runs(store: Store) -> pd.DataFrame:
    """Every saved run (the ``cluster_runs`` table), oldest first; empty when there is none."""
    if not store.has_table(RUNS_TABLE):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in RUN_COLUMNS})
    return store.read_table(RUNS_TABLE).sort_values("created_at", kind="stable").reset_index(drop=True)


def resolve_run_id(store: Store, run_id: str) -> str:
    """The full id of a saved run from its id or a unique prefix (``latest`` = the newest run that found
    at least one cluster: a run with no clusters is kept to look at, but never becomes ``latest``)."""
    runs = list_runs(store)
    if runs.empty:
        raise UsageError(f"{store.root}: no cluster runs yet; run `ctk cluster` first")
    if run_id == "latest":
        useful = runs[runs["n_clusters"].astype(int) > 0]
        if useful.empty:
            raise UsageError(
                f"{store.root}: no saved run has any cluster (all {len(runs)} found only noise), so there is "
                "no `latest`; run `ctk cluster` again (e.g. `--no-noise` or `--method kmeans --k auto`)"
            )
        return str(useful["run_id"].iloc[-1])
    ids = runs["run_id"].astype(str).tolist()
    if run_id in ids:
        return run_id
    matches = [i for i in ids if i.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"no cluster run {run_id!r} in {store.root}; `ctk clusters list` shows the runs")
    raise UsageError(f"run id {run_id!r} is ambiguous: {', '.join(matches[:5])}")


def load_run(store: Store, run_id: str) -> ClusterRun:
    """The saved run ``run_id`` (full id, unique prefix or ``latest``) with its labels."""
    full = resolve_run_id(store, run_id)
    runs = list_runs(store)
    row = runs[runs["run_id"] == full].iloc[0]
    labels = _read_labels(store)
    labels = labels[labels["run_id"] == full].reset_index(drop=True)
    return ClusterRun(
        run_id=full,
        method=str(row["method"]),
        params=json.loads(row["params"]),
        model_id=None if pd.isna(row["model_id"]) else str(row["model_id"]),
        metrics=json.loads(row["metrics"]),
        n_clusters=int(row["n_clusters"]),
        n_noise=int(row["n_noise"]),
        created_at=str(row["created_at"]),
        seconds=float(row["seconds"]),
        seed=int(row["seed"]),
        labels=labels,
    )


def delete_run(store: Store, run_id: str) -> str:
    """Remove a saved run, its labels and its folder; returns the full id."""
    with store.writing():
        full = resolve_run_id(store, run_id)
        runs = list_runs(store)
        labels = _read_labels(store)
        store.write_table(LABELS_TABLE, labels[labels["run_id"] != full])
        store.write_table(RUNS_TABLE, runs[runs["run_id"] != full][RUN_COLUMNS])
        shutil.rmtree(run_dir(store, full), ignore_errors=True)
    return full


EXPORT_COLUMNS = [
    "track_id",
    "label",
    "probability",
    "outlier_score",
    "core",
    "assigned",
    "artist",
    "title",
    "album",
    "genre",
    "path",
]


def run_table(store: Store, run: ClusterRun) -> pd.DataFrame:
    """The run's labels joined with the track metadata, sorted by label then artist and title."""
    tracks = store.tracks(include_gone=True)
    meta_cols = [c for c in ("track_id", "artist", "title", "album", "genre", "path") if c in tracks]
    table = run.labels.merge(tracks[meta_cols], on="track_id", how="left")
    table = table.reindex(columns=EXPORT_COLUMNS)
    order = np.lexsort(
        (
            table["title"].fillna("").astype(str).to_numpy(),
            table["artist"].fillna("").astype(str).to_numpy(),
            np.where(table["label"].to_numpy() < 0, np.iinfo(np.int64).max, table["label"].to_numpy()),
        )
    )
    return table.iloc[order].reset_index(drop=True)


def export_run_csv(store: Store, run_id: str, path: str | Path) -> Path:
    """Write a run's labels with artist/title/album/genre/path as CSV (UTF-8, header row); returns the path."""
    run = load_run(store, run_id)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        run_table(store, run).to_csv(path, index=False)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write CSV ({exc.strerror or exc})") from exc
    return path
