# ruff: noqa: E501
import numpy as np
import pandas as pd
import pytest

from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.plots.feature_views import features_by_cluster, plot_correlation, plot_distributions


def test_features_by_cluster_mean_z_scores_by_hand():
    features = pd.DataFrame({"track_id": list("abcd"), "energy": [1.0, 3.0, 5.0, 7.0], "tempo": [1.0, 1.0, 3.0, 3.0]})
    table = features_by_cluster(features, np.array([1, 1, 0, -1]))
    # energy: mean 4, std sqrt(5); tempo: mean 2, std 1
    assert table.index.tolist() == [0, 1, -1]
    assert table.loc[1, "energy"] == pytest.approx(((1 - 4) + (3 - 4)) / 2 / np.sqrt(5))
    assert table.loc[0, "tempo"] == pytest.approx(1.0) and table.loc[1, "tempo"] == pytest.approx(-1.0)
    with pytest.raises(ClusteringError, match="3 labels for 4 tracks"):
        features_by_cluster(features, np.array([0, 1, 2]))


def test_distribution_and_correlation_pngs(tmp_path):
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"track_id": [str(i) for i in range(50)], "a": rng.normal(size=50), "b": rng.normal(size=50),
                             "c": rng.normal(size=50)})  # fmt: skip
    assert plot_distributions(features, tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
    assert plot_correlation(features, tmp_path / "c.png").stat().st_size > 5_000
    with pytest.raises(ClusteringError, match="no numeric feature columns"):
        plot_distributions(pd.DataFrame({"track_id": ["x"]}), tmp_path / "x.png")
