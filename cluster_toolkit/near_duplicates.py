"""The near-duplicate threshold of each embedding model, calibrated on real music.

Two embeddings closer than the threshold (cosine distance) are taken to be the same recording, and a
playlist keeps only one of them (:class:`playlists.rules.PlaylistRules`). How close "the same recording" is
depends on the model: a fixed 0.01 caught re-encoded copies but also threw out genuine tracks of the same
soundtrack for ctk-small, halving playlist precision. So each model's threshold is measured by
``bench/near_duplicates.py`` (re-encoded copies of held-out tracks against distinct tracks of one
soundtrack; see docs/BENCHMARKS.md) and stored here, in ``near_duplicates.json``, under the model's id
(``LibraryStore.model_id``, e.g. ``ctk-small-842ec8acedda``). New weights get a new id: rerun the bench with
``--write`` for them.

An entry may hold ``dims``: the rule then compares only the first ``dims`` dimensions of the track vectors
(``hybrid+std`` is judged on its mean blocks: its spread block says how a track varies, not which recording
it is, and makes every steady synthetic tone look alike).

A model without a calibration (your own ``ctk train`` checkpoint, new weights not yet measured) falls back to
:data:`FALLBACK_DISTANCE`, with a notice saying so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CALIBRATION_FILE = Path(__file__).with_name("near_duplicates.json")
FALLBACK_DISTANCE = 0.001


def calibrations(path: Path | None = None) -> dict[str, Any]:
    """Every stored calibration, by model id (empty when the file is missing)."""
    path = path or CALIBRATION_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def near_duplicate_distance(model_id: str | None, *, path: Path | None = None) -> tuple[float, str | None]:
    """The calibrated threshold of ``model_id`` and ``None``, or the fallback and a notice saying so."""
    entry = calibrations(path).get(model_id or "")
    if entry is not None:
        return float(entry["cosine_distance"]), None
    return FALLBACK_DISTANCE, (
        f"the near-duplicate threshold of model {model_id!r} is not calibrated; using {FALLBACK_DISTANCE} "
        "(run bench/near_duplicates.py --model ... --write to measure it)"
    )


def near_duplicate_dims(model_id: str | None, *, path: Path | None = None) -> int:
    """How many leading dimensions the rule of ``model_id`` compares (0: all; also for uncalibrated models)."""
    entry = calibrations(path).get(model_id or "")
    return int(entry.get("dims") or 0) if entry is not None else 0


def write_calibration(model_id: str, distance: float, details: dict[str, Any], *,
                      path: Path | None = None) -> Path:
    """Store (or replace) the threshold of ``model_id``; returns the file."""
    path = path or CALIBRATION_FILE
    table = calibrations(path)
    table[model_id] = {"cosine_distance": round(float(distance), 6), **details}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
