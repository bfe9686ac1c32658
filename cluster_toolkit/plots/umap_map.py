"""A 2-D map of a library: UMAP (umap-learn) coordinates, coloured by cluster, tag or any column.

Two outputs from the same coordinates and colours:
- a PNG (matplotlib), for reports and READMEs;
- a standalone HTML page: one file, no network access (data as inline JSON, drawing on an inline
  ``<canvas>`` with a little inline JavaScript), hover shows "artist - title" and the colour value, clicking
  a legend entry hides/shows that group; the wheel (or +/-) zooms around the pointer, dragging pans,
  double-click resets; a search box greys out every track whose "artist - title" does not contain the text
  and Enter zooms to the matches (``map.html#q=TEXT`` opens with a search, ``#zoom=3`` zoomed). The canvas
  is drawn at the screen's device-pixel ratio, so it is sharp on high-DPI screens. After drawing, the
  canvas carries ``data-points`` (points drawn), ``data-zoom``, ``data-matches`` and ``data-dpr``, so a
  headless browser can check the page really rendered.

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
from cluster_toolkit.plots._mpl import save_figure, subplots

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
    fig, ax = subplots(figsize=(9, 7))
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
#bar{display:flex;gap:6px;align-items:center;margin:0 0 8px;font-size:13px}
#bar input{width:280px;padding:3px 6px;font-size:13px}#bar button{min-width:28px;font-size:13px}
#wrap{position:relative}canvas{border:1px solid #ddd;cursor:crosshair;touch-action:none}
canvas.drag{cursor:grabbing}
#tip{position:absolute;pointer-events:none;background:rgba(20,20,20,.9);color:#fff;padding:4px 7px;
border-radius:4px;font-size:12px;white-space:nowrap;display:none}
#legend{font-size:13px;max-height:700px;overflow:auto}#legend div{cursor:pointer;padding:2px 4px;user-select:none}
#legend div.off{opacity:.3}#legend span{display:inline-block;width:11px;height:11px;border-radius:50%;
margin-right:6px;vertical-align:-1px}
</style></head><body>
<h1>__TITLE__</h1>
<div id="bar"><input id="q" type="search" placeholder="search artist or title (Enter: zoom to matches)">
<span id="found"></span><button id="zin" title="zoom in">+</button><button id="zout" title="zoom out">&minus;</button>
<button id="reset" title="whole map (or double-click)">reset</button>
<span>wheel: zoom &middot; drag: pan</span></div>
<div id="main"><div id="wrap"><canvas id="map"></canvas><div id="tip"></div></div>
<div id="legend"></div></div>
<script id="data" type="application/json">__DATA__</script>
<script>
(function(){
const D = JSON.parse(document.getElementById("data").textContent);
const cv = document.getElementById("map"), ctx = cv.getContext("2d"), tip = document.getElementById("tip");
const W = 900, H = 700, dpr = window.devicePixelRatio || 1;  // sharp on high-DPI screens
cv.style.width = W + "px"; cv.style.height = H + "px"; cv.width = Math.round(W * dpr); cv.height = Math.round(H * dpr);
cv.dataset.dpr = String(dpr);
const n = D.x.length, pad = 20, hidden = new Set();
let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
for (let i = 0; i < n; i++) {
  x0 = Math.min(x0, D.x[i]); x1 = Math.max(x1, D.x[i]); y0 = Math.min(y0, D.y[i]); y1 = Math.max(y1, D.y[i]);
}
const sx = (W - 2 * pad) / ((x1 - x0) || 1), sy = (H - 2 * pad) / ((y1 - y0) || 1), s = Math.min(sx, sy);
const px = new Float32Array(n), py = new Float32Array(n);
for (let i = 0; i < n; i++) { px[i] = pad + (D.x[i] - x0) * s; py[i] = H - pad - (D.y[i] - y0) * s; }
const r = n > 20000 ? 1.5 : n > 2000 ? 2.5 : 4;
const lower = D.hover.map(function(h) { return h.toLowerCase(); });
let k = 1, tx = 0, ty = 0, match = null, nMatch = 0;  // view: screen = base * k + t
function view(kk, cx, cy) {  // zoom to kk keeping the screen point (cx, cy) still
  kk = Math.max(1, Math.min(200, kk));
  tx = cx - (cx - tx) * kk / k; ty = cy - (cy - ty) * kk / k; k = kk; draw();
}
function dot(i, color) {
  ctx.fillStyle = color; ctx.beginPath(); ctx.arc(px[i] * k + tx, py[i] * k + ty, r, 0, 6.2832); ctx.fill();
}
function draw() {
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, W, H);
  let drawn = 0;
  for (let pass = match ? 0 : 1; pass < 2; pass++) {  // with a search: misses first, greyed; then the rest
    for (let i = 0; i < n; i++) {
      if (hidden.has(D.g[i])) continue;
      const hit = !match || match[i];
      if (match && hit !== (pass === 1)) continue;
      const X = px[i] * k + tx, Y = py[i] * k + ty;
      if (X < -r || Y < -r || X > W + r || Y > H + r) continue;
      dot(i, hit ? D.colors[D.g[i]] : "#e2e2e2"); drawn++;
      if (match && hit) { ctx.strokeStyle = "#111"; ctx.lineWidth = 1; ctx.stroke(); }
    }
  }
  cv.dataset.points = String(drawn); cv.dataset.zoom = k.toFixed(3);
}
function search(text, fit) {
  const q = text.trim().toLowerCase();
  match = null; nMatch = 0;
  if (q) { match = lower.map(function(h) { return h.indexOf(q) >= 0; });
           match.forEach(function(m) { if (m) nMatch++; }); }
  document.getElementById("found").textContent = q ? nMatch + " found" : "";
  cv.dataset.matches = String(nMatch);
  if (fit && nMatch) {  // zoom to the box of the matches
    let a = Infinity, b = -Infinity, c = Infinity, d = -Infinity;
    for (let i = 0; i < n; i++) if (match[i]) {
      a = Math.min(a, px[i]); b = Math.max(b, px[i]); c = Math.min(c, py[i]); d = Math.max(d, py[i]); }
    const kk = Math.max(1, Math.min(200, Math.min((W - 2 * pad) / ((b - a) || 1), (H - 2 * pad) / ((d - c) || 1))));
    k = kk; tx = W / 2 - kk * (a + b) / 2; ty = H / 2 - kk * (c + d) / 2;
  }
  draw();
}
const legend = document.getElementById("legend");
const count = new Array(D.names.length).fill(0); for (let i = 0; i < n; i++) count[D.g[i]]++;
const head = document.createElement("b"); head.textContent = D.colorTitle; legend.appendChild(head);
D.names.forEach(function(name, g) {
  const row = document.createElement("div"); const swatch = document.createElement("span");
  swatch.style.background = D.colors[g]; row.appendChild(swatch);
  row.appendChild(document.createTextNode(name + " (" + count[g] + ")"));
  row.onclick = function() { if (hidden.has(g)) hidden.delete(g); else hidden.add(g);
    row.classList.toggle("off"); draw(); };
  legend.appendChild(row);
});
const box = document.getElementById("q");
box.addEventListener("input", function() { search(box.value, false); });
box.addEventListener("keydown", function(e) { if (e.key === "Enter") search(box.value, true); });
document.getElementById("zin").onclick = function() { view(k * 1.5, W / 2, H / 2); };
document.getElementById("zout").onclick = function() { view(k / 1.5, W / 2, H / 2); };
function reset() { k = 1; tx = 0; ty = 0; draw(); }
document.getElementById("reset").onclick = reset;
cv.addEventListener("dblclick", reset);
cv.addEventListener("wheel", function(e) {
  e.preventDefault(); const b = cv.getBoundingClientRect();
  view(k * Math.exp(-e.deltaY * 0.0015), e.clientX - b.left, e.clientY - b.top);
}, {passive: false});
let drag = null;
cv.addEventListener("mousedown", function(e) { drag = {x: e.clientX, y: e.clientY, tx: tx, ty: ty};
  cv.classList.add("drag"); });
window.addEventListener("mouseup", function() { drag = null; cv.classList.remove("drag"); });
cv.addEventListener("mousemove", function(e) {
  if (drag) { tx = drag.tx + e.clientX - drag.x; ty = drag.ty + e.clientY - drag.y; tip.style.display = "none";
              draw(); return; }
  const b = cv.getBoundingClientRect(), mx = e.clientX - b.left, my = e.clientY - b.top;
  let best = -1, bd = 64;
  for (let i = 0; i < n; i++) {
    if (hidden.has(D.g[i])) continue;
    const X = px[i] * k + tx, Y = py[i] * k + ty, d = (X - mx) * (X - mx) + (Y - my) * (Y - my);
    if (d < bd) { bd = d; best = i; }
  }
  if (best < 0) { tip.style.display = "none"; return; }
  tip.textContent = D.hover[best] + "  \\u2014  " + D.colorTitle + ": " + D.names[D.g[best]];
  tip.style.left = (px[best] * k + tx + 10) + "px"; tip.style.top = (py[best] * k + ty + 10) + "px";
  tip.style.display = "block";
});
cv.addEventListener("mouseleave", function() { tip.style.display = "none"; });
// a link may carry a search: map.html#q=miles%20davis (zooms to the matches) or a zoom: #zoom=3
const args = new URLSearchParams(location.hash.slice(1));
if (args.get("zoom")) view(parseFloat(args.get("zoom")) || 1, W / 2, H / 2);
if (args.get("q")) { box.value = args.get("q"); search(box.value, true); } else search("", false);
})();
</script></body></html>
"""
