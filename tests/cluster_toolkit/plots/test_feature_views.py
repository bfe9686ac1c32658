# ruff: noqa: E501
import matplotlib
import numpy as np
import pandas as pd
import pytest

from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.plots.feature_views import features_by_cluster, plot_correlation, plot_distributions
from tests.pictures import assert_drawn, colour_share


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
    a = rng.normal(size=50)
    features = pd.DataFrame({"track_id": [str(i) for i in range(50)], "a": a, "b": 2 * a + 1, "c": -a})
    # one row of 3 histograms, 3.2 x 2.4 inches each at 120 dpi, bars in the one blue
    assert_drawn(plot_distributions(features, tmp_path / "d.png"), size=(288, 1152), colours=("#3a6ea5",),
                 min_share=0.03)
    # r = +1 in 5 cells (a-a, b-b, c-c, a-b, b-a), -1 in 4 (a-c, c-a, b-c, c-b): 5 red cells to 4 blue ones
    coolwarm = matplotlib.colormaps["coolwarm"]
    image = assert_drawn(plot_correlation(features, tmp_path / "c.png"), size=(456, 576),
                         colours=(coolwarm(1.0), coolwarm(0.0)))
    red, blue = colour_share(image, coolwarm(1.0)), colour_share(image, coolwarm(0.0))
    assert red / blue == pytest.approx(5 / 4, rel=0.1)
    with pytest.raises(ClusteringError, match="no numeric feature columns"):
        plot_distributions(pd.DataFrame({"track_id": ["x"]}), tmp_path / "x.png")
