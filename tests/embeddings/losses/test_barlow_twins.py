import pytest
import torch

from embeddings.errors import ConfigError
from embeddings.losses import BarlowTwinsLoss
from embeddings.losses.barlow_twins import positive_pairs


def _reference(z, groups, lam, eps=1e-5):
    n, d = z.shape
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j and groups[i] == groups[j]]
    a = [z[i].tolist() for i, _ in pairs]
    b = [z[j].tolist() for _, j in pairs]
    p = len(pairs)

    def standardise(rows):
        cols = list(zip(*rows, strict=True))
        out = []
        for col in cols:
            mean = sum(col) / p
            std = (sum((x - mean) ** 2 for x in col) / p) ** 0.5
            out.append([(x - mean) / (std + eps) for x in col])
        return out  # d lists of p values

    sa, sb = standardise(a), standardise(b)
    loss = 0.0
    for k in range(d):
        for m in range(d):
            c = sum(sa[k][q] * sb[m][q] for q in range(p)) / p
            loss += (1 - c) ** 2 if k == m else lam * c**2
    return loss


@pytest.mark.parametrize("groups", [[0, 1, 2, 3, 0, 1, 2, 3], [0, 0, 0, 1, 1, 1, 2, 2]])
def test_matches_reference_loop(groups):
    z = torch.randn(len(groups), 5, generator=torch.Generator().manual_seed(0))
    got = BarlowTwinsLoss(lambda_offdiag=0.01)(z, torch.tensor(groups))
    assert got.item() == pytest.approx(_reference(z, groups, 0.01), rel=1e-4)


def test_pairs_come_in_both_orders():
    a, b = positive_pairs(torch.tensor([0, 1, 0, 0]))
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    assert pairs == {(0, 2), (2, 0), (0, 3), (3, 0), (2, 3), (3, 2)}


def test_symmetric_under_permutation():
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    g = torch.tensor([0, 1, 2, 0, 1, 2])
    perm = torch.tensor([3, 4, 5, 0, 1, 2])  # swap the two views
    loss = BarlowTwinsLoss()
    assert loss(z, g).item() == pytest.approx(loss(z[perm], g[perm]).item(), rel=1e-5)


def test_identical_decorrelated_twins_give_near_zero_loss():
    # 3 orthogonal directions, each group's members identical: C = identity
    base = torch.tensor([[1.0, -1.0, 0.0], [-1.0, 0.0, 1.0], [0.0, 1.0, -1.0], [1.0, 1.0, 1.0]])
    z = torch.cat([base, base])
    g = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    c_loss = BarlowTwinsLoss(lambda_offdiag=0.0)(z, g)
    assert c_loss.item() == pytest.approx(0.0, abs=1e-6)


def test_refuses_batches_without_pairs_and_bad_lambda():
    with pytest.raises(ConfigError, match="0 positive pair"):
        BarlowTwinsLoss()(torch.randn(3, 2), torch.tensor([0, 1, 2]))
    with pytest.raises(ConfigError, match="lambda_offdiag=-1"):
        BarlowTwinsLoss(lambda_offdiag=-1)
    with pytest.raises(ConfigError, match="2-D float"):
        BarlowTwinsLoss()(torch.randn(2, 2, 2), torch.tensor([0, 0]))
