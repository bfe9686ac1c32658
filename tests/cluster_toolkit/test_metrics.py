import math

import numpy as np
import pytest

from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.metrics import external_metrics, internal_metrics, purity


def test_purity_by_hand():
    # predicted cluster 0 holds a,a,b -> 2; cluster 1 holds b,b -> 2; cluster 2 holds c -> 1: purity 5/6
    assert purity(list("aabbbc"), [0, 0, 1, 1, 0, 2]) == pytest.approx(5 / 6)


def test_external_metrics_by_hand():
    truth = ["a", "a", "b", "b"]
    pred = [0, 0, 0, 1]
    got = external_metrics(truth, pred)
    # hand computation: H(T) = ln 2; H(P) = -(3/4 ln 3/4 + 1/4 ln 1/4); I = H(T) - H(T|P)
    h_t = math.log(2)
    h_p = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    h_t_given_p = 0.75 * -(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3))
    mi = h_t - h_t_given_p
    assert got["nmi"] == pytest.approx(mi / ((h_t + h_p) / 2))
    assert got["homogeneity"] == pytest.approx(mi / h_t)
    assert got["completeness"] == pytest.approx(mi / h_p)
    assert got["purity"] == pytest.approx(3 / 4)
    # ARI by hand: sum C(n_ij,2) = C(2,2) + C(1,2)... = 1; a = C(2,2)*2 = 2; b = C(3,2)+C(1,2) = 3; C(4,2) = 6
    expected_index, index = 2 * 3 / 6, 1
    assert got["ari"] == pytest.approx((index - expected_index) / ((2 + 3) / 2 - expected_index))
    assert got["n_labelled"] == 4 and got["n_reference_classes"] == 2 and got["coverage"] == 1.0


def test_external_metrics_skip_missing_reference_and_count_noise():
    got = external_metrics(["a", None, "b", "", "b", np.nan], [0, 5, 1, 5, -1, 5])
    assert got["n_labelled"] == 3
    assert got["coverage"] == pytest.approx(2 / 3)
    assert got["purity"] == 1.0  # noise is a group of its own: {b}
    assert external_metrics(["x", "x", "y", "y"], [1, 1, 0, 0])["nmi"] == pytest.approx(1.0)
    with pytest.raises(ClusteringError, match="none of the tracks has a reference label"):
        external_metrics([None, None], [0, 1])
    with pytest.raises(ClusteringError, match="3 reference labels for 2 predicted"):
        external_metrics(["a", "b", "c"], [0, 1])


def test_internal_metrics_by_hand():
    # unit vectors: cluster 0 = {(1,0), (1,0)}, cluster 1 = {(0,1), (0,1)}; noise row ignored
    X = np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 3.0], [0.0, 1.0], [1.0, 1.0]])
    got = internal_metrics(X, np.array([0, 0, 1, 1, -1]))
    assert got["silhouette"] == pytest.approx(1.0)  # intra cosine distance 0, inter 1
    assert got["davies_bouldin"] == pytest.approx(0.0)
    assert got["n_scored"] == 4 and got["noise_fraction"] == pytest.approx(0.2)
    # calinski-harabasz: zero within-cluster dispersion -> scikit-learn returns 1.0 by convention
    assert got["calinski_harabasz"] == pytest.approx(1.0)


def test_internal_metrics_davies_bouldin_and_ch_nontrivial():
    X = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    labels = np.array([0, 0, 1, 1])
    got = internal_metrics(X, labels)
    c0, c1 = X[:2].mean(0), X[2:].mean(0)
    s0 = np.linalg.norm(X[:2] - c0, axis=1).mean()
    s1 = np.linalg.norm(X[2:] - c1, axis=1).mean()
    assert got["davies_bouldin"] == pytest.approx((s0 + s1) / np.linalg.norm(c0 - c1))
    overall = X.mean(0)
    between = 2 * np.sum((c0 - overall) ** 2) + 2 * np.sum((c1 - overall) ** 2)
    within = np.sum((X[:2] - c0) ** 2) + np.sum((X[2:] - c1) ** 2)
    assert got["calinski_harabasz"] == pytest.approx(between / within * (4 - 2) / (2 - 1))


def test_internal_metrics_undefined_cases_are_none():
    X = np.eye(3)
    got = internal_metrics(X, np.array([0, 0, 0]))
    assert got["silhouette"] is None and got["davies_bouldin"] is None
    assert internal_metrics(X, np.array([-1, -1, -1]))["noise_fraction"] == 1.0
    with pytest.raises(ClusteringError, match="labels for a matrix"):
        internal_metrics(X, np.array([0, 1]))
