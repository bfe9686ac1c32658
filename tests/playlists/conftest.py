from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from playlists.library import Library


def make_tracks(n: int, *, artists=None, titles=None, root: str = "/music") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "track_id": [f"id{i:04d}" for i in range(n)],
            "path": [f"{root}/track{i:04d}.flac" for i in range(n)],
            "title": list(titles) if titles is not None else [f"Song {i}" for i in range(n)],
            "artist": list(artists) if artists is not None else [f"Artist {i}" for i in range(n)],
            "album": [f"Album {i // 10}" for i in range(n)],
            "isrc": [f"USRC1{i:07d}" for i in range(n)],
            "genre": ["Jazz; Soul" if i % 2 else "Rock" for i in range(n)],
            "duration_s": [180.0 + i for i in range(n)],
        }
    )


def make_library(embeddings, **kwargs) -> Library:
    emb = np.asarray(embeddings, dtype=np.float32)
    return Library(make_tracks(len(emb), **kwargs), emb)


def clustered(n_clusters: int = 6, per: int = 40, dim: int = 16, spread: float = 0.35, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    labels = np.repeat(np.arange(n_clusters), per)
    return centres[labels] + spread * rng.normal(size=(len(labels), dim)), labels


@pytest.fixture
def library_of():
    """``library_of(embeddings, artists=..., titles=...)`` -> Library with a synthetic track table."""
    return make_library


@pytest.fixture
def tracks_of():
    """``tracks_of(n, ...)`` -> a synthetic track table."""
    return make_tracks


@pytest.fixture
def clustered_library() -> tuple[Library, np.ndarray]:
    emb, labels = clustered()
    return make_library(emb), labels
