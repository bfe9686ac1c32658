"""Typo-tolerant search over title, artist and album together, ranked and paged.

Each track is one search text, ``artist title album`` normalised the way playlist seeds are
(:func:`playlists.rules.normalise_text`: case, accents, punctuation). A query is normalised the same way
and scored against every text with rapidfuzz's ``WRatio`` (the best of whole-string, partial and
token-set ratios, so word order, missing words and a typo or two cost little); texts scoring at least
``cutoff`` match. Ties are broken by how well the query matches one field on its own (``ratio``, so
"halo" ranks the title "Halo" above "Halo of Stars"), then by artist and title. The index (the list of
texts) is built once, when the server starts; a query over 20,000 tracks takes milliseconds
(docs/BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from rapidfuzz import fuzz, process

from playlists.rules import normalise_text

FIELDS = ("artist", "title", "album")
DEFAULT_CUTOFF = 60.0


@dataclass(frozen=True)
class SearchPage:
    """One page of hits: row indices into the track table with their scores (0-100), and the total."""

    rows: list[int]
    scores: list[float]
    total: int
    page: int
    per_page: int


class SearchIndex:
    """The normalised search texts of a track table (rows aligned with it)."""

    def __init__(self, tracks: pd.DataFrame, *, cutoff: float = DEFAULT_CUTOFF) -> None:
        columns = [tracks[f] if f in tracks else pd.Series([None] * len(tracks)) for f in FIELDS]
        self.fields = [[normalise_text(v) for v in col] for col in columns]  # per field, per row
        self.texts = [" ".join(p for p in parts if p) for parts in zip(*self.fields)]
        self.cutoff = cutoff

    def __len__(self) -> int:
        return len(self.texts)

    def search(self, query: str, *, page: int = 1, per_page: int = 20) -> SearchPage:
        """Page ``page`` (from 1) of the tracks matching ``query``, best first."""
        q = normalise_text(query)
        if not q:
            return SearchPage([], [], 0, page, per_page)
        hits = process.extract(q, self.texts, scorer=fuzz.WRatio, processor=None, limit=None,
                               score_cutoff=self.cutoff)
        ranked = sorted(
            ((score, max(fuzz.ratio(q, f[row]) for f in self.fields), row) for _, score, row in hits),
            key=lambda h: (-h[0], -h[1], self.fields[0][h[2]], self.fields[1][h[2]], h[2]),
        )
        chosen = ranked[(page - 1) * per_page: page * per_page]
        return SearchPage([r for _, _, r in chosen], [round(float(s), 1) for s, _, _ in chosen], len(ranked),
                          page, per_page)
