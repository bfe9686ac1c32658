"""Project embeddings to a low dimension where convex hulls are meaningful and tractable.

Qhull's cost grows quickly with the dimension (a hull in 512 dimensions is neither
computable nor useful: every point is a vertex), so the hull generators work in a
``d = 2..8`` dimensional projection of the whole library. PCA is the default: linear, fast,
deterministic, and it keeps convexity meaningful (a straight line in the projection is a
straight line in embedding space). UMAP follows the library's manifold more closely but
bends distances; it is there for libraries whose PCA projection is a single blob.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from embeddings.errors import ConfigError
from playlists.errors import PlaylistError

METHODS = ("pca", "umap")


@dataclass(frozen=True)
class ProjectionConfig:
    """How to project embeddings before computing hulls.

    Args:
        method: ``"pca"`` (scikit-learn PCA) or ``"umap"`` (umap-learn, cosine geometry).
        n_components: the projection's dimension ``d``, 2 to 8.
        normalise: L2-normalise the embeddings first (cosine geometry, as everywhere in ctk).
        n_neighbors: UMAP's neighbourhood size (ignored by PCA).
        seed: random seed of the projection.
    """

    method: str = "pca"
    n_components: int = 3
    normalise: bool = True
    n_neighbors: int = 15
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"projection method={self.method!r} must be one of {METHODS}")
        if not 2 <= self.n_components <= 8:
            raise ConfigError(
                f"n_components={self.n_components} must be between 2 and 8 (hulls above 8 dimensions "
                "are intractable and put every track on the hull)"
            )
        if self.n_neighbors < 2:
            raise ConfigError(f"n_neighbors={self.n_neighbors} must be at least 2")


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero). ``(n, dim) -> (n, dim)`` float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


@dataclass(frozen=True)
class Projection:
    """Projected coordinates and what happened on the way.

    Attributes:
        points: ``(n, d)`` float64 coordinates.
        method: the method actually used (``"pca"`` when UMAP had too few tracks).
        notices: fallbacks taken, for the playlist's notices.
    """

    points: np.ndarray
    method: str
    notices: tuple[str, ...] = ()


def project(embeddings: np.ndarray, config: ProjectionConfig = ProjectionConfig()) -> Projection:
    """Project a library's embeddings.

    Args:
        embeddings: ``(n, dim)`` track embeddings, one row per track.
        config: method and dimension.

    Returns:
        A :class:`Projection` whose ``points`` are ``(n, d)`` float64 coordinates,
        ``d = config.n_components``. When the library has fewer tracks than ``d + 1`` (or
        fewer dimensions than ``d``) the missing components
        are zero columns, so callers always get ``d`` columns; hull code then sees the points
        as degenerate and falls back.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise PlaylistError(f"embeddings must be 2-D (n, dim), got shape {x.shape}")
    if x.shape[0] == 0:
        raise PlaylistError("cannot project an empty library (0 tracks)")
    if not np.isfinite(x).all():
        raise PlaylistError(f"embeddings contain {int((~np.isfinite(x)).sum())} non-finite values")
    if config.normalise:
        x = l2_normalise(x)
    d = config.n_components
    n, dim = x.shape
    usable = min(d, n - 1, dim)
    out = np.zeros((n, d), dtype=np.float64)
    notices: list[str] = []
    if usable < d:
        notices.append(
            f"the library has {n} tracks of dimension {dim}: only {max(usable, 0)} of the {d} projected "
            "dimensions carry information"
        )
    if usable < 1:
        return Projection(out, config.method, tuple(notices))
    if config.method == "umap" and n <= config.n_neighbors + 1:
        notices.append(f"UMAP needs more than n_neighbors + 1 = {config.n_neighbors + 1} tracks; used PCA")
    if config.method == "umap" and n > config.n_neighbors + 1 and usable >= 2:
        import umap  # slow import (numba): only when asked
        from sklearn.neighbors import NearestNeighbors

        # Euclidean distance on unit vectors ranks neighbours exactly as cosine does; exact neighbours
        # from scikit-learn (up to 4096 tracks) spare UMAP its nearest-neighbour descent kernels.
        unit = l2_normalise(x)
        knn = (None, None, None)
        if n <= 4096:
            dist, idx = NearestNeighbors(n_neighbors=config.n_neighbors).fit(unit).kneighbors(unit)
            knn = (idx, dist.astype(np.float32), None)
        reducer = umap.UMAP(
            n_components=usable,
            n_neighbors=config.n_neighbors,
            metric="euclidean",
            random_state=config.seed,
            n_jobs=1,
            precomputed_knn=knn,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
            out[:, :usable] = reducer.fit_transform(unit)
        return Projection(out, "umap", tuple(notices))
    from sklearn.decomposition import PCA

    pca = PCA(n_components=usable, random_state=config.seed)
    out[:, :usable] = pca.fit_transform(x)
    return Projection(out, "pca", tuple(notices))
