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

How close two copies of one recording come also depends on the fragments a library was cut into, so a
calibration belongs to a model *and* a fragment length: the key is the model id for 10 s fragments (every entry
measured before the length was part of the key) and ``<model id>@<n>s`` for others (``@5s``: the default of a new
library). A library whose length has no entry of its own uses its model's 10 s entry, with a notice.

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


#: The fragment length of every calibration whose key is the bare model id.
BASE_SECONDS = 10.0


def calibration_key(model_id: str, n_seconds: float | None = None) -> str:
    """The table key of ``model_id`` on fragments of ``n_seconds`` (``None``: 10 s)."""
    if n_seconds is None or float(n_seconds) == BASE_SECONDS:
        return model_id
    return f"{model_id}@{float(n_seconds):g}s"


def fragment_seconds(meta: dict[str, Any]) -> float | None:
    """The fragment length a library's ``store.json`` (``meta``) records; ``None`` when it records none."""
    fragment = meta.get("fragment")
    try:
        return float(fragment["n_seconds"]) if isinstance(fragment, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def _entry(model_id: str | None, n_seconds: float | None, path: Path | None) -> tuple[dict | None, str | None]:
    """The calibration of ``model_id`` at ``n_seconds`` (or at 10 s, with a notice saying so), or ``None``."""
    table, model_id = calibrations(path), model_id or ""
    key = calibration_key(model_id, n_seconds)
    if key in table:
        return table[key], None
    if model_id in table:
        return table[model_id], (
            f"the near-duplicate threshold of model {model_id!r} was calibrated on {BASE_SECONDS:g} s fragments, "
            f"this library's are {float(n_seconds):g} s (run bench/near_duplicates.py --n-seconds "
            f"{float(n_seconds):g} ... --write to measure it)"
        )
    return None, None


def near_duplicate_rule(model_id: str | None, *, n_seconds: float | None = None,
                        path: Path | None = None) -> tuple[float, int, str | None]:
    """The rule of ``model_id`` on fragments of ``n_seconds``, from one read of the table: its calibrated threshold,
    the leading dimensions it compares (0: all) and ``None``; its 10 s rule and a notice when that length has none;
    or the fallback, all dimensions and a notice saying so."""
    entry, notice = _entry(model_id, n_seconds, path)
    if entry is not None:
        return float(entry["cosine_distance"]), int(entry.get("dims") or 0), notice
    return FALLBACK_DISTANCE, 0, (
        f"the near-duplicate threshold of model {model_id!r} is not calibrated; using {FALLBACK_DISTANCE} "
        "(run bench/near_duplicates.py --model ... --write to measure it)"
    )


def near_duplicate_distance(model_id: str | None, *, n_seconds: float | None = None,
                            path: Path | None = None) -> tuple[float, str | None]:
    """The threshold and notice of :func:`near_duplicate_rule`."""
    distance, _, notice = near_duplicate_rule(model_id, n_seconds=n_seconds, path=path)
    return distance, notice


def near_duplicate_dims(model_id: str | None, *, n_seconds: float | None = None, path: Path | None = None) -> int:
    """How many leading dimensions the rule of ``model_id`` compares (0: all; also for uncalibrated models)."""
    return near_duplicate_rule(model_id, n_seconds=n_seconds, path=path)[1]


def write_calibration(model_id: str, distance: float, details: dict[str, Any], *, n_seconds: float | None = None,
                      path: Path | None = None) -> Path:
    """Store (or replace) the threshold of ``model_id`` on fragments of ``n_seconds``; returns the file."""
    path = path or CALIBRATION_FILE
    table = calibrations(path)
    table[calibration_key(model_id, n_seconds)] = {"cosine_distance": round(float(distance), 6), **details}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
