import math

import pytest
import torch

from embeddings.errors import ConfigError
from embeddings.losses import InfoNCELoss, build_loss


def _reference(z, groups, tau):
    """Slow loop: the SupCon L_out formula, pair by pair."""
    z = torch.nn.functional.normalize(z, dim=1).tolist()
    n = len(z)

    def s(i, j):
        return sum(a * b for a, b in zip(z[i], z[j], strict=True)) / tau

    losses = []
    for i in range(n):
        positives = [j for j in range(n) if j != i and groups[j] == groups[i]]
        if not positives:
            continue
        denominator = sum(math.exp(s(i, a)) for a in range(n) if a != i)
        losses.append(-sum(math.log(math.exp(s(i, p)) / denominator) for p in positives) / len(positives))
    return sum(losses) / len(losses)


@pytest.mark.parametrize(
    "groups",
    [[0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 2, 2, 2, 2], [5, 3, 5, 3, 7]],  # pairs, uneven, lone anchor
)
@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_matches_reference_loop(groups, tau):
    z = torch.randn(len(groups), 7, generator=torch.Generator().manual_seed(len(groups)))
    got = InfoNCELoss(temperature=tau)(z, torch.tensor(groups))
    assert got.item() == pytest.approx(_reference(z, groups, tau), rel=1e-5)


def test_nt_xent_for_pairs_by_hand():
    # two orthogonal pairs of identical vectors: each anchor's positive has cos 1, the others cos 0
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    tau = 0.5
    expected = -math.log(math.exp(2) / (math.exp(2) + 2))
    assert InfoNCELoss(tau)(z, torch.tensor([0, 0, 1, 1])).item() == pytest.approx(expected, rel=1e-6)


def test_symmetric_under_permutation_and_scale():
    z = torch.randn(8, 5, generator=torch.Generator().manual_seed(1))
    groups = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    loss = InfoNCELoss()
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(2))
    assert loss(z, groups).item() == pytest.approx(loss(z[perm], groups[perm]).item(), rel=1e-6)
    assert loss(z, groups).item() == pytest.approx(loss(3 * z, groups).item(), rel=1e-5)  # cosine
    # swapping the two views (first half <-> second half) changes nothing
    swapped = torch.cat([z[4:], z[:4]])
    assert loss(z, groups).item() == pytest.approx(loss(swapped, groups).item(), rel=1e-6)


def test_aligned_positives_give_lower_loss():
    base = torch.randn(4, 16, generator=torch.Generator().manual_seed(0))
    aligned = torch.cat([base, base + 0.01 * torch.randn(4, 16)])
    unrelated = torch.randn(8, 16, generator=torch.Generator().manual_seed(3))
    groups = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    assert InfoNCELoss()(aligned, groups) < InfoNCELoss()(unrelated, groups)


def test_gradient_flows():
    z = torch.randn(6, 4, requires_grad=True)
    groups = torch.tensor([0, 0, 1, 1, 2, 2])
    before = InfoNCELoss()(z, groups)
    before.backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    with torch.no_grad():  # a small step against the gradient lowers the loss
        assert InfoNCELoss()(z - 0.1 * z.grad, groups) < before


@pytest.mark.parametrize(
    ("z", "groups", "message"),
    [
        (torch.randn(4), torch.tensor([0, 0, 1, 1]), "2-D float tensor"),
        (torch.randn(4, 3), torch.tensor([0, 0, 1]), r"must have shape \(4,\)"),
        (torch.randn(4, 3), torch.tensor([0.0, 0.0, 1.0, 1.0]), "must be integers"),
        (torch.randn(3, 3), torch.tensor([0, 1, 2]), "no item of the batch of 3 shares a group"),
    ],
)
def test_bad_batches_are_refused(z, groups, message):
    with pytest.raises(ConfigError, match=message):
        InfoNCELoss()(z, groups)


def test_bad_temperature_and_name():
    with pytest.raises(ConfigError, match="temperature=0"):
        InfoNCELoss(temperature=0)
    with pytest.raises(ConfigError, match="loss='triplet'"):
        build_loss("triplet")
    assert isinstance(build_loss("infonce", temperature=0.2), InfoNCELoss)
