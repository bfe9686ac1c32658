"""A 2-D map of a library: UMAP (umap-learn) coordinates, coloured by cluster, tag or any column.

Two outputs from the same coordinates and colours:
- a PNG (matplotlib), for reports and READMEs;
- a standalone HTML page: one file, no network access (data as inline JSON, drawing on an inline
  ``<canvas>`` with a little inline JavaScript), hover shows "artist - title" and the colour value, clicking
  a legend entry hides/shows that group. After drawing, the canvas carries ``data-points`` = the number of
  points drawn, so a headless browser can check the page really rendered.

Colours: a column with few distinct values (cluster ids, genres, folders) gets one colour per value, the 19
most frequent values plus "other"; a numeric column with many values (tempo, energy...) is cut into 8
quantile bins on a viridis scale. UMAP uses cosine neighbourhoods (see :func:`umap_coords`) and a fixed
``random_state`` (which makes umap-learn single-threaded and the map reproducible).
"""

from __future__ import annotations

import html
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cluster_toolkit.errors import ClusteringError, StoreError
from cluster_toolkit.plots._mpl import plt, save_figure

PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d",
    "#31a354",
]  # fmt: skip
OTHER_COLOR = "#c7c7c7"
NOISE_COLOR = "#bdbdbd"
MAX_CATEGORIES = len(PALETTE)
N_BINS = 8


@dataclass(frozen=True)
class Coloring:
    """Per-point group index ``(n,)`` into ``names``/``colors`` (the legend), and the colour's title."""

    index: np.ndarray
    names: list[str]
    colors: list[str]
    title: str


def umap_coords(
    X: np.ndarray,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    random_state: int = 0,
) -> np.ndarray:
    """UMAP of ``X`` ``(n, d)`` to ``(n, 2)`` float32, with cosine neighbourhoods.

    The rows are L2-normalised and UMAP runs with the euclidean metric, which on unit vectors ranks
    neighbours exactly as cosine does. Up to 4,096 tracks the exact neighbours come from scikit-learn and are
    handed to UMAP (``precomputed_knn``); above, UMAP's own nearest-neighbour descent finds them. umap-learn
    compiles its numba kernels in every new process (15-30 s on a laptop), whatever the library size.
    """
    import umap
    from sklearn.neighbors import NearestNeighbors

    from cluster_toolkit.clustering.base import l2_normalize

    X = np.asarray(X, dtype=np.float32)
    n = X.shape[0]
    if X.ndim != 2 or n < 4:
        raise ClusteringError(f"map: UMAP needs at least 4 tracks, got matrix of shape {X.shape}")
    unit = l2_normalize(X)
    k = int(min(n_neighbors, n - 1))
    knn = None
    if n <= 4096:
        dist, idx = NearestNeighbors(n_neighbors=k).fit(unit).kneighbors(unit)
        knn = (idx, dist.astype(np.float32), None)
    model = umap.UMAP(
        n_components=2,
        n_neighbors=k,
        min_dist=min_dist,
        metric="euclidean",
        random_state=random_state,
        n_jobs=1,
        init="spectral" if n > 50 else "random",
        precomputed_knn=knn if knn is not None else (None, None, None),
    )
    with warnings.catch_warnings():
        # with our own exact neighbours umap-learn notes that it cannot .transform new points later: we never do
        warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
        return np.asarray(model.fit_transform(unit), dtype=np.float32)


def categorical_coloring(values: pd.Series, *, title: str) -> Coloring:
    """One colour per value (the most frequent first, "-1" = noise in grey, the rest as "other")."""
    labels = pd.Series(values, dtype="object").map(lambda v: "(none)" if v is None or pd.isna(v) else str(v))
    counts = labels.value_counts(sort=True)
    order = sorted(counts.index, key=lambda v: (v in ("-1", "(none)"), -counts[v], v))
    shown = order[:MAX_CATEGORIES]
    rest = len(order) > MAX_CATEGORIES
    names, colors = [], []
    for i, name in enumerate(shown):
        names.append("noise" if name == "-1" and title.startswith("cluster") else name)
        colors.append(NOISE_COLOR if name in ("-1", "(none)") else PALETTE[i % len(PALETTE)])
    if rest:
        names.append("other")
        colors.append(OTHER_COLOR)
    lookup = {name: i for i, name in enumerate(shown)}
    index = np.array([lookup.get(v, len(shown)) for v in labels], dtype=np.int64)
    return Coloring(index, names, colors, title)


def numeric_coloring(values: pd.Series, *, title: str) -> Coloring:
    """Quantile bins of a numeric column on a viridis scale."""
    import matplotlib

    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    finite = numbers[np.isfinite(numbers)]
    if finite.size == 0:
        raise ClusteringError(f"map: column {title!r} has no numeric values")
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, N_BINS + 1)))
    if edges.size < 2:
        edges = np.array([finite.min(), finite.min() + 1.0])
    bins = np.clip(np.searchsorted(edges, numbers, side="right") - 1, 0, edges.size - 2)
    cmap = matplotlib.colormaps["viridis"]
    k = edges.size - 1
    colors = [matplotlib.colors.to_hex(cmap(i / max(k - 1, 1))) for i in range(k)]
    names = [f"{edges[i]:.3g} - {edges[i + 1]:.3g}" for i in range(k)]
    index = np.where(np.isfinite(numbers), bins, k).astype(np.int64)
    if np.any(~np.isfinite(numbers)):
        names.append("(none)")
        colors.append(NOISE_COLOR)
    return Coloring(index, names, colors, title)


def make_coloring(values: pd.Series, *, title: str) -> Coloring:
    """Numeric columns with more than 20 distinct values get bins, everything else categories."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().mean() > 0.9 and numeric.nunique() > 20:
        return numeric_coloring(values, title=title)
    return categorical_coloring(values, title=title)


def write_map_png(coords: np.ndarray, coloring: Coloring, path: str | Path, *, title: str = "") -> Path:
    """Scatter plot of ``coords`` ``(n, 2)`` with a legend; returns the path."""
    n = coords.shape[0]
    size = float(np.clip(3000.0 / max(n, 1), 0.5, 30.0))
    fig, ax = plt.subplots(figsize=(9, 7))
    for g in range(len(coloring.names)):
        mask = coloring.index == g
        if mask.any():
            ax.scatter(
                coords[mask, 0], coords[mask, 1], s=size, c=coloring.colors[g], label=coloring.names[g],
                linewidths=0, alpha=0.85,
            )  # fmt: skip
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"{n} tracks coloured by {coloring.title}")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, markerscale=max(1.0, 6 / size),
              title=coloring.title, frameon=False)  # fmt: skip
    fig.tight_layout()
    return save_figure(fig, path)


def write_map_html(
    coords: np.ndarray,
    coloring: Coloring,
    hover: list[str],
    path: str | Path,
    *,
    title: str = "ctk map",
) -> Path:
    """The standalone interactive page (see module doc); returns the path."""
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 2 or len(hover) != coords.shape[0]:
        raise ClusteringError(f"map: {coords.shape} coordinates for {len(hover)} hover texts")
    data = {
        "x": np.round(coords[:, 0], 4).tolist(),
        "y": np.round(coords[:, 1], 4).tolist(),
        "g": coloring.index.tolist(),
        "names": coloring.names,
        "colors": coloring.colors,
        "hover": hover,
        "colorTitle": coloring.title,
    }
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    page = _PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", payload)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"{path}: cannot write map ({exc.strerror or exc})") from exc
    return path


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:16px;background:#fff;color:#222}
h1{font-size:18px;margin:0 0 8px}#main{display:flex;gap:16px;align-items:flex-start}
#wrap{position:relative}canvas{border:1px solid #ddd;cursor:crosshair}
#tip{position:absolute;pointer-events:none;background:rgba(20,20,20,.9);color:#fff;padding:4px 7px;
border-radius:4px;font-size:12px;white-space:nowrap;display:none}
#legend{font-size:13px;max-height:700px;overflow:auto}#legend div{cursor:pointer;padding:2px 4px;user-select:none}
#legend div.off{opacity:.3}#legend span{display:inline-block;width:11px;height:11px;border-radius:50%;
margin-right:6px;vertical-align:-1px}
</style></head><body>
<h1>__TITLE__</h1>
<div id="main"><div id="wrap"><canvas id="map" width="900" height="700"></canvas><div id="tip"></div></div>
<div id="legend"></div></div>
<script id="data" type="application/json">__DATA__</script>
<script>
(function(){
const D = JSON.parse(document.getElementById("data").textContent);
const cv = document.getElementById("map"), ctx = cv.getContext("2d"), tip = document.getElementById("tip");
const n = D.x.length, W = cv.width, H = cv.height, pad = 20, hidden = new Set();
let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
for (let i = 0; i < n; i++) {
  x0 = Math.min(x0, D.x[i]); x1 = Math.max(x1, D.x[i]); y0 = Math.min(y0, D.y[i]); y1 = Math.max(y1, D.y[i]);
}
const sx = (W - 2 * pad) / ((x1 - x0) || 1), sy = (H - 2 * pad) / ((y1 - y0) || 1), s = Math.min(sx, sy);
const px = new Float32Array(n), py = new Float32Array(n);
for (let i = 0; i < n; i++) { px[i] = pad + (D.x[i] - x0) * s; py[i] = H - pad - (D.y[i] - y0) * s; }
const r = n > 20000 ? 1.5 : n > 2000 ? 2.5 : 4;
function draw() {
  ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, W, H);
  let drawn = 0;
  for (let i = 0; i < n; i++) {
    if (hidden.has(D.g[i])) continue;
    ctx.fillStyle = D.colors[D.g[i]]; ctx.beginPath(); ctx.arc(px[i], py[i], r, 0, 6.2832); ctx.fill(); drawn++;
  }
  cv.dataset.points = String(drawn);
}
const legend = document.getElementById("legend");
const count = new Array(D.names.length).fill(0); for (let i = 0; i < n; i++) count[D.g[i]]++;
const head = document.createElement("b"); head.textContent = D.colorTitle; legend.appendChild(head);
D.names.forEach(function(name, g) {
  const row = document.createElement("div"); const dot = document.createElement("span");
  dot.style.background = D.colors[g]; row.appendChild(dot);
  row.appendChild(document.createTextNode(name + " (" + count[g] + ")"));
  row.onclick = function() { if (hidden.has(g)) hidden.delete(g); else hidden.add(g);
    row.classList.toggle("off"); draw(); };
  legend.appendChild(row);
});
cv.addEventListener("mousemove", function(e) {
  const b = cv.getBoundingClientRect(), mx = e.clientX - b.left, my = e.clientY - b.top;
  let best = -1, bd = 64;
  for (let i = 0; i < n; i++) {
    if (hidden.has(D.g[i])) continue;
    const d = (px[i] - mx) * (px[i] - mx) + (py[i] - my) * (py[i] - my); if (d < bd) { bd = d; best = i; }
  }
  if (best < 0) { tip.style.display = "none"; return; }
  tip.textContent = D.hover[best] + "  \\u2014  " + D.colorTitle + ": " + D.names[D.g[best]];
  tip.style.left = (px[best] + 10) + "px"; tip.style.top = (py[best] + 10) + "px"; tip.style.display = "block";
});
cv.addEventListener("mouseleave", function() { tip.style.display = "none"; });
draw();
})();
</script></body></html>
"""
