"""DBSCAN (scikit-learn) on L2-normalised embeddings, with ``eps="auto"`` searched on the k-distance curve.

``metric="cosine"`` (default): ``eps`` is a cosine distance ``1 - cos`` in [0, 2]. The vectors are always
normalised for it (cosine ignores norms) and DBSCAN runs on euclidean distances of the unit vectors with
``eps_euclidean = sqrt(2 * eps)``, the same neighbourhoods, so scikit-learn can use its tree indexes.
``metric="euclidean"``: ``eps`` is a euclidean distance in the (optionally normalised) space.

``eps="auto"`` searches eps over quantiles of the sorted k-distance curve (distance of each track to its
``min_samples``-th nearest neighbour, itself included, as DBSCAN counts it), and ``min_samples`` too unless
given, keeping the setting that puts the most tracks in clusters other than the largest; see
:func:`cluster_toolkit.clustering.auto_params.choose_eps`. ``min_samples=None`` with a fixed eps means 5
(scikit-learn's default). Memory: scikit-learn keeps every neighbourhood, so
a very large ``eps`` on a large library costs O(n * neighbours).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import DBSCAN

from cluster_toolkit.clustering.auto_params import EPS_MIN_SAMPLES, EpsChoice, choose_eps
from cluster_toolkit.clustering.base import (
    METRICS,
    Constraint,
    CtkClusterer,
    Int,
    Real,
    prepare,
    warn_if_degenerate,
)
from cluster_toolkit.clustering.noise import cap_noise
from cluster_toolkit.errors import ClusteringError


def cosine_to_euclidean(eps: float) -> float:
    """Cosine distance ``1 - cos`` between unit vectors -> their euclidean distance ``sqrt(2 - 2 cos)``."""
    return float(np.sqrt(2.0 * eps))


def euclidean_to_cosine(eps: float) -> float:
    """Inverse of :func:`cosine_to_euclidean`."""
    return float(eps) ** 2 / 2.0


class DBSCANClusterer(CtkClusterer):
    """Density clustering: a core track has ``min_samples`` tracks (itself included) within ``eps``.

    Attributes after ``fit``: ``labels_`` (noise -1), ``core_sample_indices_``, ``components_`` (the core
    tracks in the working space: unit vectors unless metric="euclidean" and normalize=False), ``eps_`` (in
    ``metric`` units), ``eps_euclidean_`` (in the working space), ``eps_choice_`` (an :class:`EpsChoice` when
    eps="auto", else None), ``min_samples_`` (the one used: searched with eps="auto" unless given).
    """

    _constraints = {
        "eps": Constraint(Real, low=1e-12, extra=("auto",)),
        "min_samples": Constraint(Int, low=1, allow_none=True),
        "metric": Constraint(str, choices=METRICS),
        "normalize": Constraint(bool, choices=(True, False)),
        "random_state": Constraint(Int, low=0),
        "max_noise": Constraint(Real, low=0.0, high=1.0),
    }

    def __init__(
        self,
        eps: float | str = "auto",
        *,
        min_samples: int | None = None,
        metric: str = "cosine",
        normalize: bool = True,
        random_state: int = 0,
        max_noise: float = 1.0,
    ) -> None:
        self.eps = eps
        self.max_noise = max_noise
        self.min_samples = min_samples
        self.metric = metric
        self.normalize = normalize
        self.random_state = random_state

    def working_space(self, X: Any, *, owner: str = "dbscan") -> np.ndarray:
        """``X`` as DBSCAN sees it (normalised when the metric or ``normalize`` asks for it)."""
        return prepare(X, normalize=self.metric == "cosine" or self.normalize, min_rows=1, owner=owner)

    def fit(self, X: Any, y: Any = None) -> DBSCANClusterer:
        """Cluster ``X`` ``(n, d)``; returns self."""
        self._validate_params()
        data = self.working_space(X)
        if self.metric == "cosine" and self.eps != "auto" and self.eps > 2.0:
            raise ClusteringError(f"dbscan: eps={self.eps} is not a cosine distance (0 < eps <= 2)")
        if self.eps == "auto":
            smallest = self.min_samples or min(EPS_MIN_SAMPLES)
            if data.shape[0] <= smallest:
                raise ClusteringError(
                    f"dbscan: eps='auto' needs more than min_samples={smallest} tracks, got {data.shape[0]}"
                )
            self.eps_choice_: EpsChoice | None = choose_eps(
                data, min_samples=self.min_samples, random_state=self.random_state
            )
            eps_e = self.eps_choice_.eps
            self.min_samples_ = self.eps_choice_.min_samples
        else:
            self.eps_choice_ = None
            eps_e = cosine_to_euclidean(self.eps) if self.metric == "cosine" else float(self.eps)
            self.min_samples_ = 5 if self.min_samples is None else int(self.min_samples)
        model = DBSCAN(eps=eps_e, min_samples=self.min_samples_, metric="euclidean").fit(data)
        raw, self.noise_assigned_ = cap_noise(data, model.labels_, float(self.max_noise))
        self._set_result(raw, data.shape[1])
        self.core_sample_indices_ = np.asarray(model.core_sample_indices_, dtype=np.int64)
        self.components_ = data[self.core_sample_indices_].astype(np.float32)
        self.eps_euclidean_ = float(eps_e)
        self.eps_ = euclidean_to_cosine(eps_e) if self.metric == "cosine" else float(eps_e)
        chosen = "the eps search gave " if self.eps == "auto" else ""
        tries = "another --eps" if self.eps == "auto" else "--eps auto, another --eps"
        warn_if_degenerate(
            self.labels_,
            method="dbscan",
            advice=f"{chosen}eps={self.eps_:.4g} ({self.metric}), too small or too large for these tracks; "
            f"try {tries} or a different --min-samples, or use hdbscan",
        )
        return self


def dbscan_clustering(X: Any, eps: float | str = "auto", **params: Any) -> np.ndarray:
    """Functional twin of :class:`DBSCANClusterer`: the labels ``(n,)``."""
    return DBSCANClusterer(eps, **params).fit(X).labels_
