"""The common result of every playlist generator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Playlist:
    """An ordered list of tracks and how it was made.

    Attributes:
        track_ids: the tracks in play order (``track_id`` values of the library's track table).
        method: which generator made it (``"hull"``, ``"onion"``, ``"path"``, ``"recommend"``...).
        params: the generator's parameters, JSON-able (seeds, length asked, margin...).
        metrics: quality metrics of the result (see :mod:`playlists.quality`).
        notices: human-readable notes on fallbacks taken and on why a playlist is shorter
            than asked. Empty when everything went as asked.
    """

    track_ids: list[str]
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.track_ids)

    @property
    def requested_length(self) -> int | None:
        """The length asked for, when the generator had one."""
        value = self.params.get("length")
        return int(value) if value is not None else None

    @property
    def complete(self) -> bool:
        """True when the playlist has the requested length (or no length was asked)."""
        asked = self.requested_length
        return asked is None or len(self.track_ids) == asked
