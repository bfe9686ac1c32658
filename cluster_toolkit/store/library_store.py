"""The library store: one directory of Parquet tables per music collection.

Layout (see docs/store.md)::

    <root>/store.json                 format version, the model that made the embeddings
    <root>/tracks/part-NNNNNNNN.parquet          one row per track (id = content hash)
    <root>/fragments/part-NNNNNNNN.parquet       one row per fragment, with its embedding
    <root>/track_embeddings/part-NNNNNNNN.parquet  one pooled embedding per track
    <root>/<name>.parquet             derived tables (cluster runs, playlists...)

Every file is written to ``<root>/.tmp`` and renamed into place, so a reader never sees a
half-written file. ``ctk embed`` commits each batch as one part per table, ``tracks`` last:
a part of ``fragments``/``track_embeddings`` without its ``tracks`` part is an orphan from an
interrupted run and is removed when the store is next opened for writing. One process writes at a
time: every write holds the library's lock (:mod:`cluster_toolkit.store.lock`); commands hold it for
their whole run (:meth:`LibraryStore.writing`). Readers take no lock. Tables are plain
Parquet datasets: ``pandas.read_parquet(root / "tracks")`` or DuckDB's
``read_parquet('<root>/tracks/*.parquet')`` read them without ctk.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cluster_toolkit.errors import StoreError
from cluster_toolkit.store.location import is_remote, remote_root
from cluster_toolkit.store.lock import StoreLock
from cluster_toolkit.track_status import STATUS_FAILED, STATUS_GONE, STATUS_OK, now_iso  # noqa: F401 - re-exported

FORMAT_VERSION = 1
PART_TABLES = ("tracks", "fragments", "track_embeddings")

TRACK_SCHEMA = pa.schema(
    [
        ("track_id", pa.string()),
        ("path", pa.string()),
        ("size", pa.int64()),
        ("mtime", pa.float64()),
        ("etag", pa.string()),
        ("title", pa.string()),
        ("artist", pa.string()),
        ("album", pa.string()),
        ("isrc", pa.string()),
        ("genre", pa.string()),
        ("lyrics", pa.string()),
        ("duration_s", pa.float64()),
        ("source_sr", pa.int32()),
        ("channels", pa.int16()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("n_fragments", pa.int32()),
        ("analysed_at", pa.string()),
    ]
)
TRACK_COLUMNS = TRACK_SCHEMA.names
def os_reason(exc: OSError) -> str:
    """The operating system's words for ``exc`` ("No space left on device"), also when pyarrow wraps them."""
    match = re.search(r"\[errno (\d+)\]", str(exc))  # pyarrow: "Error writing bytes... [errno 28] ..."
    if match:
        return os.strerror(int(match.group(1)))
    return exc.strerror or str(exc)


def part_seq(path: Path) -> int:
    """The sequence number of a part file (``part-00000012.parquet`` -> 12): the order of commits."""
    return int(path.stem.split("-")[1])


def embedding_column(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """``(n, dim)`` float32 -> an Arrow ``fixed_size_list<float32>[dim]`` column."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])


def embedding_matrix(column: pa.ChunkedArray | pa.Array, dim: int) -> np.ndarray:
    """Inverse of :func:`embedding_column`: an ``(n, dim)`` float32 array."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], pa.list_(pa.float32(), dim))
    if len(column) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    return column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, dim)


_READ_ATTEMPTS = 5


def this_command() -> str:
    """The running command line, as the lock records it (``ctk embed ...`` for the CLI)."""
    argv = list(sys.argv) or ["python"]
    head = "ctk" if argv[0].endswith(("ctk", os.path.join("cli", "main.py"))) else Path(argv[0]).name
    return " ".join([head, *argv[1:]])[:300]


def _writes(method: Callable) -> Callable:
    """Run a write method under the library's lock (taken here unless the caller already holds it)."""

    @functools.wraps(method)
    def locked(self: LibraryStore, *args: Any, **kwargs: Any) -> Any:
        with self.writing():
            return method(self, *args, **kwargs)

    return locked


class LibraryStore:
    """A library store rooted at ``root``. Open it with :meth:`open`."""

    def __init__(self, root: Path, meta: dict[str, Any]) -> None:
        self.root = root
        self.meta = meta
        self._lock: StoreLock | None = None

    @property
    def side_root(self) -> Path:
        """The local folder of the store's side files (runs' pictures, ``hdbscan.pkl``, the neighbour index
        cache): the store's own folder here, a local cache folder for a remote store."""
        return self.root

    def _new_lock(self, command: str, wait_s: float) -> StoreLock:
        return StoreLock(self.root, command=command, wait_s=wait_s)

    # ------------------------------------------------------------------ the writer's lock
    @contextmanager
    def writing(self, command: str | None = None, *, wait_s: float = 0.0) -> Iterator[LibraryStore]:
        """Hold the library's exclusive writer lock for the block (re-entrant on this object).

        Raises :class:`StoreError` naming the holder when another process writes the library
        (after ``wait_s`` seconds of waiting), or when the library is not writable. On entry
        ``store.json`` is read again, so that the block sees what the previous writer left.
        """
        if self._lock is not None:  # already held by this object: the outer block releases it
            check = getattr(self._lock, "check", None)
            if check is not None:  # a lease-held lock (object stores) may have been lost meanwhile
                check()
            yield self
            return
        lock = self._new_lock(command or this_command(), wait_s)
        lock.acquire()
        self._lock = lock
        try:
            self.check_writable()  # the lock file may be writable in a folder that is not
            self._reload_meta()
            yield self
        finally:
            self._lock = None
            lock.release()

    def _reload_meta(self) -> None:
        meta_path = self.root / "store.json"
        if meta_path.is_file():
            try:
                self.meta = json.loads(meta_path.read_text())
            except (OSError, ValueError) as exc:
                raise StoreError(f"{meta_path}: unreadable store metadata ({exc})") from exc

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, root: str | Path, *, create: bool = False, lock_wait_s: float = 0.0) -> LibraryStore:
        """Open the store at ``root``; with ``create`` make it if missing (under the writer's lock, waiting
        up to ``lock_wait_s`` for it).

        Raises :class:`StoreError` if it is missing (and not ``create``), not a ctk store,
        of an unknown format, or not writable when it has to be created.
        """
        if is_remote(root):
            from cluster_toolkit.store.remote import RemoteLibraryStore

            if cls is LibraryStore:
                return RemoteLibraryStore.open(root, create=create, lock_wait_s=lock_wait_s)
            root = remote_root(str(root))
        else:
            root = Path(root).expanduser().absolute()
        meta_path = root / "store.json"
        if meta_path.is_file():
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError) as exc:
                raise StoreError(f"{meta_path}: unreadable store metadata ({exc})") from exc
            if meta.get("format") != FORMAT_VERSION:
                raise StoreError(
                    f"{root}: store format {meta.get('format')!r} is not supported by this ctk "
                    f"(expects {FORMAT_VERSION})"
                )
            return cls(root, meta)
        if not create:
            if root.exists():
                raise StoreError(f"{root}: not a ctk library (no store.json); run `ctk embed MUSIC_DIR` first")
            raise StoreError(f"{root}: no library here; run `ctk embed MUSIC_DIR --library {root}` first")
        try:
            if isinstance(root, Path):  # an object store's prefixes need no making (and no bucket is made)
                root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{root}: cannot create library ({exc.strerror or exc})") from exc
        store = cls(root, {"format": FORMAT_VERSION, "created_at": now_iso(), "model": None, "model_id": None})
        with store.writing(wait_s=lock_wait_s):
            if not meta_path.is_file():  # another writer may have created it while we waited
                try:
                    store.meta = {"format": FORMAT_VERSION, "created_at": now_iso(), "model": None, "model_id": None}
                    store._write_meta()
                except (OSError, StoreError) as exc:
                    cause = exc.__cause__ if isinstance(exc, StoreError) and exc.__cause__ is not None else exc
                    reason = getattr(cause, "strerror", None) or cause
                    raise StoreError(f"{root}: cannot create library ({reason})") from exc
        return store

    def check_writable(self) -> None:
        """Raise :class:`StoreError` unless files can be created in the store."""
        probe = self.root / f".write-test-{uuid.uuid4().hex[:8]}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"{self.root}: library is not writable ({exc.strerror or exc})") from exc

    # ------------------------------------------------------------------ atomic files
    def _tmp_path(self, suffix: str) -> Path:
        tmp = self.root / ".tmp"
        tmp.mkdir(exist_ok=True)
        return tmp / f"{uuid.uuid4().hex}{suffix}"

    def _atomic_write_bytes(self, dest: Path, data: bytes) -> None:
        try:
            tmp = self._tmp_path(dest.suffix)
        except OSError as exc:
            raise StoreError(f"{dest}: cannot write ({exc.strerror or exc})") from exc
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, dest)
        except OSError as exc:  # e.g. a full disk: the old file stays, no temp file is left
            tmp.unlink(missing_ok=True)
            raise StoreError(f"{dest}: cannot write ({exc.strerror or exc})") from exc

    def _atomic_write_parquet(self, dest: Path, table: pa.Table) -> None:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._tmp_path(".parquet")
        except OSError as exc:
            raise StoreError(f"{dest}: cannot write ({exc.strerror or exc})") from exc
        try:
            pq.write_table(table, tmp, compression="zstd")
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, dest)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"{dest}: cannot write ({os_reason(exc)})") from exc

    def _write_meta(self) -> None:
        self._atomic_write_bytes(self.root / "store.json", json.dumps(self.meta, indent=2, sort_keys=True).encode())

    # ------------------------------------------------------------------ model
    @property
    def model_id(self) -> str | None:
        return self.meta.get("model_id")

    @property
    def dim(self) -> int | None:
        return self.meta.get("dim")

    @_writes
    def set_model(self, description: dict[str, Any], model_id: str, dim: int, *, source: str = "audio") -> None:
        """Record the model whose vectors this store holds (a store holds one model's vectors)."""
        self.meta.update(model=description, model_id=model_id, dim=int(dim), source=source)
        self._write_meta()

    @_writes
    def update_meta(self, **values: Any) -> None:
        """Record more about the analysis in ``store.json`` (``fragment``: how tracks were cut, one layout
        per store; ``model_spec``: the ``--model`` that made the vectors, for ``ctk check --repair``)."""
        self.meta.update(values)
        self._write_meta()

    @_writes
    def clear_embeddings(self) -> None:
        """Forget every embedding and analysis result, keeping nothing but the metadata file."""
        for name in PART_TABLES:
            for part in self._parts(name):
                part.unlink()
        self.meta.update(model=None, model_id=None, dim=None)
        self.meta.pop("fragment", None)
        self.meta.pop("model_spec", None)
        self._write_meta()

    # ------------------------------------------------------------------ parts
    def parts(self, name: str) -> list[Path]:
        """The part files of table ``name`` (``tracks``, ``fragments``, ``track_embeddings``), oldest first."""
        return self._parts(name)

    def _parts(self, name: str) -> list[Path]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(folder.glob("part-*.parquet"), key=part_seq)

    def _next_seq(self) -> int:
        seqs = [part_seq(p) for name in PART_TABLES for p in self._parts(name)]
        return max(seqs, default=0) + 1

    @_writes
    def recover(self) -> int:
        """Remove leftovers of an interrupted run: temp files and orphan parts. Returns how many.

        ``tracks`` parts are written last, so a ``fragments``/``track_embeddings`` part newer than
        the newest ``tracks`` part belongs to a batch that never committed.
        """
        removed = 0
        tmp = self.root / ".tmp"
        if tmp.is_dir():
            for f in tmp.iterdir():
                f.unlink(missing_ok=True)
                removed += 1
        newest = max((part_seq(p) for p in self._parts("tracks")), default=0)
        for name in ("fragments", "track_embeddings"):
            for part in self._parts(name):
                if part_seq(part) > newest:
                    part.unlink()
                    removed += 1
        return removed

    @_writes
    def commit_batch(
        self,
        tracks: pd.DataFrame,
        track_embeddings: np.ndarray | None = None,
        fragments: pd.DataFrame | None = None,
        fragment_embeddings: np.ndarray | None = None,
    ) -> None:
        """Write one batch of newly analysed tracks as one part per table, ``tracks`` last."""
        if len(tracks) == 0:
            return
        name = f"part-{self._next_seq():08d}.parquet"
        if fragments is not None and fragment_embeddings is not None and len(fragments):
            table = pa.Table.from_pandas(fragments.reset_index(drop=True), preserve_index=False)
            table = table.append_column("embedding", embedding_column(fragment_embeddings))
            self._atomic_write_parquet(self.root / "fragments" / name, table)
        if track_embeddings is not None and len(track_embeddings):
            ok = tracks["status"].to_numpy() == STATUS_OK
            table = pa.table({"track_id": pa.array(tracks["track_id"][ok].tolist(), pa.string())})
            table = table.append_column("embedding", embedding_column(track_embeddings))
            self._atomic_write_parquet(self.root / "track_embeddings" / name, table)
        self._atomic_write_parquet(self.root / "tracks" / name, _tracks_table(tracks))

    @_writes
    def rewrite_part(self, part: Path, table: pa.Table) -> None:
        """Replace the part file ``part`` by ``table`` atomically, keeping its name (and so its place
        in the commit order); an empty table removes the part (``ctk check --repair``)."""
        if table.num_rows:
            self._atomic_write_parquet(part, table)
        else:
            part.unlink(missing_ok=True)

    def read_parquet(self, path: Path, columns: list[str] | None = None) -> pa.Table:
        """One Parquet file of the store (a part or a derived table) as an Arrow table."""
        return pq.read_table(path, columns=columns)

    def parquet_schema(self, path: Path) -> pa.Schema:
        """The schema in the footer of one Parquet file of the store."""
        return pq.read_schema(path)

    def move_file(self, source: Path, dest: Path) -> None:
        """Move one file of the store to ``dest`` (``ctk check --repair``'s quarantine)."""
        os.replace(source, dest)

    def _read_frame(self, path: Path) -> pd.DataFrame:
        return pd.read_parquet(path)

    def _committed_parts(self, name: str) -> list[Path]:
        """The parts of ``name`` that belong to committed batches: a ``fragments``/``track_embeddings`` part
        newer than the newest ``tracks`` part is a batch still being written (or never finished)."""
        parts = self._parts(name)
        if name == "tracks" or not parts:
            return parts
        newest = max((part_seq(p) for p in self._parts("tracks")), default=0)
        return [p for p in parts if part_seq(p) <= newest]

    def _read_parts(self, name: str, columns: list[str] | None = None) -> pa.Table | None:
        for attempt in range(_READ_ATTEMPTS):
            parts = self._committed_parts(name)
            if not parts:
                return None
            try:
                tables = []
                for p in parts:
                    table = self.read_parquet(p, columns=columns)
                    seq = np.full(table.num_rows, part_seq(p), dtype=np.int64)
                    tables.append(table.append_column("_seq", pa.array(seq)))
            except FileNotFoundError:
                if attempt + 1 < _READ_ATTEMPTS:
                    continue  # a writer merged parts while we read: list them again
                raise StoreError(f"{self.root / name}: parts keep vanishing while being read") from None
            except (OSError, pa.ArrowException) as exc:
                raise StoreError(
                    f"{p}: unreadable part ({exc}); run `ctk check --library {self.root} --repair`"
                ) from exc
            return pa.concat_tables(tables, promote_options="default")
        return None

    # ------------------------------------------------------------------ tracks
    def all_tracks(self) -> pd.DataFrame:
        """Every track row (ok, failed and gone), the newest row per ``track_id``."""
        table = self._read_parts("tracks")
        if table is None:
            return _tracks_table(pd.DataFrame(columns=TRACK_COLUMNS)).to_pandas()
        df = table.to_pandas()
        df = df.sort_values("_seq", kind="stable").drop_duplicates("track_id", keep="last")
        for name in TRACK_COLUMNS:  # a column added since older parts were written (etag)
            if name not in df:
                df[name] = None
        return df.drop(columns="_seq").reset_index(drop=True)

    def tracks(self, *, include_gone: bool = False, include_failed: bool = False) -> pd.DataFrame:
        """Track rows, by default only the ``ok`` ones, ordered by path."""
        df = self.all_tracks()
        keep = df["status"] == STATUS_OK
        if include_gone:
            keep |= df["status"] == STATUS_GONE
        if include_failed:
            keep |= df["status"] == STATUS_FAILED
        return df[keep].sort_values("path", kind="stable").reset_index(drop=True)

    @_writes
    def replace_tracks(self, tracks: pd.DataFrame) -> None:
        """Rewrite the whole ``tracks`` table as one part (moves, gone marks, compaction).

        The new part is written before the old ones are removed; should a crash fall in
        between, readers keep the newest row per track id.
        """
        old = self._parts("tracks")
        name = f"part-{self._next_seq():08d}.parquet"
        self._atomic_write_parquet(self.root / "tracks" / name, _tracks_table(tracks))
        for part in old:
            part.unlink()

    @_writes
    def compact(self) -> None:
        """Merge the parts of ``tracks`` and ``track_embeddings`` into one part each.

        ``fragments`` parts (the bulk of the store) are left as they are.
        """
        if len(self._parts("tracks")) <= 1 and len(self._parts("track_embeddings")) <= 1:
            return
        ids, matrix = self._read_track_embeddings()
        old = self._parts("track_embeddings")
        if ids:
            table = pa.table({"track_id": pa.array(ids, pa.string())})
            table = table.append_column("embedding", embedding_column(matrix))
            self._atomic_write_parquet(self.root / "track_embeddings" / f"part-{self._next_seq():08d}.parquet", table)
        self.replace_tracks(self.all_tracks())  # commits the merged embeddings part
        for part in old:
            part.unlink()

    # ------------------------------------------------------------------ embeddings
    def _read_track_embeddings(self) -> tuple[list[str], np.ndarray]:
        dim = self.dim or 0
        table = self._read_parts("track_embeddings")
        if table is None or dim == 0:
            return [], np.zeros((0, dim), dtype=np.float32)
        ids = table.column("track_id").to_pylist()
        matrix = embedding_matrix(table.column("embedding"), dim)
        # newest vector per id wins
        last = {tid: i for i, tid in enumerate(ids)}
        rows = np.fromiter(last.values(), dtype=np.int64, count=len(last))
        return list(last.keys()), matrix[rows]

    def track_embeddings(self) -> tuple[pd.DataFrame, np.ndarray]:
        """The ``ok`` tracks (ordered by path) and their pooled embeddings ``(n, dim)``, rows aligned."""
        tracks = self.tracks()
        ids, matrix = self._read_track_embeddings()
        index = {tid: i for i, tid in enumerate(ids)}
        rows = [index.get(t, -1) for t in tracks["track_id"]]
        have = np.array([r >= 0 for r in rows], dtype=bool)
        tracks = tracks[have].reset_index(drop=True)
        if not have.any():
            return tracks, np.zeros((0, self.dim or 0), dtype=np.float32)
        return tracks, matrix[np.array([r for r in rows if r >= 0], dtype=np.int64)]

    def fragment_embeddings(self, track_ids: Iterable[str] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Fragments (``track_id, fragment_index, start_s, split``) of ``ok`` tracks and their embeddings."""
        dim = self.dim or 0
        wanted = set(self.tracks()["track_id"]) if track_ids is None else set(track_ids)
        for attempt in range(_READ_ATTEMPTS):
            try:
                frames, mats = self._read_fragment_parts(wanted, dim)
                break
            except FileNotFoundError:
                if attempt + 1 == _READ_ATTEMPTS:
                    raise StoreError(f"{self.root / 'fragments'}: parts keep vanishing while being read") from None
        if not frames:
            cols = ["track_id", "fragment_index", "start_s", "split"]
            return pd.DataFrame(columns=cols), np.zeros((0, dim), dtype=np.float32)
        df = pd.concat(frames, ignore_index=True)
        matrix = np.concatenate(mats)
        # a track analysed twice (a repair, or an old store written by two writers at once) keeps
        # only the fragments of its newest part
        seq = df.pop("_seq").to_numpy()
        newest = pd.Series(seq).groupby(df["track_id"].to_numpy()).transform("max").to_numpy()
        keep = seq == newest
        df, matrix = df[keep].reset_index(drop=True), matrix[keep]
        order = np.lexsort((df["fragment_index"].to_numpy(), df["track_id"].to_numpy()))
        return df.iloc[order].reset_index(drop=True), matrix[order]

    def _read_fragment_parts(self, wanted: set[str], dim: int) -> tuple[list[pd.DataFrame], list[np.ndarray]]:
        frames, mats = [], []
        wanted_ids = pa.array(sorted(wanted), pa.string())
        for part in self._committed_parts("fragments"):
            try:
                table = self.read_parquet(part)
            except FileNotFoundError:
                raise
            except (OSError, pa.ArrowException) as exc:
                raise StoreError(
                    f"{part}: unreadable part ({exc}); run `ctk check --library {self.root} --repair`"
                ) from exc
            mask = pc.is_in(table.column("track_id"), value_set=wanted_ids)  # hashed: fast on 100k+ fragments
            if not pc.any(mask).as_py():
                continue
            table = table.filter(mask)
            mats.append(embedding_matrix(table.column("embedding"), dim))
            frame = table.drop_columns(["embedding"]).to_pandas()
            frame["_seq"] = part_seq(part)
            frames.append(frame)
        return frames, mats

    @_writes
    def import_tabular(self, tracks: pd.DataFrame, embeddings: np.ndarray, description: dict[str, Any]) -> None:
        """Replace the store's content by a feature table (one vector per track, no audio)."""
        from embeddings.backends.base import model_id

        if len(tracks) != len(embeddings):
            raise StoreError(f"{len(tracks)} tracks but {len(embeddings)} embedding rows")
        self.clear_embeddings()
        self.set_model(description, model_id(description), embeddings.shape[1], source="tabular")
        rows = tracks.copy()
        for col in TRACK_COLUMNS:
            if col not in rows:
                rows[col] = None
        rows["status"] = STATUS_OK
        rows["analysed_at"] = now_iso()
        self.commit_batch(rows[TRACK_COLUMNS], track_embeddings=np.asarray(embeddings, dtype=np.float32))

    # ------------------------------------------------------------------ derived tables
    @_writes
    def write_table(self, name: str, df: pd.DataFrame) -> Path:
        """Atomically write a derived table to ``<root>/<name>.parquet``."""
        if name in PART_TABLES or not name.replace("_", "").isalnum():
            raise StoreError(f"table name {name!r} is reserved or not a plain identifier")
        dest = self.root / f"{name}.parquet"
        self._atomic_write_parquet(dest, pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False))
        return dest

    def table_names(self) -> list[str]:
        """The derived tables present (``cluster_runs``, ``cluster_labels``, ``playlists``...), sorted."""
        return sorted(p.stem for p in self.root.glob("*.parquet"))

    def has_table(self, name: str) -> bool:
        return (self.root / f"{name}.parquet").is_file()

    def read_table(self, name: str) -> pd.DataFrame:
        path = self.root / f"{name}.parquet"
        if not path.is_file():
            raise StoreError(f"{self.root}: no table {name!r} in this library")
        try:
            return self._read_frame(path)
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(f"{path}: unreadable table ({exc})") from exc


def _tracks_table(df: pd.DataFrame) -> pa.Table:
    df = df.reindex(columns=TRACK_COLUMNS)
    arrays = []
    for field in TRACK_SCHEMA:
        col = df[field.name]
        if pa.types.is_string(field.type):
            values = [None if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v) for v in col]
            arrays.append(pa.array(values, field.type))
        else:
            arrays.append(pa.array(pd.to_numeric(col, errors="coerce"), field.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=TRACK_SCHEMA)
