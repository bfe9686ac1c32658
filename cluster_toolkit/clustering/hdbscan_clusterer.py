"""HDBSCAN (the ``hdbscan`` package) on L2-normalised embeddings, optionally reduced by PCA first.

Density estimates degrade in high dimensions and hdbscan's tree-based Boruvka minimum spanning tree, the part
that makes it fast, only works in low ones (on 128-d blobs it is no faster than brute force). So with
``n_components="auto"`` vectors with more than 10 dimensions are projected by PCA (seeded, scikit-learn) to 10
before the density clustering (on 30k tracks 16 dims took ~3x as long as 10, and 8 started to lose tracks to
noise); on the unit sphere the projected euclidean distances approximate ``sqrt(2 - 2 cos)``. Set
``n_components=None`` to cluster the full vectors.

Parameters left at ``None`` (and ``cluster_selection_method="auto"``) are chosen from the data by
:func:`~cluster_toolkit.clustering.hdbscan_search.search_hdbscan_params` (a small grid scored by DBCV relative
validity). At most ``max_noise`` of the tracks (default 0.2) stay noise: the others join the cluster of their
nearest clustered track (:func:`~cluster_toolkit.clustering.noise.cap_noise`); ``max_noise=0`` assigns all
noise, ``max_noise=1`` keeps HDBSCAN's noise as it is. The fit keeps soft membership (``probabilities_``),
GLOSH ``outlier_scores_`` and, with ``prediction_data=True``, what
:func:`hdbscan.approximate_predict` needs to place new tracks (see :mod:`cluster_toolkit.clustering.assign`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cluster_toolkit.clustering.base import Constraint, CtkClusterer, Int, Real, prepare, warn_if_degenerate
from cluster_toolkit.clustering.hdbscan_search import search_hdbscan_params
from cluster_toolkit.clustering.noise import cap_noise
from cluster_toolkit.errors import ClusteringError


class HDBSCANClusterer(CtkClusterer):
    """Hierarchical density clustering with noise.

    Attributes after ``fit``: ``labels_`` (noise -1), ``probabilities_`` ``(n,)`` (membership strength in
    [0, 1], 0 for noise), ``outlier_scores_`` ``(n,)`` (GLOSH), ``model_`` (the fitted ``hdbscan.HDBSCAN``,
    in its own label numbering), ``label_map_`` (hdbscan label -> ctk label), ``pca_`` (the fitted PCA or
    None), ``min_cluster_size_``, ``min_samples_`` and ``cluster_selection_method_`` (as used), ``search_``
    (the :class:`HDBSCANChoice` when something was searched, else None), ``noise_assigned_`` ``(n,)`` bool
    (HDBSCAN noise that joined its nearest cluster to respect ``max_noise``; their probability stays 0).
    """

    _constraints = {
        "min_cluster_size": Constraint(Int, low=2, allow_none=True),
        "min_samples": Constraint(Int, low=1, allow_none=True),
        "cluster_selection_method": Constraint(str, choices=("auto", "eom", "leaf")),
        "max_noise": Constraint(Real, low=0.0, high=1.0),
        "cluster_selection_epsilon": Constraint(Real, low=0.0),
        "n_components": Constraint(Int, low=1, allow_none=True, extra=("auto",)),
        "prediction_data": Constraint(bool, choices=(True, False)),
        "allow_single_cluster": Constraint(bool, choices=(True, False)),
        "random_state": Constraint(Int, low=0),
        "normalize": Constraint(bool, choices=(True, False)),
        "core_dist_n_jobs": Constraint(Int, low=-1),
    }

    def __init__(
        self,
        min_cluster_size: int | None = None,
        *,
        min_samples: int | None = None,
        cluster_selection_method: str = "auto",
        cluster_selection_epsilon: float = 0.0,
        max_noise: float = 0.2,
        n_components: int | str | None = "auto",
        prediction_data: bool = True,
        allow_single_cluster: bool = False,
        random_state: int = 0,
        normalize: bool = True,
        core_dist_n_jobs: int = -1,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method
        self.cluster_selection_epsilon = cluster_selection_epsilon
        self.max_noise = max_noise
        self.n_components = n_components
        self.prediction_data = prediction_data
        self.allow_single_cluster = allow_single_cluster
        self.random_state = random_state
        self.normalize = normalize
        self.core_dist_n_jobs = core_dist_n_jobs

    def fit(self, X: Any, y: Any = None) -> HDBSCANClusterer:
        """Cluster ``X`` ``(n, d)``; returns self."""
        import hdbscan

        self._validate_params()
        data = prepare(X, normalize=self.normalize, min_rows=2, owner="hdbscan")
        n, d = data.shape
        if self.min_cluster_size is not None and self.min_cluster_size > n:
            raise ClusteringError(
                f"hdbscan: min_cluster_size={self.min_cluster_size} is more than the {n} tracks; "
                f"use --min-cluster-size {max(2, n // 4)} or less"
            )
        if self.min_samples is not None and self.min_samples >= n:
            raise ClusteringError(f"hdbscan: min_samples={self.min_samples} must be below the {n} tracks")
        self.pca_ = self._fit_pca(data)
        space = self.pca_.transform(data) if self.pca_ is not None else data
        method = None if self.cluster_selection_method == "auto" else self.cluster_selection_method
        if self.min_cluster_size is None or self.min_samples is None or method is None:
            self.search_ = search_hdbscan_params(
                space, min_cluster_size=self.min_cluster_size, min_samples=self.min_samples,
                cluster_selection_method=method, random_state=self.random_state,
                core_dist_n_jobs=self.core_dist_n_jobs,
            )
            self.min_cluster_size_ = self.search_.min_cluster_size
            self.min_samples_ = self.search_.min_samples
            self.cluster_selection_method_ = self.search_.cluster_selection_method
        else:
            self.search_ = None
            self.min_cluster_size_ = int(self.min_cluster_size)
            self.min_samples_ = int(self.min_samples)
            self.cluster_selection_method_ = method
        model = hdbscan.HDBSCAN(
            min_cluster_size=self.min_cluster_size_,
            min_samples=self.min_samples_,
            metric="euclidean",
            cluster_selection_method=self.cluster_selection_method_,
            cluster_selection_epsilon=float(self.cluster_selection_epsilon),
            prediction_data=self.prediction_data,
            allow_single_cluster=self.allow_single_cluster,
            core_dist_n_jobs=self.core_dist_n_jobs,
            approx_min_span_tree=True,
        ).fit(np.ascontiguousarray(space, dtype=np.float64))
        self.model_ = model
        raw = np.asarray(model.labels_)
        if raw.size and raw.max() >= 0:
            raw, self.noise_assigned_ = cap_noise(space, raw, float(self.max_noise))
        else:
            self.noise_assigned_ = np.zeros(n, dtype=bool)
        self.label_map_ = self._set_result(raw, d)
        self.probabilities_ = np.asarray(model.probabilities_, dtype=np.float64)
        scores = np.asarray(model.outlier_scores_, dtype=np.float64)
        self.outlier_scores_ = np.nan_to_num(scores, nan=0.0)
        warn_if_degenerate(
            self.labels_,
            method="hdbscan",
            advice=f"min_cluster_size={self.min_cluster_size_}, min_samples={self.min_samples_}, "
            f"selection={self.cluster_selection_method_}: try a smaller --min-cluster-size or --min-samples, "
            "--selection leaf for finer clusters, --allow-single-cluster if the tracks really form one group, "
            "or --method kmeans --k auto",
        )
        return self

    def _fit_pca(self, data: np.ndarray):
        target = self.n_components
        if target == "auto":
            target = 10 if data.shape[1] > 10 else None
        if target is None or target >= data.shape[1]:
            return None
        from sklearn.decomposition import PCA

        target = min(int(target), data.shape[0])
        return PCA(n_components=target, random_state=self.random_state).fit(data)

    def transform_new(self, X: Any) -> np.ndarray:
        """New vectors mapped into the space the model was fitted in (normalised, then PCA if any)."""
        if not hasattr(self, "model_"):
            raise ClusteringError("hdbscan: call fit before placing new tracks")
        data = prepare(X, normalize=self.normalize, min_rows=1, owner="hdbscan")
        if data.shape[1] != self.n_features_in_:
            raise ClusteringError(
                f"hdbscan: new vectors have {data.shape[1]} dimensions, "
                f"the run was fitted on {self.n_features_in_}"
            )
        return self.pca_.transform(data) if self.pca_ is not None else data


def hdbscan_clustering(X: Any, min_cluster_size: int | None = None, **params: Any) -> np.ndarray:
    """Functional twin of :class:`HDBSCANClusterer`: the labels ``(n,)``."""
    return HDBSCANClusterer(min_cluster_size, **params).fit(X).labels_
