"""Per-cluster summaries of a run: what each cluster is and how tight it is.

For each cluster: ``size`` and ``share``; ``cohesion``, the mean cosine similarity over all pairs of distinct
member tracks, computed exactly in O(n d) from ``||sum x||^2 = sum_ij x_i . x_j`` on unit vectors;
``medoids``, the members with the highest mean cosine similarity to the other members (on unit vectors
``mean_j x_i . x_j = x_i . mean(x)``, so this is exact too), shown as "artist - title"; ``top_genres``, the
most frequent genres (each of a track's "; "-joined genres counts) with counts; ``name``, a short name
(:func:`cluster_names`). Noise is summarised as cluster -1 without cohesion.
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


NAME_SOURCES = ("genre", "artist", "album", "folder")


def _folder(path: object) -> str | None:
    if not isinstance(path, str) or not path:
        return None
    parts = path.replace("\\", "/").rstrip("/").split("/")
    return parts[-2] if len(parts) >= 2 and parts[-2] else None


def _tag_values(tracks: pd.DataFrame, source: str) -> list[list[str]]:
    """Each track's values of ``source`` (genre tags split on ";"; the parent folder of the path)."""
    if source == "folder":
        column = tracks["path"] if "path" in tracks else pd.Series([None] * len(tracks))
        return [[f] if (f := _folder(p)) else [] for p in column]
    if source not in tracks:
        return [[] for _ in range(len(tracks))]
    out = []
    for value in tracks[source]:
        if not isinstance(value, str) or not value.strip():
            out.append([])
        elif source == "genre":
            out.append([g.strip() for g in value.split(";") if g.strip()])
        else:
            out.append([value.strip()])
    return out


def cluster_names(tracks: pd.DataFrame, labels: np.ndarray, *, max_parts: int = 2, min_share: float = 0.2,
                  medoid_names: dict[int, str] | None = None) -> dict[int, str]:
    """A short name per cluster from what its members share: the most common genre tag, artist, album or
    folder, the two most telling (largest share of the cluster, at least ``min_share``), e.g.
    ``"Battle_for_Wesnoth 80% · Mattias Westlund 45%"``. A value that is just as common in the whole library
    (every track's genre is "Soundtrack") tells nothing and is skipped. Without any, the cluster's most
    representative track (``medoid_names``) or ``"cluster N"``. Noise (-1) is ``"noise"``.
    """
    labels = np.asarray(labels)
    tracks = tracks.reset_index(drop=True)
    values = {source: _tag_values(tracks, source) for source in NAME_SOURCES}
    overall = {source: Counter(v for vs in vals for v in set(vs)) for source, vals in values.items()}
    names: dict[int, str] = {}
    for c in pd.unique(labels):
        c = int(c)
        if c == NOISE:
            names[c] = "noise"
            continue
        idx = np.flatnonzero(labels == c)
        parts = []
        for source, vals in values.items():
            counts = Counter(v for i in idx for v in set(vals[i]))
            if not counts:
                continue
            base = overall[source]
            lifts = {v: (n / idx.size) / max(base[v] / max(len(tracks), 1), 1e-9) for v, n in counts.items()}
            top, n = max(counts.items(), key=lambda item: (item[1], lifts[item[0]], item[0]))
            share, lift = n / idx.size, lifts[top]
            if share >= min_share and lift > 1.2:
                parts.append((share, source, top))
        parts.sort(key=lambda p: (-p[0], NAME_SOURCES.index(p[1])))
        chosen, seen = [], set()
        for share, _, top in parts:
            if top.casefold() not in seen:
                chosen.append(f"{top} {share:.0%}")
                seen.add(top.casefold())
            if len(chosen) == max_parts:
                break
        fallback = (medoid_names or {}).get(c) or f"cluster {c}"
        names[c] = " · ".join(chosen) if chosen else fallback
    return names


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
    names = cluster_names(tracks, labels, medoid_names={r["cluster"]: r["medoids"][0] for r in rows if r["medoids"]})
    for r in rows:
        r["name"] = names[r["cluster"]]
    return pd.DataFrame(
        rows, columns=["cluster", "name", "size", "share", "cohesion", "medoids", "medoid_ids", "top_genres"]
    )
