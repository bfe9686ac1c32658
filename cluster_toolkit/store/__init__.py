"""The library store: a folder of plain Parquet tables per music collection, and the tables built on it.

- :mod:`~cluster_toolkit.store.protocol`: :class:`Store`, what the modules built on a store use of it;
- :mod:`~cluster_toolkit.store.library_store`: :class:`LibraryStore`, the implementation: the tracks, fragments
  and embeddings tables, atomic writes, derived tables;
- :mod:`~cluster_toolkit.store.lock`: the one-writer lock;
- :mod:`~cluster_toolkit.store.check`: ``ctk check`` (damage found, quarantined, repaired);
- :mod:`~cluster_toolkit.store.runs`: saved clustering runs (``cluster_runs``, ``cluster_labels``);
- :mod:`~cluster_toolkit.store.saved_playlists`: the ``playlists`` table and loading a store as a playlist library;
- :mod:`~cluster_toolkit.store.tabular`: a Spotify-style audio-feature table imported as a store;
- :mod:`~cluster_toolkit.store.lyrics`: the ``lyrics`` table (sources, no-lyrics flags, lyric vectors).
"""

from cluster_toolkit.store.library_store import LibraryStore
from cluster_toolkit.store.protocol import Store

__all__ = ["LibraryStore", "Store"]
