import pytest
import torch

from embeddings.errors import ConfigError
from embeddings.losses import KMeansLoss, assign_clusters


def _reference(z, centroids):
    """Slow loop: normalise each row, find its nearest centroid, average the squared distances."""
    total = 0.0
    for row in z.tolist():
        norm = sum(v * v for v in row) ** 0.5
        u = [v / norm for v in row]
        total += min(sum((a - b) ** 2 for a, b in zip(u, c, strict=True)) for c in centroids.tolist())
    return total / len(z)


def test_matches_reference_loop():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(13, 5, generator=g) * 3
    centroids = torch.nn.functional.normalize(torch.randn(4, 5, generator=g), dim=1) * 0.8
    assert float(KMeansLoss()(z, centroids)) == pytest.approx(_reference(z, centroids), rel=1e-5)


def test_zero_on_centroids_scale_invariant_and_bounded():
    c = torch.eye(3)
    z = torch.tensor([[2.0, 0, 0], [0, 5.0, 0], [0, 0, 0.1]])
    assert float(KMeansLoss()(z, c)) == pytest.approx(0.0, abs=1e-7)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(50, 3, generator=g)
    loss = KMeansLoss()
    assert float(loss(z, c)) == pytest.approx(float(loss(z * 7.5, c)), rel=1e-6)
    assert float(loss(torch.tensor([[3.0, 0, 0]]), -c[:1])) == pytest.approx(4.0)  # the maximum: antipodal
    assert assign_clusters(torch.tensor([[0.1, 3.0, 0.0]]), c).tolist() == [1]


def test_gradient_flows_to_embeddings_not_centroids():
    z = torch.tensor([[1.0, 0.2], [0.1, 1.0]], requires_grad=True)
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    KMeansLoss()(z, c).backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0
    assert c.grad is None
    # one gradient step moves every embedding towards its centroid
    with torch.no_grad():
        before = float(KMeansLoss()(z, c))
        after = float(KMeansLoss()(z - 0.5 * z.grad, c))
    assert after < before


@pytest.mark.parametrize(
    ("z", "c"),
    [(torch.zeros(3), torch.zeros(2, 3)), (torch.zeros(4, 3), torch.zeros(2, 5)), (torch.zeros(0, 3), torch.eye(3))],
)
def test_bad_shapes(z, c):
    with pytest.raises(ConfigError, match="KMeansLoss"):
        KMeansLoss()(z, c)
