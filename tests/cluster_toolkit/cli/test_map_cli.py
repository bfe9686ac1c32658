import json

import matplotlib
import matplotlib.image as mpimg
import numpy as np
import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.cluster_library import ClusterOptions, cluster_library
from tests.pictures import assert_drawn, colour_share

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
    assert len(data["x"]) == 60 and sorted(data["names"]) == [
        "0: Jazz 100% · Jazz album 100%", "1: Metal 100% · Metal album 100%", "2: Techno 100% · Techno album 100%"]
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
    assert "22 tracks" in result.flat
    # a 22 x 22 grid whose diagonal (similarity 1, the top of the scale) has magma's last colour
    image = assert_drawn(out, colours=(matplotlib.colormaps["magma"](1.0),))
    assert colour_share(image, matplotlib.colormaps["magma"](1.0)) > 0.3 * 22 / 22**2
    missing = ctk("heatmap", "nothing-like-this", "jazz000", "-L", str(store.root), "--out", str(out))
    assert missing.exit_code == 2 and "no track matches 'nothing-like-this'" in missing.flat
    one = ctk("heatmap", "jazz000", "-L", str(store.root), "--out", str(out))
    assert one.exit_code == 2 and "pick 1 tracks" in one.flat


def test_map_search_zoom_and_high_dpi_in_chromium(mapped, chromium, tmp_path):
    _, _, out, _ = mapped
    # a search in the link: 'jazz song 1' is in 11 hover texts (songs 1 and 10-19), and Enter-like zoom to them
    dom = chromium("--virtual-time-budget=3000", "--dump-dom", out.as_uri() + "#q=jazz%20song%201")
    assert 'data-matches="11"' in dom and 'data-points="60"' not in dom
    zoom = float(dom.split('data-zoom="')[1].split('"')[0])
    assert zoom > 1.5  # one island of three fills the canvas
    dom = chromium("--virtual-time-budget=3000", "--dump-dom", out.as_uri() + "#zoom=3")
    assert 'data-zoom="3.000"' in dom and 'data-matches="0"' in dom
    assert int(dom.split('data-points="')[1].split('"')[0]) < 60  # zoomed in: some points are off screen
    # high-DPI: at device scale 2 the canvas has twice the pixels of its CSS size
    shot = tmp_path / "map-search-2x.png"  # kept as the test's artefact (pytest keeps the last tmp folders)
    args = ("--virtual-time-budget=3000", "--force-device-scale-factor=2", "--window-size=1200,900")
    # 'song 1' is in 33 hover texts spread over the three islands: the box of the matches is the whole map
    dom = chromium(*args, "--dump-dom", out.as_uri() + "#q=song%201")
    assert 'width="1800"' in dom and 'height="1400"' in dom and 'data-dpr="2"' in dom
    assert 'data-matches="33"' in dom and 'data-points="60"' in dom
    plain = tmp_path / "map-2x.png"
    chromium(*args, f"--screenshot={shot}", out.as_uri() + "#q=song%201")
    chromium(*args, f"--screenshot={plain}", out.as_uri())

    def grey(image):  # pixels of the greyed-out colour #e2e2e2 (not the canvas's #ddd border)
        return (np.abs(image - 0xE2 / 255).max(axis=-1) < 0.008).sum()

    searched, whole = mpimg.imread(shot)[..., :3], mpimg.imread(plain)[..., :3]
    assert searched.shape[:2] == whole.shape[:2] == (1800, 2400)
    assert grey(searched) > grey(whole) + 1000  # the 27 tracks that do not match are greyed out
    assert ((searched.max(axis=-1) - searched.min(axis=-1)) > 0.25).sum() > 33 * 100  # the 33 matches in colour
