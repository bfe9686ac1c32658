import json

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from cluster_toolkit.errors import ClusteringError
from cluster_toolkit.plots.umap_map import (
    MAX_CATEGORIES,
    NOISE_COLOR,
    PALETTE,
    categorical_coloring,
    make_coloring,
    numeric_coloring,
    write_map_html,
    write_map_png,
)


def _three_groups():
    rng = np.random.default_rng(0)
    coords = np.concatenate([rng.normal(c, 0.3, size=(40, 2)) for c in ((0, 0), (5, 0), (0, 5))])
    labels = pd.Series(["0"] * 40 + ["1"] * 40 + ["-1"] * 40)
    hover = [f"Artist {i} - Title </script> {i}" for i in range(120)]
    return coords, labels, hover


def test_categorical_coloring_orders_by_size_and_greys_noise():
    got = categorical_coloring(pd.Series(["-1", "b", "a", "a", None, "b", "a"]), title="cluster (r)")
    assert got.names == ["a", "b", "(none)", "noise"]
    assert got.colors == [PALETTE[0], PALETTE[1], NOISE_COLOR, NOISE_COLOR]
    assert got.index.tolist() == [3, 1, 0, 0, 2, 1, 0]


def test_many_categories_fold_into_other():
    values = pd.Series([f"g{i:02d}" for i in range(30)] + ["g00"] * 5)
    got = categorical_coloring(values, title="genre")
    assert len(got.names) == MAX_CATEGORIES + 1 and got.names[-1] == "other"
    assert got.names[0] == "g00" and np.sum(got.index == MAX_CATEGORIES) == 30 - MAX_CATEGORIES


def test_numeric_coloring_uses_quantile_bins():
    values = pd.Series(np.arange(100, dtype=float))
    got = numeric_coloring(values, title="tempo")
    assert len(got.names) == 8 and np.bincount(got.index).tolist() == [13, 12, 13, 12, 12, 13, 12, 13]
    assert make_coloring(values, title="tempo").names == got.names
    assert make_coloring(pd.Series([1, 2, 3] * 10), title="key").names == ["1", "2", "3"]
    with pytest.raises(ClusteringError, match="no numeric values"):
        numeric_coloring(pd.Series(["a", "b"]), title="x")


def test_html_is_self_contained_and_escaped(tmp_path):
    coords, labels, hover = _three_groups()
    path = write_map_html(coords, categorical_coloring(labels, title="cluster (r)"), hover, tmp_path / "m.html")
    page = path.read_text()
    assert "http://" not in page and "https://" not in page and "<script src" not in page
    payload = page.split('<script id="data" type="application/json">')[1].split("</script>")[0]
    data = json.loads(payload.replace("<\\/", "</"))
    assert len(data["x"]) == 120 and data["hover"][0] == "Artist 0 - Title </script> 0"
    assert data["names"] == ["0", "1", "noise"]
    with pytest.raises(ClusteringError, match="coordinates for 3 hover"):
        write_map_html(coords, categorical_coloring(labels, title="c"), hover[:3], tmp_path / "x.html")


def test_png_map(tmp_path):
    coords, labels, _ = _three_groups()
    path = write_map_png(coords, categorical_coloring(labels, title="cluster"), tmp_path / "m.png")
    image = mpimg.imread(path)
    assert image.shape[0] > 500 and image.shape[1] > 600
    # the first palette colour (cluster 0) is present
    target = np.array([int(PALETTE[0][i : i + 2], 16) / 255 for i in (1, 3, 5)])
    assert np.any(np.all(np.abs(image[..., :3] - target) < 0.08, axis=-1))


def test_points_render_in_headless_chromium(tmp_path, chromium):
    coords, labels, hover = _three_groups()
    coloring = categorical_coloring(labels, title="cluster (r)")
    page = write_map_html(coords, coloring, hover, tmp_path / "map.html")
    dom = chromium("--virtual-time-budget=3000", "--dump-dom", page.as_uri())
    assert 'data-points="120"' in dom
    assert "noise (40)" in dom and "0 (40)" in dom
    shot = tmp_path / "shot.png"
    chromium("--virtual-time-budget=3000", f"--screenshot={shot}", "--window-size=1200,800", page.as_uri())
    image = mpimg.imread(shot)[..., :3]
    for color in coloring.colors:
        rgb = np.array([int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
        hits = np.all(np.abs(image - rgb) < 0.03, axis=-1).sum()
        assert hits > 40 * 10, f"colour {color}: only {hits} pixels"  # 40 dots of radius 4 each
