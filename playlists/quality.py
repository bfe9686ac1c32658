"""Quality metrics of a playlist, recorded with every generated playlist.

All distances are cosine distances ``1 - cos(u, v)`` between L2-normalised embeddings
(0 = same direction, 1 = orthogonal, 2 = opposite).

* ``mean_step`` / ``max_step``: distance between consecutive tracks (smoothness; lower is
  smoother).
* ``seed_distance``: mean over tracks of the distance to the closest seed (coherence with
  the seeds; lower is more coherent). Without seeds, the distance to the playlist's own mean
  direction.
* ``spread``: mean pairwise distance between the playlist's tracks (diversity; higher is
  more varied).
* ``artist_repetition``: fraction of tracks whose artist already appeared earlier in the
  playlist (0 = every artist once); ``adjacent_same_artist``: number of back-to-back repeats.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from playlists.projection import l2_normalise
from playlists.rules import normalise_artist

METRICS = ("n_tracks", "mean_step", "max_step", "seed_distance", "spread", "artist_repetition",
           "adjacent_same_artist")


def step_distances(embeddings: np.ndarray) -> np.ndarray:
    """Cosine distances between consecutive rows. ``(m, dim) -> (m - 1,)``."""
    x = l2_normalise(embeddings)
    if x.shape[0] < 2:
        return np.zeros(0, dtype=np.float64)
    return np.clip(1.0 - np.einsum("ij,ij->i", x[:-1], x[1:]).astype(np.float64), 0.0, 2.0)


def playlist_metrics(
    embeddings: np.ndarray,
    *,
    seed_embeddings: np.ndarray | None = None,
    artists: Sequence[object] | None = None,
) -> dict[str, float]:
    """Quality metrics of an ordered playlist.

    Args:
        embeddings: ``(m, dim)`` embeddings of the playlist's tracks in play order.
        seed_embeddings: ``(k, dim)`` embeddings of the seeds (liked songs, endpoints...).
        artists: the ``m`` artists in play order (missing values are never counted as repeats).

    Returns:
        A dict with the keys of :data:`METRICS`; distances are 0 for playlists too short
        to have steps or pairs.
    """
    x = l2_normalise(embeddings)
    m = x.shape[0]
    steps = step_distances(x)
    if seed_embeddings is not None and len(seed_embeddings):
        seeds = l2_normalise(seed_embeddings)
    elif m:
        seeds = l2_normalise(x.mean(axis=0, keepdims=True))
    else:
        seeds = np.zeros((0, x.shape[1] if x.ndim == 2 else 0), dtype=np.float32)
    if m and len(seeds):
        seed_distance = float(np.mean(1.0 - (x @ seeds.T).max(axis=1)))
    else:
        seed_distance = 0.0
    if m >= 2:
        sims = (x @ x.T).astype(np.float64)
        spread = float((m * m - sims.sum()) / (m * (m - 1)))  # mean over i != j of 1 - cos
    else:
        spread = 0.0
    names = [normalise_artist(a) for a in (artists if artists is not None else [""] * m)]
    seen: set[str] = set()
    repeats = 0
    for name in names:
        if name and name in seen:
            repeats += 1
        seen.add(name)
    adjacent = sum(1 for a, b in zip(names[:-1], names[1:], strict=True) if a and a == b)
    return {
        "n_tracks": float(m),
        "mean_step": float(steps.mean()) if steps.size else 0.0,
        "max_step": float(steps.max()) if steps.size else 0.0,
        "seed_distance": max(seed_distance, 0.0),
        "spread": max(spread, 0.0),
        "artist_repetition": repeats / m if m else 0.0,
        "adjacent_same_artist": float(adjacent),
    }
