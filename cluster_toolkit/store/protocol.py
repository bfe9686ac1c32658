"""What the code built on a store (clustering runs, pictures, evaluation, imports, saved playlists) asks of it.

:class:`~cluster_toolkit.store.library_store.LibraryStore` is the one implementation; the protocol names the
part of it those modules use, so a reader sees what they depend on and a test can hand them something else.
Writers, repair and the embedding pipeline use ``LibraryStore`` itself (parts, batches, the lock).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@runtime_checkable
class Store(Protocol):
    """A library store: track rows, their vectors and derived Parquet tables in a folder ``root``."""

    root: Path  # for a library on S3, a ``UPath`` (pathlib's API over fsspec): ``/``, ``glob``, ``is_file``...
    meta: dict[str, Any]  # store.json: model, source ("audio"/"tabular"), fragment layout...

    @property
    def model_id(self) -> str | None: ...

    @property
    def dim(self) -> int | None: ...

    def writing(self, command: str | None = None, *, wait_s: float = 0.0) -> AbstractContextManager[Any]:
        """Hold the writer's lock for a read-modify-write block."""
        ...

    def tracks(self, *, include_gone: bool = False, include_failed: bool = False) -> pd.DataFrame: ...

    def track_embeddings(self) -> tuple[pd.DataFrame, np.ndarray]:
        """The ``ok`` tracks and their pooled vectors ``(n, dim)``, rows aligned."""
        ...

    def fragment_embeddings(self, track_ids: Iterable[str] | None = None) -> tuple[pd.DataFrame, np.ndarray]: ...

    def import_tabular(self, tracks: pd.DataFrame, embeddings: np.ndarray, description: dict[str, Any]) -> None: ...

    def table_names(self) -> list[str]:
        """The derived tables present (``cluster_runs``, ``playlists``...), sorted."""
        ...

    def has_table(self, name: str) -> bool: ...

    def read_table(self, name: str) -> pd.DataFrame: ...

    def write_table(self, name: str, df: pd.DataFrame) -> Path: ...


def side_folder(store: Store) -> Path:
    """The local folder of ``store``'s side files (runs' pictures, ``hdbscan.pkl``, the neighbour index cache):
    the store's own folder, or a local cache folder when the store is remote (``LibraryStore.side_root``)."""
    return Path(getattr(store, "side_root", store.root))
