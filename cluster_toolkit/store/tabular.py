"""Tabular mode: a Spotify-style audio-feature table becomes a library store, with no audio at all.

``import_features`` reads a CSV in any of the common public layouts and writes a store whose "embedding" of a
track is its standardised feature vector, so clustering, maps and playlists work on it unchanged:

- Kaggle "Spotify Tracks Dataset": ``track_id, artists ("A;B"), album_name, track_name, popularity,
  duration_ms, explicit, danceability, energy, key, loudness, mode, ..., time_signature, track_genre``;
- "SpotifyFeatures.csv": ``genre, artist_name, track_name, track_id, ..., key ("C#"), mode ("Major"/"Minor"),
  time_signature ("4/4"), valence``;
- "data.csv" (1921-2020): ``id, name, artists ("['A', 'B']"), year, release_date, ...``;
- any table with those feature columns and some of ``id``/``track_id``, ``name``/``track_name``/``title``,
  ``artist(s)``/``artist_name``, ``album``/``album_name``, ``genre``/``track_genre``.

Features (default): danceability, energy, valence, tempo, loudness, acousticness, instrumentalness,
speechiness, liveness, mode, and key. Key is a pitch class, so it becomes two columns ``key_sin``/``key_cos``
(position on the chromatic circle: B and C are neighbours); -1 (unknown) is treated as missing. Missing
values are imputed with the column median. Every column is then standardised (z-score, population std);
constant columns carry no information and are dropped (listed in ``FeatureTable.dropped``). Tracks listed
several times (the Kaggle set repeats a track under each of its genres) are merged, their genres joined with
"; ". ``features=["numeric"]`` takes every numeric column except ids, tags and labels
(:func:`numeric_feature_columns`), for tables that are not Spotify's. Tracks without an id get
``tab-<hash of artist, title and row number>``. The raw values are kept as
the store table ``features``.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cluster_toolkit.errors import UsageError
from cluster_toolkit.store.protocol import Store

FEATURES_TABLE = "features"
DEFAULT_FEATURES = (
    "danceability",
    "energy",
    "valence",
    "tempo",
    "loudness",
    "acousticness",
    "instrumentalness",
    "speechiness",
    "liveness",
    "mode",
    "key",
)
ID_COLUMNS = ("track_id", "id", "spotify_id", "uri")
TITLE_COLUMNS = ("track_name", "name", "title", "song", "song_name")
ARTIST_COLUMNS = ("artists", "artist_name", "artist", "artist_names")
ALBUM_COLUMNS = ("album_name", "album")
GENRE_COLUMNS = ("track_genre", "genre", "playlist_genre", "genres")
NUMERIC = "numeric"  # features=["numeric"]: every numeric column but ids, tags and labels
LABEL_COLUMNS = ("label", "labels", "class", "target", "cluster", "category", "y")
PITCH_CLASSES = {"C": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "F": 5, "F#": 6, "GB": 6,
                 "G": 7, "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10, "B": 11}  # fmt: skip


@dataclass(frozen=True)
class FeatureTable:
    """A parsed feature table: store-ready track rows, the raw features and the standardised matrix."""

    tracks: pd.DataFrame
    raw: pd.DataFrame
    matrix: np.ndarray
    columns: list[str]
    mean: np.ndarray
    std: np.ndarray
    n_rows_read: int
    n_merged: int
    n_imputed: int
    layout: str
    dropped: list[str]
    #: infinite values per column, treated as missing (imputed)
    infinite: dict[str, int] = field(default_factory=dict)


def _first(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.lower().strip(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def numeric_feature_columns(df: pd.DataFrame) -> list[str]:
    """The table's numeric columns that are features: not ids (``id``, ``*_id``, ``uri``, an unnamed index),
    not tags (title, artist, album, genre) and not labels (``label``, ``class``, ``target``...). ``key`` and
    ``mode`` count in any spelling ("C#", "Major")."""
    tags = {*ID_COLUMNS, *TITLE_COLUMNS, *ARTIST_COLUMNS, *ALBUM_COLUMNS, *GENRE_COLUMNS, *LABEL_COLUMNS}
    out = []
    for column in df.columns:
        name = str(column).lower().strip()
        if name in tags or name.endswith("_id") or name.startswith("unnamed") or name in ("", "index"):
            continue
        if name in ("key", "mode") or pd.api.types.is_numeric_dtype(df[column]):
            out.append(str(column))
    return out


def _artists(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = ast.literal_eval(text)
            if isinstance(parsed, list | tuple):
                return ", ".join(str(a) for a in parsed)
        except (ValueError, SyntaxError):
            pass
    return ", ".join(part.strip() for part in text.split(";") if part.strip()) or None


def _key(series: pd.Series) -> pd.Series:
    def one(v: Any) -> float:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return np.nan
        if isinstance(v, str) and not v.strip().lstrip("-").isdigit():
            return float(PITCH_CLASSES.get(v.strip().upper().replace("♯", "#"), np.nan))
        k = float(v)
        return k if 0 <= k <= 11 else np.nan

    return series.map(one).astype(float)


def _mode(series: pd.Series) -> pd.Series:
    words = {"major": 1.0, "minor": 0.0}
    return series.map(lambda v: words.get(v.strip().lower(), np.nan) if isinstance(v, str) else v).astype(float)


def read_feature_table(path: str | Path, *, features: list[str] | None = None) -> FeatureTable:
    """Parse and standardise a feature CSV (see the module doc). Raises :class:`UsageError` naming what is
    missing or unusable."""
    path = Path(path)
    try:
        df = pd.read_csv(path, low_memory=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the feature table ({exc})") from exc
    if df.empty:
        raise UsageError(f"{path}: the table has no rows")
    cols = list(df.columns)
    if features and [f.lower() for f in features] == [NUMERIC]:
        features = numeric_feature_columns(df)
        if len(features) < 2:
            raise UsageError(f"{path}: --features numeric found {len(features)} numeric feature column(s) "
                             f"{features} among {cols} (ids, tags and labels are left out)")
    wanted = list(features) if features else list(DEFAULT_FEATURES)
    present = {f: _first(cols, (f.lower(),)) for f in wanted}
    missing = [f for f, c in present.items() if c is None]
    if features and missing:
        raise UsageError(f"{path}: feature columns {missing} not found; the table has {cols}")
    used = [f for f in wanted if present[f] is not None]
    if len(used) < 2:
        raise UsageError(
            f"{path}: fewer than 2 known feature columns (looked for {', '.join(wanted)}); found columns {cols}"
        )
    id_col, title_col = _first(cols, ID_COLUMNS), _first(cols, TITLE_COLUMNS)
    artist_col, album_col = _first(cols, ARTIST_COLUMNS), _first(cols, ALBUM_COLUMNS)
    genre_col = _first(cols, GENRE_COLUMNS)
    layout = (
        "kaggle-spotify-tracks" if {"track_genre", "album_name"} <= set(cols)
        else "spotify-features" if {"genre", "artist_name"} <= set(cols)
        else "spotify-data-1921-2020" if {"id", "name", "artists", "year"} <= set(cols)
        else "generic"
    )  # fmt: skip

    raw = pd.DataFrame(index=df.index)
    for f in used:
        column = df[present[f]]
        if f.lower() == "key":
            k = _key(column)
            raw["key"] = k
        elif f.lower() == "mode":
            raw["mode"] = _mode(column)
        else:
            raw[f] = pd.to_numeric(column, errors="coerce")
    title = df[title_col].astype("object") if title_col else pd.Series([None] * len(df), dtype="object")
    artist = df[artist_col].map(_artists) if artist_col else pd.Series([None] * len(df), dtype="object")
    if id_col:
        ids = df[id_col].astype(str).str.replace("spotify:track:", "", regex=False).str.strip()
    else:
        keys = [f"{a}\x1f{t}\x1f{row}" for row, (a, t) in enumerate(zip(artist, title, strict=True))]
        ids = pd.Series(["tab-" + hashlib.blake2b(k.encode(), digest_size=8).hexdigest() for k in keys], index=df.index)
    tracks = pd.DataFrame(
        {
            "track_id": ids,
            "title": title,
            "artist": artist,
            "album": df[album_col].astype("object") if album_col else None,
            "genre": df[genre_col].astype("object") if genre_col else None,
            "duration_s": pd.to_numeric(df["duration_ms"], errors="coerce") / 1000.0 if "duration_ms" in df else None,
        }
    )
    n_rows = len(df)
    # merge duplicate ids: first row's values, all genres
    if tracks["track_id"].duplicated().any():
        genres = tracks.groupby("track_id", sort=False)["genre"].agg(
            lambda g: "; ".join(dict.fromkeys(str(x) for x in g if isinstance(x, str) and x))
        )
        first = ~tracks["track_id"].duplicated()
        tracks, raw = tracks[first].copy(), raw[first.to_numpy()].copy()
        tracks["genre"] = tracks["track_id"].map(genres).replace("", None)
    tracks = tracks.reset_index(drop=True)
    raw = raw.reset_index(drop=True)
    raw.insert(0, "track_id", tracks["track_id"])

    numeric = raw.drop(columns="track_id").copy()
    if "key" in numeric:
        angle = 2 * np.pi * numeric.pop("key") / 12.0
        numeric["key_sin"], numeric["key_cos"] = np.sin(angle), np.cos(angle)
    # inf is no measurement (a division by zero upstream): counted and imputed like a missing value,
    # never allowed to make a column look constant
    infinite = {c: int(n) for c, n in np.isinf(numeric.astype(np.float64)).sum().items() if n}
    numeric = numeric.replace([np.inf, -np.inf], np.nan)
    n_imputed = int(numeric.isna().sum().sum())
    all_missing = [c for c in numeric.columns if numeric[c].isna().all()]
    if all_missing:
        raise UsageError(f"{path}: feature columns {all_missing} have no numeric values")
    numeric = numeric.fillna(numeric.median())
    values = numeric.to_numpy(dtype=np.float64)
    mean, std = values.mean(axis=0), values.std(axis=0)
    keep = std > 1e-9 * np.maximum(1.0, np.abs(mean))
    constant = [c for c, k in zip(numeric.columns, keep, strict=True) if not k]
    if keep.sum() < 2:
        raise UsageError(f"{path}: fewer than 2 usable feature columns (constant: {constant})")
    numeric, values, mean, std = numeric.loc[:, keep], values[:, keep], mean[keep], std[keep]
    matrix = ((values - mean) / std).astype(np.float32)
    return FeatureTable(
        tracks=tracks,
        raw=raw,
        matrix=matrix,
        columns=list(numeric.columns),
        mean=mean,
        std=std,
        n_rows_read=n_rows,
        n_merged=n_rows - len(tracks),
        n_imputed=n_imputed,
        layout=layout,
        dropped=constant,
        infinite=infinite,
    )


def import_features(store: Store, path: str | Path, *, features: list[str] | None = None) -> FeatureTable:
    """Replace the content of ``store`` by the feature table at ``path``; returns the parsed table."""
    table = read_feature_table(path, features=features)
    description = {
        "name": "tabular",
        "source_file": Path(path).name,
        "layout": table.layout,
        "columns": table.columns,
        "mean": [round(float(m), 9) for m in table.mean],
        "std": [round(float(s), 9) for s in table.std],
    }
    rows = table.tracks.copy()
    rows["path"] = None
    rows["n_fragments"] = 0
    with store.writing():
        store.import_tabular(rows, table.matrix, description)
        store.write_table(FEATURES_TABLE, table.raw)
    return table


def analyze_features(store: Store, out_dir: str | Path, *, run_id: str | None = None) -> dict[str, Path]:
    """Write the feature views (distributions, correlation and, with a run, features by cluster) of a
    tabular store into ``out_dir``; returns ``{view name: path}``."""
    from cluster_toolkit.plots.feature_views import (
        plot_correlation,
        plot_distributions,
        plot_features_by_cluster,
    )
    from cluster_toolkit.store.runs import load_run

    if not store.has_table(FEATURES_TABLE):
        raise UsageError(
            f"{store.root}: no feature table; analyze-features works on libraries made by `ctk import-features`"
        )
    features = store.read_table(FEATURES_TABLE)
    out_dir = Path(out_dir)
    views = {
        "distributions": plot_distributions(features, out_dir / "distributions.png"),
        "correlation": plot_correlation(features, out_dir / "correlation.png"),
    }
    if run_id is not None:
        run = load_run(store, run_id)
        lookup = dict(zip(run.labels["track_id"], run.labels["label"], strict=True))
        keep = features["track_id"].isin(lookup)
        labels = features.loc[keep, "track_id"].map(lookup).to_numpy(dtype=np.int64)
        views["features by cluster"] = plot_features_by_cluster(
            features[keep].reset_index(drop=True), labels, out_dir / "features_by_cluster.png"
        )
    return views
