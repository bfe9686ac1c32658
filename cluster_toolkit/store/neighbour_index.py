"""The fragment neighbour index kept beside the store, so large libraries are searched without a rebuild.

``ctk similar`` and ``ctk recommend`` rank every fragment of the library by inner product with a query
(:mod:`playlists.recommend`). Up to ``exact_max`` fragments (:data:`STORE_INDEX`: 200,000, about 20,000 tracks
at ``ctk embed``'s default 10 fragments each) the search is exact and in memory, built per command exactly as
before (``faiss.IndexFlatIP``: nothing to build, ~50 ms a query at that size), and nothing is written. Above
it the index is IVF (:class:`playlists.neighbours.NeighbourIndex`: ``4 sqrt(n)`` lists, ``nprobe`` measured
for recall@10 >= 0.95), whose k-means training costs minutes at a million fragments, so it is built once and
kept in ``<library>/index/fragments.npz``: the serialised faiss index, the id of every fragment in it and what
it was built from (model id, dimension, fragment layout, index settings).

Each fragment's id is a 63-bit hash of ``(track_id, fragment_index)``. When a command opens the index it
compares the stored ids with the store's fragments: a different model, dimension, layout or settings, or
an unreadable file, means a rebuild; otherwise the new fragments are added and those of removed tracks
removed (the IVF lists keep their trained centroids), and ``nprobe`` is measured again. When more than
half of the index would change, it is rebuilt instead, since the lists were trained on other data. The
file is replaced atomically (written under the store's ``.tmp/``, then renamed), so a reader sees the old or
the new index, never half of one; two commands updating at once both write a valid index of the same store.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cluster_toolkit.store.protocol import side_folder
from playlists.errors import PlaylistError
from playlists.neighbours import IndexConfig, NeighbourIndex, RowIndex, calibrate_nprobe
from playlists.projection import l2_normalise

if TYPE_CHECKING:
    from cluster_toolkit.store import LibraryStore

FORMAT = 1
INDEX_FILE = Path("index") / "fragments.npz"
STORE_INDEX = IndexConfig(exact_max=200_000)
REBUILD_SHARE = 0.5  # rebuild rather than update when more than this share of the index changes
_MASK = np.uint64((1 << 63) - 1)
_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class IndexReport:
    """What opening the index did.

    Attributes:
        status: ``"exact"`` (in memory, nothing stored), ``"loaded"``, ``"updated"`` or ``"built"``.
        kind: the index kind; ``n``: fragments in it.
        added, removed: fragments added and removed by an update.
        nprobe, recall_at_10: IVF settings and the recall measured with them.
        path: the stored file (None when exact).
        reason: why it was (re)built, or why it could not be saved.
        saved: the file was written by this call.
    """

    status: str
    kind: str
    n: int
    added: int = 0
    removed: int = 0
    nprobe: int | None = None
    recall_at_10: float | None = None
    path: Path | None = None
    reason: str | None = None
    saved: bool = False


def fragment_ids(fragments: pd.DataFrame) -> np.ndarray:
    """A stable 63-bit id for each fragment row: a hash of its ``track_id`` mixed with its ``fragment_index``."""
    codes, uniques = pd.factorize(fragments["track_id"].astype(str), sort=False)
    track_hash = np.array(
        [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") for t in uniques],
        dtype=np.uint64,
    )
    index = fragments["fragment_index"].to_numpy(dtype=np.uint64) if "fragment_index" in fragments else 0
    with np.errstate(over="ignore"):
        mixed = track_hash[codes] ^ ((np.asarray(index, dtype=np.uint64) + np.uint64(1)) * _MIX)
    return (mixed & _MASK).astype(np.int64)


def _signature(store: LibraryStore, config: IndexConfig) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "model_id": store.model_id,
        "dim": store.dim,
        "fragment": store.meta.get("fragment"),
        "approximate": config.approximate,
        "nlist": config.nlist,
        "nprobe": config.nprobe,
        "target_recall": config.target_recall,
    }


def _read(path: Path) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["meta"])), data["ids"], data["index"]


def _write(root: Path, path: Path, meta: dict[str, Any], ids: np.ndarray, index: NeighbourIndex) -> None:
    """Written under the store's ``.tmp/`` (cleared by its recovery), fsynced, then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    (root / ".tmp").mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="fragments-index-", suffix=".npz", dir=root / ".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta, sort_keys=True)), ids=ids, index=index.to_bytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def open_fragment_index(
    store: LibraryStore,
    fragments: pd.DataFrame,
    vectors: np.ndarray,
    *,
    config: IndexConfig | None = None,
    save: bool = True,
) -> tuple[NeighbourIndex | RowIndex, IndexReport]:
    """The neighbour index over ``fragments`` (rows aligned with ``vectors``), from the stored file when it
    is current, updated when tracks came or went, built when missing or stale (module docstring).

    Args:
        store: the library the fragments come from (its folder holds the file; its model is the key).
        fragments: fragment table (``track_id``, ``fragment_index``), as :func:`load_fragments` gives it.
        vectors: ``(n, dim)`` fragment vectors (normalised here).
        config: index settings (default :data:`STORE_INDEX`); ``exact_max`` is the size from which the
            index is stored.
        save: write the built or updated index (a read-only library is searched all the same).

    Returns:
        ``(index, report)``: the index answers searches with rows of ``fragments`` (what
        :func:`playlists.recommend.recommend` takes as ``index=``).
    """
    config = STORE_INDEX if config is None else config
    x = l2_normalise(vectors)
    if x.ndim != 2 or x.shape[0] != len(fragments):
        raise PlaylistError(f"fragment vectors {x.shape} do not align with {len(fragments)} fragments")
    path = side_folder(store) / INDEX_FILE
    n = x.shape[0]
    if config.kind_for(n) == "exact":
        reason = None
        if save and path.exists():  # the library shrank below the threshold: the stored index is stale
            try:
                path.unlink()
                reason = f"removed the stored index {path}: {n} fragments are searched exactly"
            except OSError:
                pass
        return NeighbourIndex(x, IndexConfig(kind="exact")), IndexReport("exact", "exact", n, reason=reason)
    ids = fragment_ids(fragments)
    if np.unique(ids).size != n:  # a hash collision (about 1e-6 at 5M fragments): no ids, no file
        index = NeighbourIndex(x, config)
        return index, IndexReport("built", index.kind, n, nprobe=index.nprobe, recall_at_10=index.recall_at_10,
                                  reason="fragment ids collide; built in memory, not stored")
    signature = _signature(store, config)
    index, reason, added, removed = None, None, 0, 0
    if not path.exists():
        reason = "no stored index"
    else:
        try:
            meta, stored_ids, data = _read(path)
        except (OSError, ValueError, KeyError) as exc:
            reason = f"unreadable stored index ({type(exc).__name__})"
        else:
            changed = {key: (meta.get(key), value) for key, value in signature.items() if meta.get(key) != value}
            if changed:
                reason = "stale: " + ", ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in changed.items())
            else:
                new_rows = np.flatnonzero(~np.isin(ids, stored_ids))
                gone = stored_ids[~np.isin(stored_ids, ids)]
                added, removed = int(new_rows.size), int(gone.size)
                if added + removed > REBUILD_SHARE * max(stored_ids.size, 1):
                    reason = f"{added} fragments added and {removed} removed: more than half of the index"
                else:
                    try:
                        index = NeighbourIndex.from_bytes(data, meta["index"], config)
                    except (RuntimeError, KeyError, PlaylistError) as exc:
                        reason = f"unreadable stored index ({exc})"
                    else:
                        if removed and index.kind == "hnsw":  # faiss's HNSW cannot remove vectors
                            index, reason = None, f"{removed} fragments removed from an HNSW index, which cannot remove"
                        elif removed:
                            index.remove(gone)
                        if index is not None and added:
                            index.add(x[new_rows], ids[new_rows])
                        if index is not None and (added or removed) and config.nprobe is None and index.kind == "ivf":
                            index.nprobe, index.recall_at_10 = calibrate_nprobe(index, x, ids=ids)
    status = "loaded" if index is not None and not (added or removed) else "updated" if index is not None else "built"
    if index is None:
        added = removed = 0
        index = NeighbourIndex(x, config, ids=ids)
    saved = False
    if save and status != "loaded":
        try:
            _write(side_folder(store), path, {**signature, "index": index.describe(), "n": n}, ids, index)
            saved = True
        except OSError as exc:
            reason = f"{reason + '; ' if reason else ''}not saved: {path}: {exc.strerror or exc}"
    report = IndexReport(status, index.kind, n, added, removed, index.nprobe, index.recall_at_10, path, reason, saved)
    return RowIndex(index, ids), report
