import numpy as np
import pytest

from embeddings.collapse import collapse_report, effective_rank, uniformity
from embeddings.errors import ConfigError


def _reference_uniformity(x, t=2.0):
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    values = [np.exp(-t * np.sum((u[i] - u[j]) ** 2)) for i in range(len(u)) for j in range(i + 1, len(u))]
    return float(np.log(np.mean(values)))


def test_effective_rank_of_known_spectra():
    rng = np.random.default_rng(0)
    # points spread evenly over d orthogonal directions (both signs): d equal singular values -> erank d
    d = 6
    x = np.concatenate([np.eye(d), -np.eye(d)])
    assert effective_rank(x) == pytest.approx(d, rel=1e-6)
    # everything on one line through the origin (+v and -v): rank 1
    v = rng.standard_normal(8)
    assert effective_rank(np.stack([v, -v, 2 * v, -3 * v])) == pytest.approx(1.0, rel=1e-6)
    # collapse onto a single point
    assert effective_rank(np.tile(v, (5, 1))) == 1.0
    # gaussian cloud in 32 dims: close to full rank, far above a collapsed one
    assert effective_rank(rng.standard_normal((2000, 32))) > 25


def test_uniformity_matches_reference_and_orders_spread():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 5))
    assert uniformity(x) == pytest.approx(_reference_uniformity(x), rel=1e-9)
    assert uniformity(np.tile(x[:1], (10, 1))) == pytest.approx(0.0, abs=1e-12)
    clustered = x[:1] + 0.05 * rng.standard_normal((40, 5))
    assert uniformity(x) < uniformity(clustered) < 0
    big = rng.standard_normal((300, 4))
    assert uniformity(big, max_rows=100) == pytest.approx(uniformity(big), abs=0.1)


def test_report_and_bad_input():
    report = collapse_report(np.random.default_rng(0).standard_normal((10, 3)))
    assert set(report) == {"effective_rank", "uniformity", "dim"} and report["dim"] == 3
    with pytest.raises(ConfigError, match="shape"):
        effective_rank(np.zeros((1, 4)))
