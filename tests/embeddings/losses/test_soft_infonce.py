import math

import pytest
import torch

from embeddings.errors import ConfigError
from embeddings.losses import InfoNCELoss, SoftInfoNCELoss
from embeddings.losses.soft_infonce import negative_weights


def _reference(z, groups, similarity, tau, beta):
    z = torch.nn.functional.normalize(z, dim=1).tolist()
    n = len(z)

    def s(i, j):
        return sum(a * b for a, b in zip(z[i], z[j], strict=True)) / tau

    losses = []
    for i in range(n):
        positives = [j for j in range(n) if j != i and groups[j] == groups[i]]
        negatives = [j for j in range(n) if groups[j] != groups[i]]
        if not positives:
            continue
        raw = {j: max(0.0, 1 - beta * similarity[i][j]) for j in negatives}
        total = sum(raw.values())
        w = {j: raw[j] * len(negatives) / total for j in negatives}
        denominator = sum(math.exp(s(i, p)) for p in positives) + sum(w[j] * math.exp(s(i, j)) for j in negatives)
        losses.append(-sum(s(i, p) - math.log(denominator) for p in positives) / len(positives))
    return sum(losses) / len(losses)


def _batch(seed, groups):
    g = torch.Generator().manual_seed(seed)
    n = len(groups)
    similarity = torch.rand(n, n, generator=g)
    return torch.randn(n, 6, generator=g), torch.tensor(groups), (similarity + similarity.T) / 2


@pytest.mark.parametrize("groups", [[0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 2, 3, 3]])
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_matches_reference_loop(groups, beta):
    z, g, similarity = _batch(0, groups)
    got = SoftInfoNCELoss(temperature=0.2, beta=beta)(z, g, similarity)
    assert got.item() == pytest.approx(_reference(z, groups, similarity.tolist(), 0.2, beta), rel=1e-5)


@pytest.mark.parametrize("level", [0.0, 0.3, 1.0])
def test_uniform_similarity_is_plain_infonce(level):
    z, g, _ = _batch(1, [0, 0, 1, 1, 2, 2, 3, 3])
    uniform = torch.full((8, 8), level)
    soft = SoftInfoNCELoss(temperature=0.1, beta=0.7)(z, g, uniform)
    assert soft.item() == pytest.approx(InfoNCELoss(temperature=0.1)(z, g).item(), rel=1e-6)


def test_similar_negatives_weigh_less():
    z, g, _ = _batch(2, [0, 0, 1, 1])
    similarity = torch.zeros(4, 4)
    similarity[0, 2] = similarity[2, 0] = 1.0
    weights = negative_weights(similarity, g[:, None] != g[None, :], beta=0.8)
    assert weights[0, 2] < weights[0, 3]
    assert weights[0, 2:].mean().item() == pytest.approx(1.0)
    assert weights[0, :2].sum() == 0


def test_symmetric_under_permutation():
    z, g, similarity = _batch(3, [0, 1, 2, 0, 1, 2])
    perm = torch.tensor([5, 2, 0, 4, 1, 3])
    loss = SoftInfoNCELoss()
    expected = loss(z, g, similarity).item()
    assert loss(z[perm], g[perm], similarity[perm][:, perm]).item() == pytest.approx(expected, rel=1e-6)


def test_bad_inputs_are_refused():
    z, g, similarity = _batch(4, [0, 0, 1, 1])
    with pytest.raises(ConfigError, match=r"similarity must be \(4, 4\)"):
        SoftInfoNCELoss()(z, g, similarity[:3])
    with pytest.raises(ConfigError, match=r"in \[0, 1\]"):
        SoftInfoNCELoss()(z, g, similarity + 1)
    with pytest.raises(ConfigError, match="beta=2"):
        SoftInfoNCELoss(beta=2)
    with pytest.raises(ConfigError, match=r"must have shape \(4,\)"):
        SoftInfoNCELoss()(z, g[:3], similarity)
