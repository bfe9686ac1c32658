"""Lyrics: reading them from sidecar files and tags, and the similarity of their vectors."""

from __future__ import annotations

from embeddings.lyrics.similarity import BatchLyricSimilarity, lyric_similarity, track_lyric_vectors
from embeddings.lyrics.sources import (
    NO_LYRICS,
    SOURCES,
    Lyrics,
    lyrics_from_tags,
    normalise_text,
    read_lyrics,
    strip_lrc,
)

__all__ = [
    "BatchLyricSimilarity",
    "NO_LYRICS",
    "SOURCES",
    "Lyrics",
    "lyric_similarity",
    "lyrics_from_tags",
    "normalise_text",
    "read_lyrics",
    "strip_lrc",
    "track_lyric_vectors",
]
