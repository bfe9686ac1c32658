import math

import pytest
import torch
import torch.nn.functional as F

from embeddings.errors import ConfigError
from embeddings.losses import DECLoss, KMeansLoss, soft_assignments, target_distribution


def _entropy(rows):
    return -(rows * rows.log()).sum(dim=1)


def test_student_t_soft_assignments():
    u, c = torch.tensor([[1.0, 0.0]]), torch.eye(2)  # squared distances 0 and 2
    assert soft_assignments(u, c).tolist()[0] == pytest.approx([0.75, 0.25])  # (1 + d2)^-1, normalised
    # scale 0.5: distances count double, the kernel is sharper
    assert soft_assignments(u, c, scale=0.5).tolist()[0] == pytest.approx([5 / 6, 1 / 6])


def test_target_distribution_sharpens_every_row():
    q = torch.tensor([[0.6, 0.4], [0.3, 0.7]])
    p = target_distribution(q)  # cluster sizes f = (0.9, 1.1) from q itself
    w = [0.36 / 0.9, 0.16 / 1.1]  # q^2 / f
    assert p.tolist()[0] == pytest.approx([w[0] / sum(w), w[1] / sum(w)])
    assert p.tolist()[0] == pytest.approx([0.7333, 0.2667], abs=1e-4)
    assert p.tolist()[1] == pytest.approx([0.1833, 0.8167], abs=1e-4)
    assert _entropy(q).tolist() == pytest.approx([0.6730, 0.6109], abs=1e-4)
    assert _entropy(p).tolist() == pytest.approx([0.5799, 0.4764], abs=1e-4)  # entropy falls in every row
    # given sizes: a large cluster is discounted (the same row leans less towards it)
    given = target_distribution(q[:1], torch.tensor([3.0, 1.0])).tolist()[0]
    assert given == pytest.approx([0.12 / 0.28, 0.16 / 0.28])


def test_kl_matches_reference_and_gradient_moves_a_point_to_its_centroid():
    a = math.radians(30)
    z = torch.tensor([[math.cos(a), math.sin(a)]], requires_grad=True)  # 30 degrees: nearer centroid (1, 0)
    c = torch.eye(2)
    loss = DECLoss()(z, c, frequencies=torch.ones(2))
    value = float(loss.detach())
    q = soft_assignments(z.detach(), c)
    p = target_distribution(q, torch.ones(2))
    assert q.tolist()[0] == pytest.approx([0.6120, 0.3880], abs=1e-4)
    assert p.tolist()[0] == pytest.approx([0.7133, 0.2867], abs=1e-4)
    assert value == pytest.approx(float((p * (p / q).log()).sum()), rel=1e-5)
    assert value == pytest.approx(0.02251, abs=1e-5)
    loss.backward()
    assert z.grad.tolist()[0] == pytest.approx([-0.0838, 0.1452], abs=1e-4)
    moved = F.normalize(z.detach() - z.grad, dim=1)  # one gradient step of size 1
    assert math.degrees(math.atan2(float(moved[0, 1]), float(moved[0, 0]))) == pytest.approx(20.48, abs=0.01)
    assert float((moved - c[0]).pow(2).sum()) == pytest.approx(0.1265, abs=1e-4)  # was 0.2679


def test_descent_tightens_clusters_on_a_tiny_fixture():
    g = torch.Generator().manual_seed(0)
    c = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    z = F.normalize(c.repeat_interleave(4, 0) + 0.5 * torch.randn(8, 3, generator=g), dim=1).requires_grad_()
    before = float(KMeansLoss()(z, c))
    opt = torch.optim.SGD([z], lr=0.5)
    for _ in range(20):
        opt.zero_grad()
        DECLoss()(z, c, scale=0.3).backward()
        opt.step()
    assert before == pytest.approx(0.5331, abs=1e-4)
    assert float(KMeansLoss()(z, c)) == pytest.approx(0.2658, abs=1e-3)  # mean sq. distance to the centroid halves


def test_no_gradient_into_centroids_and_bad_input():
    z = torch.tensor([[1.0, 0.2], [0.1, 1.0], [0.7, 0.7]], requires_grad=True)
    c = torch.eye(2, requires_grad=True)
    DECLoss()(z, c).backward()
    assert c.grad is None and float(z.grad.abs().sum()) > 0
    with pytest.raises(ConfigError, match="DECLoss: centroids must be"):
        DECLoss()(torch.zeros(2, 3), torch.zeros(1, 3))
    with pytest.raises(ConfigError, match="DECLoss: z must be"):
        DECLoss()(torch.zeros(0, 3), torch.eye(3))
    with pytest.raises(ConfigError, match="scale=0"):
        DECLoss()(torch.ones(2, 3), torch.eye(3), scale=0)
    with pytest.raises(ConfigError, match="alpha=0"):
        DECLoss(alpha=0)
