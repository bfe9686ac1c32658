"""Bounding the noise of density clusterings: noise tracks joined to their nearest cluster.

HDBSCAN and DBSCAN call a track noise when its neighbourhood is too sparse. On a music library that is often
most of it (a new user's first run on 35 real tracks was all noise), while a listener expects almost every
track to belong somewhere. :func:`cap_noise` keeps at most ``max_noise`` of the tracks as noise: the noise
tracks closest to a clustered track join that track's cluster (nearest clustered neighbour in the
clusterer's working space, scikit-learn ``NearestNeighbors``), closest first, and the farthest stay noise.
``max_noise=0`` (``ctk cluster --no-noise``) assigns every noise track; ``max_noise=1`` keeps the
clusterer's noise as it is.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from cluster_toolkit.clustering.base import NOISE
from cluster_toolkit.errors import ClusteringError


def cap_noise(space: np.ndarray, labels: np.ndarray, max_noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Join the noise tracks nearest a cluster to it until at most ``max_noise`` of the tracks are noise.

    Args:
        space: ``(n, d)`` the vectors the clusterer worked on (euclidean distances).
        labels: ``(n,)`` labels, noise ``-1``.
        max_noise: largest share of noise kept, in [0, 1].

    Returns:
        ``(labels (n,), assigned (n,) bool)``: new labels (the input is not modified) and which tracks
        were noise and now belong to a cluster. With no cluster at all nothing can be assigned.
    """
    if not 0.0 <= max_noise <= 1.0:
        raise ClusteringError(f"max_noise={max_noise} must be between 0 and 1")
    labels = np.asarray(labels, dtype=np.int64)
    out = labels.copy()
    assigned = np.zeros(labels.size, dtype=bool)
    noise = np.flatnonzero(labels == NOISE)
    clustered = np.flatnonzero(labels != NOISE)
    allowed = int(np.floor(max_noise * labels.size + 1e-9))
    excess = noise.size - allowed
    if excess <= 0 or clustered.size == 0:
        return out, assigned
    nn = NearestNeighbors(n_neighbors=1).fit(space[clustered])
    dist, idx = nn.kneighbors(space[noise])
    nearest_first = np.argsort(dist[:, 0], kind="stable")[:excess]
    rows = noise[nearest_first]
    out[rows] = labels[clustered[idx[nearest_first, 0]]]
    assigned[rows] = True
    return out, assigned
