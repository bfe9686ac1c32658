import math

import pytest
import torch

from embeddings.errors import ConfigError
from embeddings.losses import InfoNCELoss, QueueInfoNCELoss


def _reference(z, groups, keys, key_ids, tau):
    """Slow loop: every other batch item and every key are candidates, those of the anchor's group positives."""
    z = torch.nn.functional.normalize(z, dim=1).tolist()
    keys = torch.nn.functional.normalize(keys, dim=1).tolist()
    candidates = [(row, g) for row, g in zip(z, groups, strict=True)]
    candidates += [(row, g) for row, g in zip(keys, key_ids, strict=True)]
    losses = []
    for i, anchor in enumerate(z):
        others = [c for j, c in enumerate(candidates) if j != i]
        s = [sum(a * b for a, b in zip(anchor, row, strict=True)) / tau for row, _ in others]
        positives = [k for k, (_, g) in enumerate(others) if g == groups[i]]
        if not positives:
            continue
        denominator = sum(math.exp(v) for v in s)
        losses.append(-sum(math.log(math.exp(s[p]) / denominator) for p in positives) / len(positives))
    return sum(losses) / len(losses)


@pytest.mark.parametrize(
    ("groups", "key_ids"),
    [
        ([0, 0, 1, 1, 2, 2], [0, 1, 2, 3, 3]),  # keys of batch groups and of another group
        ([4, 4, 4, 7, 7], [9, 9, 9]),  # keys of no batch group: negatives only
        ([0, 1, 2, 3], [0, 1, 1, 5]),  # no positive in the batch: the queue gives anchors 0 and 1 theirs
    ],
)
@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_matches_reference_loop(groups, key_ids, tau):
    generator = torch.Generator().manual_seed(len(groups) + len(key_ids))
    z = torch.randn(len(groups), 6, generator=generator)
    keys = torch.randn(len(key_ids), 6, generator=generator)
    got = QueueInfoNCELoss(temperature=tau)(z, torch.tensor(groups), keys, torch.tensor(key_ids))
    assert got.item() == pytest.approx(_reference(z, groups, keys, key_ids, tau), rel=1e-5)


def test_an_empty_queue_is_infonce_exactly():
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(12, 8, generator=generator)
    groups = torch.tensor([3, 3, 3, 9, 9, 9, 1, 1, 1, 0, 0, 5])
    for tau in (0.1, 0.3):
        queued = QueueInfoNCELoss(tau)(z, groups, torch.empty(0, 8), torch.empty(0, dtype=torch.long))
        assert torch.equal(queued, InfoNCELoss(tau)(z, groups))


def test_keys_count_by_their_group():
    z = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    groups = torch.tensor([0, 0, 1, 1])
    keys = torch.tensor([[1.0, 0.05], [0.05, 1.0]])
    loss = QueueInfoNCELoss(0.5)
    alone = loss(z, groups, keys[:0], groups[:0])
    right = loss(z, groups, keys, torch.tensor([0, 1]))  # each key near its own group: easy positives
    wrong = loss(z, groups, keys, torch.tensor([1, 0]))  # each key near the other group: hard negatives
    assert alone < right < wrong
    # a close negative key raises the loss more than a far one
    far = loss(z, groups, torch.tensor([[-1.0, 0.0]]), torch.tensor([1]))
    near = loss(z, groups, torch.tensor([[1.0, 0.0]]), torch.tensor([1]))
    assert alone < far < near


def test_no_gradient_reaches_the_keys_and_the_scale_does_not_matter():
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(1), requires_grad=True)
    keys = torch.randn(5, 4, generator=torch.Generator().manual_seed(2))
    groups, key_ids = torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([0, 2, 2, 7, 1])
    loss = QueueInfoNCELoss()
    value = loss(z, groups, keys, key_ids)
    value.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
    assert loss(3 * z, groups, 0.5 * keys, key_ids).item() == pytest.approx(value.item(), rel=1e-5)


@pytest.mark.parametrize("tau", [0.0, -0.1, float("nan")])
def test_temperature_must_be_positive(tau):
    with pytest.raises(ConfigError, match=r"temperature=.* must be > 0 \(try 0.1\)"):
        QueueInfoNCELoss(temperature=tau)


def test_bad_shapes_raise():
    loss = QueueInfoNCELoss()
    z, groups = torch.randn(4, 3), torch.tensor([0, 0, 1, 1])
    keys, key_ids = torch.randn(2, 3), torch.tensor([0, 1])
    with pytest.raises(ConfigError, match="z must be a 2-D float tensor"):
        loss(torch.randn(4), groups, keys, key_ids)
    with pytest.raises(ConfigError, match="group_ids must have shape"):
        loss(z, groups[:3], keys, key_ids)
    with pytest.raises(ConfigError, match=r"keys must be a 2-D float tensor \(Q, 3\)"):
        loss(z, groups, torch.randn(2, 5), key_ids)
    with pytest.raises(ConfigError, match="keys must be a 2-D float tensor"):
        loss(z, groups, torch.ones(2, 3, dtype=torch.long), key_ids)
    with pytest.raises(ConfigError, match=r"key_ids must be integers of shape \(2,\)"):
        loss(z, groups, keys, torch.tensor([0, 1, 1]))
    with pytest.raises(ConfigError, match="key_ids must be integers"):
        loss(z, groups, keys, torch.tensor([0.0, 1.0]))
    with pytest.raises(ConfigError, match="shares a group with another"):
        loss(z, torch.tensor([0, 1, 2, 3]), keys, torch.tensor([5, 6]))
