"""Reference labels for external metrics: where a library already says which tracks belong together.

``spec`` forms (the ``--labels`` option):
- ``folder``: the name of the track's parent folder (``Music/Jazz/x.flac`` -> ``Jazz``);
- ``genre`` (or ``tag``, as ``ctk evaluate`` says it): the first of the track's genres (tags hold several
  joined by ``"; "``);
- ``column:NAME`` or a bare column name of the tracks table (``artist``, ``album``...);
- ``csv:PATH``: a CSV file with a ``track_id`` or ``path`` column and a ``label`` column (else its last
  column), e.g. a playlist export or a hand-made ground truth.
Tracks without a reference label get ``None`` and are left out of the external metrics.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cluster_toolkit.errors import UsageError


def _clean(values: pd.Series) -> pd.Series:
    cleaned = [None if v is None or pd.isna(v) or str(v).strip() == "" else str(v).strip() for v in values]
    return pd.Series(cleaned, index=values.index, dtype="object")


def reference_labels(tracks: pd.DataFrame, spec: str) -> pd.Series:
    """One reference label (str or None) per row of ``tracks``, index aligned."""
    if spec == "folder":
        paths = tracks["path"].astype("object")
        return _clean(paths.map(lambda p: Path(p).parent.name if isinstance(p, str) and p else None))
    if spec in ("genre", "tag"):
        genres = tracks["genre"].astype("object")
        return _clean(genres.map(lambda g: str(g).split(";")[0] if isinstance(g, str) else None))
    if spec.startswith("csv:"):
        return _from_csv(tracks, Path(spec[4:]))
    column = spec[7:] if spec.startswith("column:") else spec
    if column in tracks.columns:
        return _clean(tracks[column])
    raise UsageError(
        f"--labels {spec!r}: expected folder, genre (or tag), csv:PATH or a column of the tracks table "
        f"({', '.join(c for c in tracks.columns if c not in ('lyrics',))})"
    )


def _from_csv(tracks: pd.DataFrame, path: Path) -> pd.Series:
    try:
        table = pd.read_csv(path, dtype=str)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--labels csv:{path}: cannot read the CSV ({exc})") from exc
    key = next((k for k in ("track_id", "path") if k in table.columns), None)
    if key is None or len(table.columns) < 2:
        raise UsageError(
            f"--labels csv:{path}: needs a track_id or path column and a label column, "
            f"found {list(table.columns)}"
        )
    value = "label" if "label" in table.columns else [c for c in table.columns if c != key][-1]
    lookup = dict(zip(table[key], table[value], strict=True))
    if key == "path":
        lookup = {str(Path(k)): v for k, v in lookup.items() if isinstance(k, str)}
        keys = [str(Path(p)) if isinstance(p, str) and p else None for p in tracks[key]]
    else:
        keys = tracks[key].astype(str).tolist()
    return _clean(pd.Series([lookup.get(k) for k in keys], index=tracks.index, dtype="object"))
