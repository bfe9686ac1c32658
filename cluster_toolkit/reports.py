"""Per-cluster summaries of a run: what each cluster is and how tight it is.

For each cluster: ``size`` and ``share``; ``cohesion``, the mean cosine similarity over all pairs of distinct
member tracks, computed exactly in O(n d) from ``||sum x||^2 = sum_ij x_i . x_j`` on unit vectors;
``medoids``, the members with the highest mean cosine similarity to the other members (on unit vectors
``mean_j x_i . x_j = x_i . mean(x)``, so this is exact too), shown as "artist - title"; ``top_genres``, the
most frequent genres (each of a track's "; "-joined genres counts) with counts. Noise is summarised as
cluster -1 without cohesion.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from cluster_toolkit.clustering.base import NOISE, l2_normalize
from cluster_toolkit.errors import ClusteringError


def track_name(row: pd.Series) -> str:
    """'artist - title', falling back to the file name or the track id."""
    artist, title = row.get("artist"), row.get("title")
    if isinstance(title, str) and title:
        return f"{artist} - {title}" if isinstance(artist, str) and artist else title
    path = row.get("path")
    if isinstance(path, str) and path:
        return path.replace("\\", "/").rsplit("/", 1)[-1]
    return str(row.get("track_id", "?"))


def cohesion(X_unit: np.ndarray) -> float | None:
    """Mean pairwise cosine similarity of distinct rows of unit vectors ``(m, d)``; None for m < 2."""
    m = X_unit.shape[0]
    if m < 2:
        return None
    s = X_unit.sum(axis=0)
    return float((s @ s - np.einsum("ij,ij->", X_unit, X_unit)) / (m * (m - 1)))


def cluster_summary(
    tracks: pd.DataFrame,
    X: np.ndarray,
    labels: np.ndarray,
    *,
    n_medoids: int = 3,
    n_genres: int = 3,
) -> pd.DataFrame:
    """One row per cluster (largest first, noise last): cluster, size, share, cohesion, medoids, top_genres.

    ``tracks`` rows, ``X`` ``(n, d)`` rows and ``labels`` ``(n,)`` are aligned.
    """
    labels = np.asarray(labels)
    if len(tracks) != X.shape[0] or labels.shape != (X.shape[0],):
        raise ClusteringError(f"report: {len(tracks)} tracks, {X.shape[0]} vectors and {labels.shape[0]} labels")
    unit = l2_normalize(np.asarray(X, dtype=np.float64)) if X.shape[0] else X
    tracks = tracks.reset_index(drop=True)
    rows = []
    clusters = [c for c in pd.unique(labels) if c != NOISE]
    clusters.sort(key=lambda c: (-int(np.sum(labels == c)), c))
    for c in clusters + ([NOISE] if np.any(labels == NOISE) else []):
        idx = np.flatnonzero(labels == c)
        members = unit[idx]
        if c == NOISE:
            medoid_rows, coh = idx[:0], None
        else:
            score = members @ members.mean(axis=0)
            medoid_rows = idx[np.argsort(-score, kind="stable")[:n_medoids]]
            coh = cohesion(members)
        genres = Counter()
        if "genre" in tracks:
            for g in tracks["genre"].iloc[idx]:
                if isinstance(g, str):
                    genres.update(part.strip() for part in g.split(";") if part.strip())
        rows.append(
            {
                "cluster": int(c),
                "size": int(idx.size),
                "share": float(idx.size / max(labels.size, 1)),
                "cohesion": coh,
                "medoids": [track_name(tracks.iloc[i]) for i in medoid_rows],
                "medoid_ids": [str(tracks["track_id"].iloc[i]) for i in medoid_rows] if "track_id" in tracks else [],
                "top_genres": [f"{g} ({n})" for g, n in genres.most_common(n_genres)],
            }
        )
    return pd.DataFrame(
        rows, columns=["cluster", "size", "share", "cohesion", "medoids", "medoid_ids", "top_genres"]
    )
