"""What every ctk clusterer shares: input checks, L2 normalisation, parameter constraints, label order.

The estimators follow the scikit-learn contract: ``__init__`` only stores parameters, ``fit(X)`` validates
them against the class's ``_constraints`` (declared once per class), returns ``self`` and sets ``labels_``
(noise = -1), ``n_features_in_`` and ``n_clusters_``.

Metric. Embeddings are L2-normalised before clustering (``normalize=True``). On unit vectors
``||a - b||^2 = 2 - 2 cos(a, b)``, so euclidean distance is a monotone function of cosine distance: k-means
and Ward linkage run on euclidean distances of the unit vectors (which is cosine geometry), and DBSCAN's
``eps`` is given in the units of the chosen ``metric`` and converted.

Label order. Labels are renumbered by :func:`canonical_labels`: cluster 0 is the largest, ties broken by the
first row that belongs to the cluster; so a clustering gives the same labels whatever internal numbering the
underlying library used, and reports list the big clusters first.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from cluster_toolkit.errors import ClusteringError

NOISE = -1
METRICS = ("cosine", "euclidean")


class ClusteringWarning(UserWarning):
    """A clustering finished but its result is degenerate (all noise, a single cluster...)."""


class Constraint:
    """A declared constraint on one parameter; ``check`` raises :class:`ClusteringError` naming the value."""

    def __init__(
        self,
        kind: type | tuple[type, ...],
        *,
        low: float | None = None,
        high: float | None = None,
        choices: tuple[Any, ...] | None = None,
        allow_none: bool = False,
        extra: tuple[Any, ...] = (),
    ) -> None:
        self.kind, self.low, self.high = kind, low, high
        self.choices, self.allow_none, self.extra = choices, allow_none, extra

    def describe(self) -> str:
        if self.choices is not None:
            text = " | ".join(repr(c) for c in self.choices)
        else:
            names = self.kind if isinstance(self.kind, tuple) else (self.kind,)
            text = " or ".join(getattr(t, "__name__", str(t)) for t in names)
            if self.low is not None:
                text += f" >= {self.low}"
            if self.high is not None:
                text += f" <= {self.high}"
        extras = [repr(e) for e in self.extra] + (["None"] if self.allow_none else [])
        return text + "".join(f" or {e}" for e in extras)

    def check(self, owner: str, name: str, value: Any) -> None:
        if value is None and self.allow_none:
            return
        if any(value == e and type(value) is type(e) for e in self.extra):
            return
        if self.choices is not None:
            ok = value in self.choices
        else:
            ok = isinstance(value, self.kind) and not isinstance(value, bool)
            if ok and self.low is not None:
                ok = value >= self.low
            if ok and self.high is not None:
                ok = value <= self.high
        if not ok:
            raise ClusteringError(f"{owner}: {name}={value!r} is invalid; expected {self.describe()}")


Int = numbers.Integral
Real = numbers.Real


class CtkClusterer(ClusterMixin, BaseEstimator):
    """Base of the ctk estimators: parameter validation and the shared result attributes."""

    _constraints: Mapping[str, Constraint] = {}

    def _validate_params(self) -> None:
        owner = type(self).__name__
        for name, constraint in self._constraints.items():
            constraint.check(owner, name, getattr(self, name))

    def _set_result(self, labels: np.ndarray, n_features: int) -> np.ndarray:
        """Store canonical labels and the counts derived from them; returns the old->new label mapping."""
        self.labels_, mapping = canonical_labels(labels)
        self.n_features_in_ = int(n_features)
        self.n_clusters_ = int(self.labels_.max() + 1) if self.labels_.size else 0
        self.n_noise_ = int(np.sum(self.labels_ == NOISE))
        return mapping


def check_embeddings(X: Any, *, min_rows: int = 2, owner: str = "clustering") -> np.ndarray:
    """Validate a ``(n, d)`` finite numeric matrix; returns it as a float array (never the caller's buffer
    modified in place: later steps always copy)."""
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ClusteringError(f"{owner}: expected a 2-D matrix (n_tracks, dim), got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ClusteringError(f"{owner}: needs at least {min_rows} rows, got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise ClusteringError(f"{owner}: the matrix has no columns (shape {arr.shape})")
    if not np.issubdtype(arr.dtype, np.number):
        raise ClusteringError(f"{owner}: expected numbers, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.all(np.isfinite(arr), axis=1)))
        raise ClusteringError(f"{owner}: {bad} rows contain NaN or infinity")
    return arr


def l2_normalize(X: np.ndarray) -> np.ndarray:
    """A new array whose rows have unit L2 norm. ``(n, d) -> (n, d)``; zero rows raise (they have no
    direction, so no cosine similarity)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    zero = np.flatnonzero(norms[:, 0] == 0)
    if zero.size:
        raise ClusteringError(
            f"{zero.size} rows are all-zero vectors (first at row {zero[0]}); they cannot be L2-normalised. "
            "Remove them or cluster with normalize=False"
        )
    return X / norms


def prepare(X: Any, *, normalize: bool, min_rows: int, owner: str, dtype: type = np.float64) -> np.ndarray:
    """Checked, optionally L2-normalised copy of ``X`` in ``dtype``."""
    arr = check_embeddings(X, min_rows=min_rows, owner=owner)
    arr = np.array(arr, dtype=dtype, copy=True)
    return l2_normalize(arr) if normalize else arr


def canonical_labels(labels: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Renumber clusters 0..k-1 by decreasing size (ties: first row of the cluster); noise stays -1.

    Returns the new labels (int64) and the mapping ``{old_label: new_label}``.
    """
    labels = np.asarray(labels).astype(np.int64).ravel()
    if labels.size == 0:
        return labels.copy(), {NOISE: NOISE}
    uniq, first, inverse, counts = np.unique(
        labels, return_index=True, return_inverse=True, return_counts=True
    )
    is_cluster = uniq != NOISE
    order = sorted(np.flatnonzero(is_cluster).tolist(), key=lambda i: (-counts[i], first[i]))
    new_of_uniq = np.full(uniq.size, NOISE, dtype=np.int64)
    new_of_uniq[order] = np.arange(len(order))
    mapping = {int(uniq[i]): int(new_of_uniq[i]) for i in range(uniq.size)}
    mapping[NOISE] = NOISE
    return new_of_uniq[inverse], mapping


def warn_if_degenerate(labels: np.ndarray, *, method: str, advice: str) -> None:
    """Warn (never raise) when a finished clustering found nothing useful: all noise or a single cluster."""
    n = labels.size
    n_noise = int(np.sum(labels == NOISE))
    n_clusters = len(set(labels.tolist()) - {NOISE})
    if n_clusters == 0:
        warnings.warn(
            f"{method}: no clusters found, all {n} tracks are noise (-1). {advice}",
            ClusteringWarning,
            stacklevel=3,
        )
    elif n_clusters == 1 and n > 1:
        warnings.warn(
            f"{method}: only one cluster found ({n - n_noise} tracks, {n_noise} noise). {advice}",
            ClusteringWarning,
            stacklevel=3,
        )
