import math

import pytest
import torch

from embeddings.errors import ConfigError
from embeddings.losses import SkipGramLoss
from embeddings.losses.skipgram import sample_negatives


def _reference(z, groups, negatives, tau):
    z = torch.nn.functional.normalize(z, dim=1).tolist()
    n = len(z)

    def s(i, j):
        return sum(a * b for a, b in zip(z[i], z[j], strict=True)) / tau

    def log_sigmoid(x):
        return -math.log1p(math.exp(-x))

    pairs = [(i, j) for i in range(n) for j in range(n) if i != j and groups[i] == groups[j]]
    total = 0.0
    for (i, j), negs in zip(pairs, negatives, strict=True):
        total += -log_sigmoid(s(i, j)) - sum(log_sigmoid(-s(i, m)) for m in negs)
    return total / len(pairs)


@pytest.mark.parametrize("groups", [[0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 2, 2, 2]])
def test_matches_reference_loop(groups):
    z = torch.randn(len(groups), 5, generator=torch.Generator().manual_seed(0))
    g = torch.tensor(groups)
    anchors = torch.nonzero(g[:, None] == g[None, :])
    anchors = anchors[anchors[:, 0] != anchors[:, 1]][:, 0]
    negatives = sample_negatives(g, anchors, 4, generator=torch.Generator().manual_seed(1))
    got = SkipGramLoss(k=4, temperature=0.5)(z, g, negatives=negatives)
    assert got.item() == pytest.approx(_reference(z, groups, negatives.tolist(), 0.5), rel=1e-5)


def test_negatives_come_from_other_groups_only():
    g = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    anchors = torch.arange(7)
    negatives = sample_negatives(g, anchors, 50, generator=torch.Generator().manual_seed(0))
    assert negatives.shape == (7, 50)
    assert (g[negatives] != g[anchors][:, None]).all()
    assert set(negatives[0].tolist()) == {2, 3, 4, 5, 6}  # all candidates get drawn


def test_sampling_is_seeded():
    z = torch.randn(6, 3)
    g = torch.tensor([0, 0, 1, 1, 2, 2])
    loss = SkipGramLoss()
    a = loss(z, g, generator=torch.Generator().manual_seed(5))
    b = loss(z, g, generator=torch.Generator().manual_seed(5))
    assert a.item() == b.item()


def test_symmetric_in_the_two_views():
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
    g = torch.tensor([0, 1, 0, 1])
    negatives = torch.tensor([[1], [0], [3], [2]])  # pairs (0,2) (1,3) (2,0) (3,1), negatives fixed
    perm = torch.tensor([2, 3, 0, 1])
    negatives_perm = torch.tensor([[1], [0], [3], [2]])  # the same negatives, renamed
    loss = SkipGramLoss(k=1)
    assert loss(z, g, negatives=negatives).item() == pytest.approx(
        loss(z[perm], g[perm], negatives=negatives_perm).item(), rel=1e-6
    )


def test_bad_inputs_are_refused():
    with pytest.raises(ConfigError, match="k=0"):
        SkipGramLoss(k=0)
    with pytest.raises(ConfigError, match="no positive pair"):
        SkipGramLoss()(torch.randn(3, 2), torch.tensor([0, 1, 2]))
    with pytest.raises(ConfigError, match="no item of another group"):
        SkipGramLoss()(torch.randn(3, 2), torch.tensor([0, 0, 0]))
    with pytest.raises(ConfigError, match=r"negatives must be \(2, k\)"):
        SkipGramLoss()(torch.randn(3, 2), torch.tensor([0, 0, 1]), negatives=torch.zeros(3, 2, dtype=torch.long))
