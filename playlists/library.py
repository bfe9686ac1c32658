"""The view of a music library that playlist generators work on: a track table and its vectors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from playlists.errors import PlaylistError
from playlists.projection import l2_normalise


@dataclass(frozen=True)
class Library:
    """Tracks and their embeddings, rows aligned.

    Args:
        tracks: track table with at least ``track_id`` (unique); usually also ``path``,
            ``title``, ``artist``, ``album``, ``isrc``, ``genre``, ``duration_s``.
        embeddings: ``(n, dim)`` vectors aligned with ``tracks``; stored L2-normalised.
    """

    tracks: pd.DataFrame
    embeddings: np.ndarray
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if "track_id" not in self.tracks:
            raise PlaylistError(f"track table needs a 'track_id' column, has {list(self.tracks.columns)}")
        emb = np.asarray(self.embeddings)
        if emb.ndim != 2 or emb.shape[0] != len(self.tracks):
            raise PlaylistError(
                f"embeddings of shape {emb.shape} do not align with {len(self.tracks)} tracks"
            )
        ids = self.tracks["track_id"].astype(str).tolist()
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise PlaylistError(f"track table has duplicate track_id values: {dupes}")
        object.__setattr__(self, "tracks", self.tracks.reset_index(drop=True))
        object.__setattr__(self, "embeddings", l2_normalise(emb))
        object.__setattr__(self, "_index", {tid: i for i, tid in enumerate(ids)})

    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def track_ids(self) -> list[str]:
        return list(self._index)

    def indices(self, track_ids: Iterable[str]) -> np.ndarray:
        """Row indices of ``track_ids``; PlaylistError naming the ids not in the library."""
        ids = [str(t) for t in track_ids]
        missing = [t for t in ids if t not in self._index]
        if missing:
            raise PlaylistError(f"{len(missing)} track ids are not in the library: {missing[:5]}")
        return np.array([self._index[t] for t in ids], dtype=np.int64)

    def ids(self, indices: Iterable[int]) -> list[str]:
        """Track ids of row indices."""
        col = self.tracks["track_id"]
        return [str(col.iat[int(i)]) for i in indices]

    def column(self, name: str, indices: Iterable[int]) -> list[object]:
        """Values of one column for row indices (``None`` when the column is absent)."""
        idx = list(indices)
        if name not in self.tracks:
            return [None] * len(idx)
        col = self.tracks[name]
        return [col.iat[int(i)] for i in idx]
