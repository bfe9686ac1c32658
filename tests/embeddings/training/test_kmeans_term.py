import numpy as np
import pytest
import torch

from embeddings.errors import CtkError
from embeddings.training.kmeans_term import KMeansTerm


def test_loss_before_fit_is_an_error_not_an_assert():
    term = KMeansTerm(k=2, weight=1.0, max_fragments=10, seed=0, n_train=[4])
    with pytest.raises(CtkError, match=r"kmeans term \(k=2\): loss\(\) called before fit\(\)"):
        term.loss(torch.zeros(3, 4))
    term.fit(np.array([[1.0, 0], [0.9, 0.1], [0, 1.0], [0.1, 0.9]]), epoch=0)
    assert term.loss(torch.tensor([[1.0, 0.0], [0.0, 1.0]])).item() == pytest.approx(0.0, abs=0.05)


def test_dec_term_scale_and_sizes_come_from_the_fit_and_resume():
    term = KMeansTerm(k=2, weight=1.0, max_fragments=10, seed=0, n_train=[4], kind="dec")
    x = np.array([[1.0, 0], [0.96, 0.28], [0, 1.0], [0.28, 0.96]])  # unit rows, two tight pairs
    report = term.fit(x, epoch=0)
    assert term.scale == pytest.approx(report["kmeans_inertia_mean"]) and term.scale == pytest.approx(0.02, abs=1e-6)
    assert float(term.frequencies.sum()) == pytest.approx(4.0)  # soft sizes of the 4 fitted rows
    assert term.frequencies.tolist() == pytest.approx([2.0, 2.0], abs=1e-6)  # the fixture is symmetric
    # self-training: a confident row (on its centroid) is sharpened further, an undecided one (half-way,
    # Q uniform, sizes equal, so P = Q) teaches nothing
    assert float(term.loss(term.centroids * 5)) == pytest.approx(0.0128, abs=1e-4)
    assert float(term.loss(torch.tensor([[0.7071, 0.7071], [0.7071, 0.7071]]))) == pytest.approx(0.0, abs=1e-6)
    again = KMeansTerm(k=2, weight=1.0, max_fragments=10, seed=0, n_train=[4], kind="dec")
    again.load_state_dict(term.state_dict())
    assert float(again.loss(term.centroids)) == pytest.approx(float(term.loss(term.centroids)))
    with pytest.raises(CtkError, match="kind='soft'"):
        KMeansTerm(k=2, weight=1.0, max_fragments=10, seed=0, n_train=[4], kind="soft")
