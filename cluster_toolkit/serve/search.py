"""Typo-tolerant search over title, artist and album together, ranked and paged.

Each track is one search text, ``artist title album`` normalised the way playlist seeds are
(:func:`embeddings.tags.normalise_text`: case, accents, punctuation). A query is normalised the same way
and scored with rapidfuzz's ``WRatio`` (the best of whole-string, partial and token-set ratios, so word
order, missing words and a typo or two cost little); texts scoring at least ``cutoff`` match. Ties are
broken by how well the query matches one field on its own (``ratio``, so "halo" ranks the title "Halo"
above "Halo of Stars"), then by artist and title.

``WRatio`` against every track costs about 15 us a track, so the texts scored are narrowed first with a
word index: each query word is looked up, typo-tolerantly (``ratio`` >= 75 for words of 4 letters or more,
exact below; the last word also as a prefix, for a query typed in part), among the library's distinct words,
and only the tracks holding the most query words, or one fewer, are scored (so "the" in a query does not
make every track with "the" a candidate once other words narrow it down). When no query word is found
(words run together, say) every track is scored. The index is built once, when the server starts
(docs/BENCHMARKS.md has the times on 20,000 tracks).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from embeddings.tags import normalise_text

FIELDS = ("artist", "title", "album")
DEFAULT_CUTOFF = 60.0
WORD_CUTOFF = 75.0  # a query word matches a library word this close (one typo in a 4-5 letter word)
SHORT_WORD = 4  # shorter query words must match exactly (or as the prefix of the last word)


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
        memo: dict[str, str] = {}  # artists and albums repeat: normalise each distinct value once

        def norm(value: object) -> str:
            if not isinstance(value, str):
                return normalise_text(value)
            if value not in memo:
                memo[value] = normalise_text(value)
            return memo[value]

        self.fields = [[norm(v) for v in col] for col in columns]  # per field, per row
        self.texts = [" ".join(p for p in parts if p) for parts in zip(*self.fields)]
        self.cutoff = cutoff
        postings: dict[str, list[int]] = {}
        for row, text in enumerate(self.texts):
            for word in set(text.split()):
                postings.setdefault(word, []).append(row)
        self.words = sorted(postings)  # sorted: the words a prefix starts are one slice
        self.word_index = {w: j for j, w in enumerate(self.words)}
        self.postings = [np.asarray(postings[w], dtype=np.int64) for w in self.words]

    def candidates(self, query: str) -> np.ndarray | None:
        """Rows worth scoring for a (normalised) query: those holding the most query words, give or take one
        (each query word found typo-tolerantly among the library's words); None when no word is found."""
        words = query.split()
        per_word = []
        for n, word in enumerate(words):
            found = {self.word_index[word]} if word in self.word_index else set()
            if len(word) >= SHORT_WORD:
                hits = process.extract(word, self.words, scorer=fuzz.ratio, processor=None, limit=None,
                                       score_cutoff=WORD_CUTOFF)
                found.update(h[2] for h in hits)
            if n == len(words) - 1:  # the last word may be typed in part
                first, end = (bisect.bisect_left(self.words, w) for w in (word, word + "\uffff"))
                found.update(range(first, end))
            if found:
                per_word.append(np.unique(np.concatenate([self.postings[j] for j in found])))
        if not per_word:
            return None
        counts = np.bincount(np.concatenate(per_word), minlength=len(self.texts))
        return np.flatnonzero(counts >= max(1, int(counts.max()) - 1))

    def __len__(self) -> int:
        return len(self.texts)

    def search(self, query: str, *, page: int = 1, per_page: int = 20) -> SearchPage:
        """Page ``page`` (from 1) of the tracks matching ``query``, best first."""
        q = normalise_text(query)
        if not q:
            return SearchPage([], [], 0, page, per_page)
        rows = self.candidates(q)
        if rows is None:
            rows = np.arange(len(self.texts))
        hits = process.extract(q, [self.texts[r] for r in rows], scorer=fuzz.WRatio, processor=None, limit=None,
                               score_cutoff=self.cutoff)
        # hits come best first; the tie-break is computed only down to the last score this page can show
        end = page * per_page
        floor = hits[min(end, len(hits)) - 1][1] if hits else 0.0
        top = [(score, max(fuzz.ratio(q, f[rows[i]]) for f in self.fields), int(rows[i]))
               for _, score, i in hits if score >= floor]
        ranked = sorted(top, key=lambda h: (-h[0], -h[1], self.fields[0][h[2]], self.fields[1][h[2]], h[2]))
        chosen = ranked[(page - 1) * per_page: end]
        return SearchPage([r for _, _, r in chosen], [round(float(s), 1) for s, _, _ in chosen], len(hits),
                          page, per_page)
