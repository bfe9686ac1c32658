"""How alike two tracks' lyrics are, in [0, 1]: the similarity that down-weights negatives in Soft InfoNCE.

``S_ij = max(0, cos(l_i, l_j))`` for the lyric vectors ``l`` of two tracks that both have lyrics, and 0 when
either has none (no evidence that they are related, so the pair keeps its full weight as a negative).
:class:`~embeddings.losses.soft_infonce.SoftInfoNCELoss` turns it into ``w_ij = 1 - beta * S_ij`` on the
negatives, rescaled to average 1 per anchor, so a batch whose lyric similarities are all equal trains
exactly as plain InfoNCE.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings.errors import ConfigError
from embeddings.lyrics.sources import read_lyrics

__all__ = ["BatchLyricSimilarity", "lyric_similarity", "track_lyric_vectors"]


def lyric_similarity(vectors: np.ndarray, has_lyrics: np.ndarray) -> np.ndarray:
    """``(n, n)`` float32 in [0, 1] from lyric vectors ``(n, d)`` (any norm; rows without lyrics are ignored)
    and the flags ``has_lyrics`` ``(n,)``. The diagonal is 1 where a track has lyrics."""
    vectors = np.asarray(vectors, dtype=np.float32)
    has = np.asarray(has_lyrics, dtype=bool)
    if vectors.ndim != 2 or has.shape != (vectors.shape[0],):
        raise ConfigError(
            f"lyric_similarity: vectors must be (n, d) and has_lyrics (n,), got {vectors.shape} and {has.shape}"
        )
    unit = np.zeros_like(vectors)
    norms = np.linalg.norm(vectors[has], axis=1, keepdims=True)
    if np.any(norms == 0) or not np.all(np.isfinite(vectors[has])):
        raise ConfigError("lyric_similarity: a track flagged with lyrics has a zero or non-finite lyric vector")
    unit[has] = vectors[has] / norms
    similarity = np.clip(unit @ unit.T, 0.0, 1.0)
    similarity[~has, :] = 0.0
    similarity[:, ~has] = 0.0
    return similarity.astype(np.float32)


def track_lyric_vectors(paths: Sequence[str | Path], *, encoder=None) -> tuple[np.ndarray, np.ndarray]:
    """Lyric vectors ``(n, 384)`` (zero rows without lyrics) and ``has_lyrics`` ``(n,)`` of audio files, the
    lyrics read with :func:`~embeddings.lyrics.sources.read_lyrics` and each distinct text encoded once by
    ``encoder`` (default: :class:`~embeddings.text_encoder.TextEncoder`)."""
    from embeddings.text_encoder import TextEncoder

    encoder = encoder or TextEncoder()
    texts = [read_lyrics(p).text for p in paths]
    has = np.array([bool(t) for t in texts], dtype=bool)
    distinct = list(dict.fromkeys(t for t in texts if t))
    vectors = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    if distinct:
        encoded = {t: v.track for t, v in zip(distinct, encoder.encode_lyrics(distinct))}
        for i, t in enumerate(texts):
            if t:
                vectors[i] = encoded[t]
    return vectors, has


class BatchLyricSimilarity:
    """The lyric similarity of a training batch's items from the tracks they come from:
    ``similarity(item_tracks)``, ``item_tracks`` a ``(N,)`` tensor of track indices -> ``(N, N)`` float32 tensor
    in [0, 1] (what :class:`~embeddings.losses.soft_infonce.SoftInfoNCELoss` weighs negatives by).

    ``vectors`` ``(n_tracks, d)`` and ``has_lyrics`` ``(n_tracks,)`` as :func:`track_lyric_vectors` returns them.
    """

    def __init__(self, vectors: np.ndarray, has_lyrics: np.ndarray) -> None:
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.has_lyrics = np.asarray(has_lyrics, dtype=bool)
        if self.vectors.ndim != 2 or self.has_lyrics.shape != (len(self.vectors),):
            raise ConfigError(
                f"BatchLyricSimilarity: vectors (n, d) and has_lyrics (n,), got {self.vectors.shape} "
                f"and {self.has_lyrics.shape}"
            )

    @classmethod
    def from_paths(cls, paths: Sequence[str | Path], *, encoder=None) -> BatchLyricSimilarity:
        """Read and encode the lyrics of the training tracks at ``paths`` (in track-index order)."""
        return cls(*track_lyric_vectors(paths, encoder=encoder))

    @property
    def n_with_lyrics(self) -> int:
        return int(self.has_lyrics.sum())

    def __call__(self, item_tracks):
        import torch  # the training loop has it loaded; this module stays importable without it

        idx = item_tracks.cpu().numpy()
        return torch.from_numpy(lyric_similarity(self.vectors[idx], self.has_lyrics[idx]))
