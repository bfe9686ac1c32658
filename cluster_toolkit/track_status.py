"""The status of a track in the ``tracks`` table, and the time stamp its rows carry.

A module of its own (no pandas, no pyarrow) because the embedding workers write such rows too
(:mod:`cluster_toolkit.embed_workers`) and must start without importing the store.
"""

from __future__ import annotations

from datetime import UTC, datetime

STATUS_OK, STATUS_FAILED, STATUS_GONE = "ok", "failed", "gone"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
