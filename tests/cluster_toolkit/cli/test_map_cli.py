import json

import matplotlib.image as mpimg
import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.cluster_library import ClusterOptions, cluster_library

runner = CliRunner()


def ctk(*args: str):
    result = runner.invoke(app, list(args))
    result.flat = " ".join(result.output.split())
    return result


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    """One clustered library and one real `ctk map` (UMAP compiles its kernels once per process)."""
    from tests.cluster_toolkit.conftest import make_library

    tmp = tmp_path_factory.mktemp("map")
    store, _, _ = make_library(tmp / "lib")
    run = cluster_library(store, ClusterOptions(method="kmeans", k=3)).run
    out = tmp / "out" / "map.html"
    result = ctk("map", "-L", str(store.root), "--color", f"cluster:{run.run_id}", "--out", str(out))
    return store, run, out, result


def test_map_writes_html_and_png(mapped):
    store, run, out, result = mapped
    assert result.exit_code == 0, result.output
    assert f"60 tracks coloured by cluster ({run.run_id})" in result.flat
    page = out.read_text()
    data = json.loads(page.split('type="application/json">')[1].split("</script>")[0].replace("<\\/", "</"))
    assert len(data["x"]) == 60 and sorted(data["names"]) == ["0", "1", "2"]
    assert "Jazz Band 0 - Jazz song 0" in data["hover"]
    assert mpimg.imread(out.with_suffix(".png")).shape[1] > 600


def test_map_separates_the_clusters(mapped):
    _, _, out, _ = mapped
    data = json.loads(out.read_text().split('type="application/json">')[1].split("</script>")[0].replace("<\\/", "</"))
    import numpy as np

    xy = np.stack([data["x"], data["y"]], axis=1)
    g = np.array(data["g"])
    centers = np.stack([xy[g == i].mean(0) for i in range(3)])
    spread = max(np.linalg.norm(xy[g == i] - centers[i], axis=1).max() for i in range(3))
    gap = min(np.linalg.norm(centers[i] - centers[j]) for i in range(3) for j in range(i + 1, 3))
    assert gap > spread  # each genre is its own island on the map


def test_ctk_map_page_renders_in_chromium(mapped, chromium, tmp_path):
    _, _, out, _ = mapped
    dom = chromium("--virtual-time-budget=3000", "--dump-dom", out.as_uri())
    assert 'data-points="60"' in dom
    shot = tmp_path / "shot.png"
    chromium("--virtual-time-budget=3000", f"--screenshot={shot}", "--window-size=1200,800", out.as_uri())
    image = mpimg.imread(shot)[..., :3]
    coloured = (image.max(axis=-1) - image.min(axis=-1)) > 0.25  # saturated pixels: points and legend dots
    assert coloured.sum() > 60 * 20


def test_recolour_uses_the_cached_layout_and_other_columns(mapped):
    store, _, out, _ = mapped
    result = ctk("map", "-L", str(store.root), "--color", "genre", "--out", str(out.with_name("genre.html")))
    assert result.exit_code == 0, result.output
    assert "(cached layout)" in result.flat and "coloured by genre" in result.flat


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "map.png"], "the map is an .html page"),
        (["--color", "cluster:nope"], "no cluster run 'nope'"),
        (["--color", "mood"], "--labels 'mood'"),
    ],
)
def test_map_errors(mapped, args, message, tmp_path):
    store, _, _, _ = mapped
    result = ctk("map", "-L", str(store.root), *[a if a != "map.png" else str(tmp_path / a) for a in args])
    assert result.exit_code == 2 and message in result.flat


def test_heatmap_cli(mapped, tmp_path):
    store, _, _, _ = mapped
    out = tmp_path / "h.png"
    result = ctk("heatmap", "jazz000", "Metal song 1", "techno00", "-L", str(store.root), "--out", str(out))
    assert result.exit_code == 0, result.output
    # 1 + 'Metal song 1' matches song 1 and songs 10-19 (11) + 'techno00' matches techno000..techno009 (10)
    assert "22 tracks" in result.flat and out.read_bytes()[:4] == b"\x89PNG"
    missing = ctk("heatmap", "nothing-like-this", "jazz000", "-L", str(store.root), "--out", str(out))
    assert missing.exit_code == 2 and "no track matches 'nothing-like-this'" in missing.flat
    one = ctk("heatmap", "jazz000", "-L", str(store.root), "--out", str(out))
    assert one.exit_code == 2 and "pick 1 tracks" in one.flat
