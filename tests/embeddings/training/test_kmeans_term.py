import numpy as np
import pytest
import torch

from embeddings.errors import CtkError
from embeddings.training.kmeans_term import KMeansTerm


def test_loss_before_fit_is_an_error_not_an_assert():
    term = KMeansTerm(k=2, weight=1.0, max_fragments=10, seed=0, n_train=[4])
    with pytest.raises(CtkError, match=r"k-means term \(k=2\): loss\(\) called before fit\(\)"):
        term.loss(torch.zeros(3, 4))
    term.fit(np.array([[1.0, 0], [0.9, 0.1], [0, 1.0], [0.1, 0.9]]), epoch=0)
    assert term.loss(torch.tensor([[1.0, 0.0], [0.0, 1.0]])).item() == pytest.approx(0.0, abs=0.05)
