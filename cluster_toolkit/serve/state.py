"""What ``ctk serve`` loads once, when it starts: the library, its indexes, clusters and map.

Everything a request needs is built here, up front (the search texts, the fragments' neighbour index,
which is the one ``ctk similar`` keeps beside the store, the cluster names), so no request pays a cold
start. The only slow piece, the UMAP layout of the map, is read from the store's cache when ``ctk map`` (or
an earlier ``ctk serve``) made it; otherwise it is computed in a background thread while the rest of the
app already answers, and ``/api/map`` says "computing".
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cluster_toolkit.errors import UsageError
from cluster_toolkit.serve.files import MusicRoot, common_folder
from cluster_toolkit.serve.search import SearchIndex
from cluster_toolkit.store import LibraryStore
from playlists.library import Library
from playlists.projection import l2_normalise
from playlists.rules import PlaylistRules


@dataclass
class MapLayout:
    """The map: coordinates (None until ready), colour of each track, legend; or the error that stopped it."""

    coords: np.ndarray | None = None
    group: np.ndarray | None = None
    hover: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)
    title: str = ""
    error: str | None = None
    cached: bool = False
    seconds: float = 0.0


@dataclass
class Clusters:
    """The newest cluster run: its id, each track's label (aligned with the library, -1 noise, None absent)
    and the clusters' names."""

    run_id: str
    labels: list[int | None]
    names: dict[int, str]


def _clusters(store: LibraryStore, library: Library) -> Clusters | None:
    from cluster_toolkit.reports import cluster_names
    from cluster_toolkit.store.runs import list_runs, load_run

    if list_runs(store).empty:
        return None
    try:
        run = load_run(store, "latest")
    except UsageError:  # only runs that found no cluster
        return None
    lookup = dict(zip(run.labels["track_id"].astype(str), run.labels["label"].astype(int)))
    labels = [lookup.get(t) for t in library.track_ids]
    known = np.array([-1 if v is None else v for v in labels])
    return Clusters(run.run_id, labels, cluster_names(library.tracks, known))


class ServedLibrary:
    """A library store loaded for serving (see the module doc)."""

    def __init__(self, library: str | Path | LibraryStore, *, music_root: str | Path | None = None,
                 playlists_dir: str | Path | None = None, rules: PlaylistRules | None = None,
                 compute_map: bool = True) -> None:
        from cluster_toolkit.cli._playlist_common import rules_from
        from cluster_toolkit.store.neighbour_index import open_fragment_index
        from cluster_toolkit.store.saved_playlists import load_fragments, load_library

        started = time.perf_counter()
        self.store = library if isinstance(library, LibraryStore) else LibraryStore.open(library)
        self.library = load_library(self.store)
        self.fragments, vectors = load_fragments(self.store, self.library)
        self.fragment_vectors = l2_normalise(vectors)
        # the index `ctk similar` uses: exact below 200k fragments, else the IVF index kept beside the store
        self.index, self.index_report = open_fragment_index(self.store, self.fragments, self.fragment_vectors)
        self.search = SearchIndex(self.library.tracks)
        self.rules = rules if rules is not None else rules_from(0, False, store=self.store)
        paths = self.library.tracks["path"].astype(str).tolist() if "path" in self.library.tracks else []
        root = Path(music_root) if music_root is not None else common_folder(paths)
        self.music = MusicRoot(root, paths)
        self.playlists_dir = Path(playlists_dir) if playlists_dir is not None else Path(self.music.root) / "Playlists"
        self.clusters = _clusters(self.store, self.library)
        self.map = MapLayout()
        self.load_seconds = time.perf_counter() - started
        self._map_thread = threading.Thread(target=self._layout, name="ctk-serve-umap", daemon=True)
        if compute_map:
            self._map_thread.start()

    def _layout(self) -> None:
        from cluster_toolkit.plots.pictures import color_values, umap_layout
        from cluster_toolkit.plots.umap_map import make_coloring
        from cluster_toolkit.reports import track_name

        started = time.perf_counter()
        try:
            tracks, X = self.library.tracks, self.library.embeddings
            values, title = color_values(self.store, tracks, "cluster" if self.clusters else "genre")
            coloring = make_coloring(values, title=title)
            coords, cached = umap_layout(self.store, tracks, X)
            hover = [track_name(row) for row in tracks.to_dict("records")]  # track_name reads rows with .get
            self.map = MapLayout(coords, coloring.index, hover, coloring.names, coloring.colors, coloring.title,
                                 cached=cached, seconds=time.perf_counter() - started)
        except Exception as exc:  # shown by /api/map; the rest of the app keeps working
            self.map = MapLayout(error=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - started)

    def wait_for_map(self, timeout: float | None = None) -> MapLayout:
        if self._map_thread.is_alive():
            self._map_thread.join(timeout)
        return self.map

    # ------------------------------------------------------------------ rows as JSON
    def track_row(self, i: int) -> dict[str, Any]:
        """The tags of library row ``i``, its cluster and where to play it."""
        tracks = self.library.tracks
        row = tracks.iloc[i]

        def tag(name: str) -> Any:
            value = row.get(name)
            return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value

        out = {"track_id": str(row["track_id"]), **{k: tag(k) for k in ("artist", "title", "album", "genre")}}
        duration = tag("duration_s")
        out["duration_s"] = float(duration) if duration is not None else None
        out["audio_url"] = self.music.url_path(str(row["path"])) if tag("path") else None
        out["cluster"] = None
        if self.clusters is not None and self.clusters.labels[i] is not None:
            label = int(self.clusters.labels[i])
            out["cluster"] = {"run_id": self.clusters.run_id, "label": label,
                              "name": self.clusters.names.get(label, "noise" if label < 0 else f"cluster {label}")}
        return out
