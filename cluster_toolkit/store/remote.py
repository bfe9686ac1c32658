"""A library store on an object store (``s3://bucket/ctk``): the same tables and the same commit order as a
local store, written without renames.

An object appears whole or not at all: a ``PutObject`` (or a multipart upload, at its completion) is atomic
and S3 reads are strongly consistent, so each part is written once, straight to its final name, and the
temp-file-and-rename of a local store is not needed. What makes a batch visible is unchanged: its ``tracks``
part is written last and is the batch's commit record; readers ignore ``fragments``/``track_embeddings``
parts newer than the newest ``tracks`` part (a batch in flight, or one whose writer died), and the next
writer removes those (:meth:`LibraryStore.recover`). The lock is :class:`~.object_lock.ObjectStoreLock`
(create-only put + lease) instead of ``flock``. Side files that are not tables (runs' pictures,
``hdbscan.pkl``, the neighbour index cache) stay in a local cache folder (:func:`~.location.side_cache`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cluster_toolkit.errors import StoreError
from cluster_toolkit.store.library_store import LibraryStore, os_reason
from cluster_toolkit.store.location import WRITABLE_PROTOCOLS, protocol_of, side_cache
from cluster_toolkit.store.object_lock import ObjectStoreLock


class RemoteLibraryStore(LibraryStore):
    """A :class:`LibraryStore` whose ``root`` is a ``UPath`` of an fsspec filesystem (written on S3 only)."""

    root: Any

    @property
    def side_root(self) -> Path:
        return side_cache(str(self.root))

    def _new_lock(self, command: str, wait_s: float) -> ObjectStoreLock:
        protocol = protocol_of(str(self.root))
        if protocol not in WRITABLE_PROTOCOLS:
            raise StoreError(f"{self.root}: ctk writes libraries on local disks and s3:// only (its lock needs "
                             f"S3's create-only writes); {protocol}:// libraries are read-only")
        return ObjectStoreLock(self.root, command=command, wait_s=wait_s)

    def check_writable(self) -> None:
        """Nothing to probe: taking the lock object has just written into the library."""

    def _parts(self, name: str) -> list[Path]:
        self.root.fs.invalidate_cache((self.root / name).path)  # another process may have written since
        return super()._parts(name)

    # ------------------------------------------------------------------ objects: written once, whole
    def _atomic_write_bytes(self, dest: Any, data: bytes) -> None:
        try:
            dest.fs.pipe_file(dest.path, data)
        except OSError as exc:
            raise StoreError(f"{dest}: cannot write ({os_reason(exc)})") from exc

    def _atomic_write_parquet(self, dest: Any, table: pa.Table) -> None:
        try:
            with dest.fs.open(dest.path, "wb") as f:  # the object is created when the upload completes
                pq.write_table(table, f, compression="zstd")
        except OSError as exc:
            raise StoreError(f"{dest}: cannot write ({os_reason(exc)})") from exc

    def read_parquet(self, path: Any, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(path.path, columns=columns, filesystem=path.fs)

    def _read_frame(self, path: Any) -> pd.DataFrame:
        return pd.read_parquet(path.path, filesystem=path.fs)

    def parquet_schema(self, path: Any) -> pa.Schema:
        return pq.read_schema(path.path, filesystem=path.fs)

    def move_file(self, source: Any, dest: Any) -> None:
        source.fs.mv(source.path, dest.path)  # a copy, then the source's deletion
