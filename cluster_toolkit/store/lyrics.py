"""The ``lyrics`` table of a store: each analysed track's lyrics source, its no-lyrics flag and its lyric vectors.

One row per ``ok`` track of the store, written by ``ctk embed --lyrics`` (:func:`embed_lyrics`):

=================  =========================  =====================================================
``track_id``       string                     the track
``has_lyrics``     bool                       False: instrumental or no lyrics found (no vectors)
``instrumental``   bool                       a source said so explicitly (``[Instrumental]``...)
``source``         string                     ``lrc``, ``txt``, ``uslt``, ``sylt``, ``vorbis``, ``mp4``, ``none``
``text_hash``      string                     BLAKE2b-128 of the lyrics text (null without lyrics)
``text_model``     string                     the text encoder that made the vectors
``embedding``      list<float32>[384]         the lyrics' vector, unit norm (null without lyrics)
``segments``       list<list<float32>[384]>   the vectors of up to 16 runs of lines (the fusion model's tokens)
=================  =========================  =====================================================

Vectors are cached by (text model, text hash): a re-run encodes only lyrics whose text changed or that
are new, and two tracks with the same lyrics are encoded once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cluster_toolkit.store.protocol import Store
from embeddings.lyrics import read_lyrics
from embeddings.text_encoder import TextEncoder, text_hash

TABLE = "lyrics"
COLUMNS = ["track_id", "has_lyrics", "instrumental", "source", "text_hash", "text_model", "embedding", "segments"]


@dataclass
class LyricsSummary:
    """What :func:`embed_lyrics` did: tracks seen, with lyrics, instrumental, without; vectors encoded now
    and reused from the table; one line per source that could not be read."""

    tracks: int = 0
    with_lyrics: int = 0
    instrumental: int = 0
    without: int = 0
    encoded: int = 0
    reused: int = 0
    problems: list[str] = field(default_factory=list)


def _cached(store: Store, model_id: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """text hash -> (vector, segment vectors) from the existing table, for this text model only."""
    if not store.has_table(TABLE):
        return {}
    old = store.read_table(TABLE)
    old = old[old["has_lyrics"] & (old["text_model"] == model_id)]
    return {
        h: (np.asarray(e, dtype=np.float32), np.stack([np.asarray(s, dtype=np.float32) for s in segs]))
        for h, e, segs in zip(old["text_hash"], old["embedding"], old["segments"])
    }


def embed_lyrics(store: Store, *, encoder: TextEncoder | None = None) -> LyricsSummary:
    """Read the lyrics of every ``ok`` track of ``store``, encode the new texts and write the ``lyrics`` table.

    The caller holds the store's writer lock. Lyrics come from :func:`embeddings.lyrics.read_lyrics`
    (sidecars first, then tags) at the track's current path.
    """
    encoder = encoder or TextEncoder()
    model_id = encoder.model_id
    tracks = store.tracks()
    summary = LyricsSummary(tracks=len(tracks))
    found = []
    for path in tracks["path"]:
        lyrics = read_lyrics(Path(path))
        if lyrics.problem:
            summary.problems.append(lyrics.problem)
        found.append(lyrics)
    cache = _cached(store, model_id)
    hashes = [text_hash(f.text) if f.has_lyrics else None for f in found]
    new = {h: f.text for h, f in zip(hashes, found) if h is not None and h not in cache}
    summary.reused = sum(1 for h in hashes if h is not None and h in cache)
    if new:
        for h, vectors in zip(new, encoder.encode_lyrics(list(new.values()))):
            cache[h] = (vectors.track, vectors.segments)
        summary.encoded = len(new)
    rows = []
    for track_id, lyrics, h in zip(tracks["track_id"], found, hashes):
        vector, segments = cache[h] if h is not None else (None, None)
        rows.append({
            "track_id": track_id, "has_lyrics": lyrics.has_lyrics, "instrumental": lyrics.instrumental,
            "source": lyrics.source, "text_hash": h, "text_model": model_id,
            "embedding": None if vector is None else vector.tolist(),
            "segments": None if segments is None else [s.tolist() for s in segments],
        })
        summary.with_lyrics += lyrics.has_lyrics
        summary.instrumental += lyrics.instrumental
    summary.without = summary.tracks - summary.with_lyrics - summary.instrumental
    store.write_table(TABLE, pd.DataFrame(rows, columns=COLUMNS))
    return summary


def lyric_vectors(store: Store) -> tuple[pd.DataFrame, np.ndarray]:
    """The tracks of the ``lyrics`` table that have lyrics and their vectors ``(n, 384)``, rows aligned."""
    table = store.read_table(TABLE)
    table = table[table["has_lyrics"]].reset_index(drop=True)
    if table.empty:
        return table, np.zeros((0, TextEncoder.dim), dtype=np.float32)
    return table, np.stack([np.asarray(e, dtype=np.float32) for e in table["embedding"]])
