import numpy as np
import pytest

from cluster_toolkit.clustering.base import (
    Constraint,
    Int,
    canonical_labels,
    check_embeddings,
    l2_normalize,
)
from cluster_toolkit.errors import ClusteringError


def test_canonical_labels_orders_by_size_then_first_row_and_keeps_noise():
    labels, mapping = canonical_labels(np.array([7, 3, 3, -1, 7, 5, 3, 5]))
    # sizes: 3 -> 3 rows, 7 -> 2 (first at row 0), 5 -> 2 (first at row 5)
    assert labels.tolist() == [1, 0, 0, -1, 1, 2, 0, 2]
    assert mapping == {3: 0, 7: 1, 5: 2, -1: -1}


def test_canonical_labels_all_noise_and_empty():
    assert canonical_labels(np.array([-1, -1]))[0].tolist() == [-1, -1]
    assert canonical_labels(np.array([], dtype=int))[0].tolist() == []


def test_l2_normalize_gives_unit_rows_and_rejects_zero_rows():
    X = np.array([[3.0, 4.0], [0.0, 2.0]])
    np.testing.assert_allclose(l2_normalize(X), [[0.6, 0.8], [0.0, 1.0]])
    with pytest.raises(ClusteringError, match="1 rows are all-zero.*row 1"):
        l2_normalize(np.array([[1.0, 0.0], [0.0, 0.0]]))


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros(5), "2-D matrix"),
        (np.zeros((1, 3)), "at least 2 rows"),
        (np.array([[1.0, np.nan], [1.0, 2.0]]), "1 rows contain NaN"),
        (np.array([["a", "b"], ["c", "d"]]), "expected numbers"),
    ],
)
def test_check_embeddings_rejects_bad_input(X, message):
    with pytest.raises(ClusteringError, match=message):
        check_embeddings(X, min_rows=2)


def test_constraint_message_names_parameter_and_value():
    with pytest.raises(ClusteringError, match=r"Thing: n_clusters=0 is invalid; expected Integral >= 1"):
        Constraint(Int, low=1).check("Thing", "n_clusters", 0)
    with pytest.raises(ClusteringError, match="True"):
        Constraint(Int, low=1).check("Thing", "n", True)
    Constraint(Int, low=1, extra=("auto",)).check("Thing", "k", "auto")
