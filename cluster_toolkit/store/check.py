"""``check_store``: does the library hold what its ``tracks`` table says? And the repairs of the store's files.

What is checked (``ctk check``; ``ctk embed`` runs the cheap form at its start):

- every part of ``tracks``, ``fragments`` and ``track_embeddings`` opens and has the columns (and the
  embedding width) it should; the deep form decodes every page, the cheap one reads the footers and
  the id columns only;
- uncommitted parts (a ``fragments``/``track_embeddings`` part newer than the newest ``tracks`` part);
- every ``ok`` track has its pooled vector and exactly ``n_fragments`` fragment rows (those of the
  newest part that holds the track);
- orphan rows (vectors of a track the ``tracks`` table does not know) and superseded rows (a track's
  fragments in an older part than its newest one, e.g. left by two writers at once before the lock).

Repairs (:func:`repair_store_files`, with the writer's lock held): unreadable parts are moved to
``<library>/.quarantine/`` (never deleted), uncommitted parts removed, orphan and superseded rows
dropped by rewriting their parts. Tracks left without vectors are analysed again by the caller
(:func:`cluster_toolkit.ingest.repair_library`, ``ctk embed``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cluster_toolkit.store.library_store import PART_TABLES, STATUS_OK, LibraryStore, part_seq

QUARANTINE = ".quarantine"
# what readers cannot do without (older parts may lack newer optional columns: readers fill them in)
_REQUIRED = {
    "tracks": {"track_id", "path", "status"},
    "fragments": {"track_id", "fragment_index", "start_s", "split", "embedding"},
    "track_embeddings": {"track_id", "embedding"},
}


@dataclass(frozen=True)
class StoreProblem:
    """One thing wrong with the store: its kind, where (a part or a track), and what."""

    kind: str
    where: str
    detail: str


@dataclass
class CheckReport:
    """What :func:`check_store` found."""

    library: str
    parts: int = 0
    tracks_ok: int = 0
    problems: list[StoreProblem] = field(default_factory=list)
    unreadable_parts: list[Path] = field(default_factory=list)
    uncommitted_parts: list[Path] = field(default_factory=list)
    #: ``ok`` tracks missing their pooled vector or some of their fragments: to analyse again
    tracks_without_vectors: list[str] = field(default_factory=list)
    #: rows to drop per part: of tracks the tracks table does not know, or superseded by a newer part
    stale_rows: dict[Path, int] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return not self.problems


def check_store(store: LibraryStore, *, deep: bool = True) -> CheckReport:
    """Check the store's parts and their agreement with the ``tracks`` table (see the module doc).

    ``deep`` reads every column of every part; otherwise only footers and id columns are read.
    Never raises for a damaged part: it becomes a problem in the report.
    """
    report = CheckReport(library=str(store.root))
    dim = store.dim
    readable: dict[str, list[tuple[Path, pa.Table]]] = {name: [] for name in PART_TABLES}
    id_columns = {"tracks": None, "fragments": ["track_id", "fragment_index"], "track_embeddings": ["track_id"]}
    for name in PART_TABLES:
        for part in store.parts(name):
            report.parts += 1
            try:
                schema = store.parquet_schema(part)
                missing = _REQUIRED[name] - set(schema.names)
                if missing:
                    raise ValueError(f"missing columns {sorted(missing)}")
                if "embedding" in schema.names and dim is not None:
                    etype = schema.field("embedding").type
                    if not pa.types.is_fixed_size_list(etype) or etype.list_size != dim:
                        raise ValueError(f"embedding type {etype}, the store's dim is {dim}")
                table = store.read_parquet(part, columns=None if deep else id_columns[name])
            except (OSError, ValueError, pa.ArrowException) as exc:
                report.unreadable_parts.append(part)
                report.problems.append(StoreProblem("unreadable part", str(part), _one_line(exc)))
                continue
            readable[name].append((part, table))

    tracks_parts = [part_seq(p) for p in store.parts("tracks")]
    newest_tracks = max(tracks_parts, default=0)
    for name in ("fragments", "track_embeddings"):
        for part in store.parts(name):
            if part_seq(part) > newest_tracks:
                report.uncommitted_parts.append(part)
                report.problems.append(
                    StoreProblem("uncommitted part", str(part), "written by a run that never committed its tracks")
                )

    # the tracks table as readers see it: newest row per track id, over the readable parts
    status: dict[str, str] = {}
    n_fragments: dict[str, int] = {}
    paths: dict[str, str] = {}
    for _, table in readable["tracks"]:
        cols = table.select(["track_id", "status", "path"]).to_pydict()
        counts = table.column("n_fragments").to_pylist() if "n_fragments" in table.column_names else None
        for i, (tid, st, path) in enumerate(zip(cols["track_id"], cols["status"], cols["path"])):
            status[tid], paths[tid] = st, path
            nf = counts[i] if counts is not None else None
            if nf is None:
                n_fragments.pop(tid, None)  # not recorded: the fragment count is not checked
            else:
                n_fragments[tid] = nf
    ok = {tid for tid, st in status.items() if st == STATUS_OK}
    report.tracks_ok = len(ok)

    committed = [(p, t) for p, t in readable["fragments"] if p not in report.uncommitted_parts]
    newest_part: dict[str, int] = {}
    per_part_counts: list[tuple[Path, Counter]] = []
    for part, table in committed:
        counts = Counter(table.column("track_id").to_pylist())
        per_part_counts.append((part, counts))
        for tid in counts:
            newest_part[tid] = max(newest_part.get(tid, 0), part_seq(part))
        if deep and dim:
            values = pc.list_flatten(table.column("embedding"))
            if len(values) and not np.isfinite(values.to_numpy(zero_copy_only=False)).all():
                report.problems.append(StoreProblem("non-finite vectors", str(part), "NaN or inf in embeddings"))
    have_fragments: Counter = Counter()
    for part, counts in per_part_counts:
        stale = 0
        for tid, n in counts.items():
            if tid not in status or newest_part[tid] != part_seq(part):
                stale += n
            else:
                have_fragments[tid] += n
        if stale:
            report.stale_rows[part] = stale
            report.problems.append(
                StoreProblem("stale rows", str(part), f"{stale} fragment rows of unknown or re-analysed tracks")
            )

    vectors: set[str] = set()
    for part, table in readable["track_embeddings"]:
        if part in report.uncommitted_parts:
            continue
        ids = table.column("track_id").to_pylist()
        vectors.update(ids)
        unknown = sum(tid not in status for tid in ids)
        if unknown:
            report.stale_rows[part] = unknown
            report.problems.append(StoreProblem("stale rows", str(part), f"{unknown} vectors of unknown tracks"))

    lost = []
    for tid in sorted(ok):
        reasons = []
        if tid not in vectors:
            reasons.append("no pooled vector")
        if tid in n_fragments and have_fragments[tid] != n_fragments[tid]:
            reasons.append(f"{have_fragments[tid]} of {n_fragments[tid]} fragment rows")
        if reasons:
            lost.append(tid)
            report.problems.append(StoreProblem("track without vectors", paths[tid], "; ".join(reasons)))
    report.tracks_without_vectors = lost
    return report


def quarantine_unreadable(store: LibraryStore, report: CheckReport) -> list[Path]:
    """Move the report's unreadable parts to ``<library>/.quarantine/`` (the caller holds the lock)."""
    moved = []
    if not report.unreadable_parts:
        return moved
    folder = store.root / QUARANTINE
    folder.mkdir(exist_ok=True)
    for part in report.unreadable_parts:
        dest = folder / f"{part.parent.name}-{part.name}"
        if part.exists():
            store.move_file(part, dest)
            moved.append(dest)
    return moved


def repair_store_files(store: LibraryStore, report: CheckReport) -> dict[str, int]:
    """Set aside unreadable parts, remove uncommitted ones, drop stale rows. Returns counts of each.

    Holds the writer's lock. Tracks left without vectors are not analysed here (that needs audio).
    """
    with store.writing():
        counts = {"quarantined": len(quarantine_unreadable(store, report)), "uncommitted": 0, "stale_rows": 0}
        for part in report.uncommitted_parts:
            if part.exists():
                part.unlink()
                counts["uncommitted"] += 1
        keep_ids = _current_fragment_owners(store)
        known = set(store.all_tracks()["track_id"])
        for part in report.stale_rows:
            if not part.exists():
                continue
            table = store.read_parquet(part)
            ids = np.asarray(table.column("track_id").to_pylist(), dtype=object)
            if part.parent.name == "fragments":
                seq = part_seq(part)
                keep = np.array([tid in known and keep_ids.get(tid) == seq for tid in ids], dtype=bool)
            else:
                keep = np.isin(ids, list(known))
            counts["stale_rows"] += int((~keep).sum())
            store.rewrite_part(part, table.filter(pa.array(keep)))
    return counts


def _current_fragment_owners(store: LibraryStore) -> dict[str, int]:
    """For each track id, the sequence number of the newest fragments part holding it."""
    owners: dict[str, int] = defaultdict(int)
    for part in store.parts("fragments"):
        for tid in set(store.read_parquet(part, columns=["track_id"]).column("track_id").to_pylist()):
            owners[tid] = max(owners[tid], part_seq(part))
    return owners


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
