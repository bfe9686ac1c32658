import math

import pytest
import torch

from embeddings.errors import ConfigError
from embeddings.losses import TagHeadLoss, exact_match, hamming_accuracy, tag_metrics


def _reference_bce(logits, targets, pos_weight=1.0):
    total, count = 0.0, 0
    for row_x, row_y in zip(logits.tolist(), targets.tolist(), strict=True):
        for x, y in zip(row_x, row_y, strict=True):
            p = 1 / (1 + math.exp(-x))
            total += -(pos_weight * y * math.log(p) + (1 - y) * math.log(1 - p))
            count += 1
    return total / count


def test_bce_matches_reference():
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(0)) * 2
    targets = (torch.rand(5, 4, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    assert TagHeadLoss()(logits, targets).item() == pytest.approx(_reference_bce(logits, targets), rel=1e-5)
    assert TagHeadLoss(pos_weight=3.0)(logits, targets).item() == pytest.approx(
        _reference_bce(logits, targets, 3.0), rel=1e-5
    )


def test_metrics_by_hand():
    logits = torch.tensor([[3.0, -3.0, 2.0], [-1.0, -1.0, 1.0]])  # predictions [1,0,1], [0,0,1]
    targets = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    assert hamming_accuracy(logits, targets).item() == pytest.approx(5 / 6)
    assert exact_match(logits, targets).item() == pytest.approx(1 / 2)
    metrics = tag_metrics(logits, targets)
    assert metrics["bce"] == pytest.approx(_reference_bce(logits, targets), rel=1e-5)
    assert metrics["exact_match"] == pytest.approx(0.5)


def test_symmetric_under_item_order():
    logits, targets = torch.randn(6, 3), (torch.rand(6, 3) > 0.5).float()
    perm = torch.randperm(6)
    assert TagHeadLoss()(logits, targets).item() == pytest.approx(TagHeadLoss()(logits[perm], targets[perm]).item())


def test_bad_shapes_and_params():
    with pytest.raises(ConfigError, match=r"\(2, 3\) and \(2, 4\)"):
        TagHeadLoss()(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ConfigError, match="pos_weight=0"):
        TagHeadLoss(pos_weight=0)
    with pytest.raises(ConfigError, match="batch, n_tags"):
        hamming_accuracy(torch.zeros(3), torch.zeros(3))
