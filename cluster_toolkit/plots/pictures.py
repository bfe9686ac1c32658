"""Pictures of a library store: the UMAP map (PNG + HTML) and the similarity heatmap of chosen tracks.

Colour specs for the map (``--color``): ``cluster`` (the newest run) or ``cluster:RUN``; ``genre`` (first
genre tag); ``folder``; ``column:NAME`` or a bare column of the tracks table; for tabular stores also any
imported feature (``energy``, ``tempo``...). UMAP coordinates are cached in the store (table
``umap_<hash>`` keyed by model, tracks and UMAP settings), so re-colouring a large library is instant.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cluster_toolkit.clustering.base import NOISE
from cluster_toolkit.errors import UsageError
from cluster_toolkit.plots.similarity_heatmap import MAX_TRACKS, plot_similarity_heatmap
from cluster_toolkit.plots.umap_map import make_coloring, umap_coords, write_map_html, write_map_png
from cluster_toolkit.reference_labels import reference_labels
from cluster_toolkit.reports import cluster_names, track_name
from cluster_toolkit.store.protocol import Store
from cluster_toolkit.store.runs import load_run
from cluster_toolkit.store.tabular import FEATURES_TABLE


@dataclass(frozen=True)
class MapResult:
    html: Path
    png: Path
    n_points: int
    color: str
    cached: bool


def color_values(store: Store, tracks: pd.DataFrame, spec: str) -> tuple[pd.Series, str]:
    """Values to colour ``tracks`` by, and the legend title."""
    if spec == "cluster" or spec.startswith("cluster:"):
        run = load_run(store, spec.split(":", 1)[1] if ":" in spec else "latest")
        lookup = dict(zip(run.labels["track_id"], run.labels["label"], strict=True))
        labels = tracks["track_id"].map(lambda t: lookup.get(t, NOISE - 1))
        names = cluster_names(tracks, labels.to_numpy())
        values = labels.map(lambda c: None if c == NOISE - 1 else "-1" if c == NOISE else f"{c}: {names[int(c)]}")
        return values, f"cluster ({run.run_id})"
    name = spec[7:] if spec.startswith("column:") else spec
    if name not in tracks.columns and store.has_table(FEATURES_TABLE):
        features = store.read_table(FEATURES_TABLE)
        if name in features.columns:
            lookup = dict(zip(features["track_id"], features[name], strict=True))
            return tracks["track_id"].map(lookup), name
    return reference_labels(tracks, spec), name


def layout_table(store: Store, track_ids: pd.Series, *, n_neighbors: int = 15, min_dist: float = 0.1,
                 seed: int = 0) -> str:
    """Name of the store table that caches the UMAP layout of these tracks with these settings."""
    key = hashlib.sha256(
        json.dumps([store.model_id, n_neighbors, min_dist, seed]).encode() + "\n".join(track_ids).encode()
    ).hexdigest()[:12]
    return f"umap_{key}"


def umap_layout(store: Store, tracks: pd.DataFrame, X: np.ndarray, *, n_neighbors: int = 15, min_dist: float = 0.1,
                seed: int = 0) -> tuple[np.ndarray, bool]:
    """``(n, 2)`` map coordinates of ``tracks`` (rows of ``X``): read from the store's cache, else computed with
    UMAP and cached; and whether they came from the cache."""
    table = layout_table(store, tracks["track_id"], n_neighbors=n_neighbors, min_dist=min_dist, seed=seed)
    if store.has_table(table):
        return store.read_table(table)[["x", "y"]].to_numpy(dtype=np.float32), True
    coords = umap_coords(X, n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed)
    store.write_table(table, pd.DataFrame({"track_id": tracks["track_id"], "x": coords[:, 0], "y": coords[:, 1]}))
    return coords, False


def map_library(
    store: Store,
    out: str | Path,
    *,
    color: str = "cluster",
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int = 0,
) -> MapResult:
    """Write ``out`` (.html) and the PNG beside it (same name, .png); returns what was written."""
    out = Path(out)
    if out.suffix.lower() != ".html":
        raise UsageError(f"--out {out}: the map is an .html page (the PNG is written beside it)")
    tracks, X = store.track_embeddings()
    values, title = color_values(store, tracks, color)
    coords, cached = umap_layout(store, tracks, X, n_neighbors=n_neighbors, min_dist=min_dist, seed=seed)
    coloring = make_coloring(values, title=title)
    hover = [track_name(row) for _, row in tracks.iterrows()]
    page_title = f"{len(tracks)} tracks coloured by {title}"
    html_path = write_map_html(coords, coloring, hover, out, title=page_title)
    png_path = write_map_png(coords, coloring, out.with_suffix(".png"), title=page_title)
    return MapResult(html_path, png_path, len(tracks), title, cached)


def find_tracks(tracks: pd.DataFrame, query: str) -> pd.DataFrame:
    """Tracks matching ``query``: exact id or id prefix, else a case-insensitive substring of
    "artist - title" or of the path."""
    ids = tracks["track_id"].astype(str)
    exact = tracks[ids == query]
    if len(exact):
        return exact
    prefix = tracks[ids.str.startswith(query)]
    if len(prefix):
        return prefix
    names = tracks.apply(track_name, axis=1).str.lower()
    paths = tracks["path"].fillna("").astype(str).str.lower() if "path" in tracks else names
    q = query.lower()
    return tracks[names.str.contains(q, regex=False) | paths.str.contains(q, regex=False)]


def heatmap_library(store: Store, queries: list[str], out: str | Path) -> tuple[Path, list[str]]:
    """Similarity heatmap PNG of the tracks the queries pick (each query may match several); returns the
    path and the names of the tracks shown, in order."""
    tracks, X = store.track_embeddings()
    picked: list[int] = []
    for query in queries:
        found = find_tracks(tracks, query)
        if found.empty:
            raise UsageError(f"no track matches {query!r} (give a track id, or part of artist/title/path)")
        picked.extend(i for i in found.index if i not in picked)
    if not 2 <= len(picked) <= MAX_TRACKS:
        raise UsageError(f"the queries pick {len(picked)} tracks; the heatmap shows 2 to {MAX_TRACKS}")
    names = [track_name(tracks.loc[i]) for i in picked]
    return plot_similarity_heatmap(X[picked], names, out), names
