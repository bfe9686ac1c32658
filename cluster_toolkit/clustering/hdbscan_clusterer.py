"""HDBSCAN (the ``hdbscan`` package) on L2-normalised embeddings, optionally reduced by PCA first.

Density estimates degrade in high dimensions and hdbscan's tree-based Boruvka minimum spanning tree, the part
that makes it fast, only works in low ones (on 128-d blobs it is no faster than brute force). So with
``n_components="auto"`` vectors with more than 10 dimensions are projected by PCA (seeded, scikit-learn) to 10
before the density clustering (on 30k tracks 16 dims took ~3x as long as 10, and 8 started to lose tracks to
noise); on the unit sphere the projected euclidean distances approximate ``sqrt(2 - 2 cos)``. Set
``n_components=None`` to cluster the full vectors.

``min_cluster_size=None`` and ``min_samples=None`` take :func:`hdbscan_defaults` of the library size. The fit
keeps soft membership (``probabilities_``), GLOSH ``outlier_scores_`` and, with ``prediction_data=True``, what
:func:`hdbscan.approximate_predict` needs to place new tracks (see :mod:`cluster_toolkit.clustering.assign`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cluster_toolkit.clustering.auto_params import hdbscan_defaults
from cluster_toolkit.clustering.base import Constraint, CtkClusterer, Int, Real, prepare, warn_if_degenerate
from cluster_toolkit.errors import ClusteringError


class HDBSCANClusterer(CtkClusterer):
    """Hierarchical density clustering with noise.

    Attributes after ``fit``: ``labels_`` (noise -1), ``probabilities_`` ``(n,)`` (membership strength in
    [0, 1], 0 for noise), ``outlier_scores_`` ``(n,)`` (GLOSH), ``model_`` (the fitted ``hdbscan.HDBSCAN``,
    in its own label numbering), ``label_map_`` (hdbscan label -> ctk label), ``pca_`` (the fitted PCA or
    None), ``min_cluster_size_`` and ``min_samples_`` (as used).
    """

    _constraints = {
        "min_cluster_size": Constraint(Int, low=2, allow_none=True),
        "min_samples": Constraint(Int, low=1, allow_none=True),
        "cluster_selection_method": Constraint(str, choices=("eom", "leaf")),
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
        cluster_selection_method: str = "eom",
        cluster_selection_epsilon: float = 0.0,
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
        defaults = hdbscan_defaults(n)
        self.min_cluster_size_ = int(self.min_cluster_size or defaults.min_cluster_size)
        self.min_samples_ = int(self.min_samples or min(defaults.min_samples, self.min_cluster_size_))
        if self.min_cluster_size_ > n:
            raise ClusteringError(
                f"hdbscan: min_cluster_size={self.min_cluster_size_} is more than the {n} tracks; "
                f"use --min-cluster-size {max(2, n // 4)} or less"
            )
        if self.min_samples_ >= n:
            raise ClusteringError(f"hdbscan: min_samples={self.min_samples_} must be below the {n} tracks")
        self.pca_ = self._fit_pca(data)
        space = self.pca_.transform(data) if self.pca_ is not None else data
        model = hdbscan.HDBSCAN(
            min_cluster_size=self.min_cluster_size_,
            min_samples=self.min_samples_,
            metric="euclidean",
            cluster_selection_method=self.cluster_selection_method,
            cluster_selection_epsilon=float(self.cluster_selection_epsilon),
            prediction_data=self.prediction_data,
            allow_single_cluster=self.allow_single_cluster,
            core_dist_n_jobs=self.core_dist_n_jobs,
            approx_min_span_tree=True,
        ).fit(np.ascontiguousarray(space, dtype=np.float64))
        self.model_ = model
        self.label_map_ = self._set_result(model.labels_, d)
        self.probabilities_ = np.asarray(model.probabilities_, dtype=np.float64)
        scores = np.asarray(model.outlier_scores_, dtype=np.float64)
        self.outlier_scores_ = np.nan_to_num(scores, nan=0.0)
        warn_if_degenerate(
            self.labels_,
            method="hdbscan",
            advice=f"min_cluster_size={self.min_cluster_size_}, min_samples={self.min_samples_}: "
            "try a smaller --min-cluster-size, cluster_selection_method='leaf' for finer clusters, or "
            "allow_single_cluster=True if the tracks really form one group",
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
