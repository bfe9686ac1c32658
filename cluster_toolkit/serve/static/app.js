// ctk serve: the page. Plain JavaScript, no build step. Every text from the library is set with
// textContent (never parsed as HTML). Views are chosen by the URL's hash: #/ (search), #/search/Q/PAGE,
// #/track/ID, #/map. A token given as #token=... is kept for this tab and sent with saves.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const PER_PAGE = 20;
  const hashArgs = new URLSearchParams(location.hash.startsWith("#token=") ? location.hash.slice(1) : "");
  if (hashArgs.get("token")) { sessionStorage.setItem("ctk-token", hashArgs.get("token")); location.hash = "#/"; }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function clock(s) {
    if (s === null || s === undefined) return "?";
    s = Math.floor(s); return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function label(t) { return (t.artist ? t.artist + " - " : "") + (t.title || t.track_id); }
  function showError(text) { const e = $("error"); e.textContent = text; e.hidden = false;
    setTimeout(() => { e.hidden = true; }, 6000); }
  async function api(path, options) {
    const response = await fetch(path, options);
    const body = await response.json().catch(() => ({}));
    if (!response.ok && response.status !== 202) {
      const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail || body);
      throw new Error(response.status + ": " + detail);
    }
    body._status = response.status;
    return body;
  }
  function trackLink(t) { const a = el("a", label(t)); a.href = "#/track/" + encodeURIComponent(t.track_id);
    return a; }

  // ------------------------------------------------------------------ views
  function show(name) {
    for (const v of ["search", "track", "map"]) $("view-" + v).hidden = v !== name;
  }
  async function route() {
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    try {
      if (parts[0] === "track" && parts[1]) { show("track"); await trackView(parts[1]); }
      else if (parts[0] === "map") { show("map"); await mapView(); }
      else if (parts[0] === "search" && parts[1]) { show("search"); await searchView(parts[1], +parts[2] || 1); }
      else { show("search"); }
    } catch (err) { showError(err.message); }
  }
  window.addEventListener("hashchange", route);

  // ------------------------------------------------------------------ search
  $("searchform").addEventListener("submit", (e) => {
    e.preventDefault(); const q = $("q").value.trim();
    if (q) location.hash = "#/search/" + encodeURIComponent(q) + "/1";
  });
  async function searchView(q, page) {
    $("q").value = q;
    const r = await api("/api/search?" + new URLSearchParams({q: q, page: page, per_page: PER_PAGE}));
    const list = $("results"); list.replaceChildren(); list.start = (page - 1) * PER_PAGE + 1;
    for (const t of r.results) {
      const li = el("li"); li.appendChild(trackLink(t));
      li.appendChild(el("span", "  " + (t.album || "") + " ", "meta"));
      li.appendChild(el("span", "score " + t.score, "score")); list.appendChild(li);
    }
    const pages = Math.max(1, Math.ceil(r.total / PER_PAGE));
    $("results-info").textContent = r.total + " tracks match \u201c" + q + "\u201d";
    $("pageno").textContent = "page " + page + " of " + pages;
    $("prev").disabled = page <= 1; $("next").disabled = page >= pages;
    $("prev").onclick = () => { location.hash = "#/search/" + encodeURIComponent(q) + "/" + (page - 1); };
    $("next").onclick = () => { location.hash = "#/search/" + encodeURIComponent(q) + "/" + (page + 1); };
  }

  // ------------------------------------------------------------------ track page
  function play(t, from) {
    const player = $("player");
    if (!t.audio_url) { $("t-playing").textContent = "this file is outside the music root: not played"; return; }
    const start = () => { player.currentTime = from || 0; player.play().catch(() => {}); };
    if (player.dataset.src !== t.audio_url) {
      player.dataset.src = t.audio_url; player.src = t.audio_url;
      player.addEventListener("loadedmetadata", start, {once: true}); player.load();
    } else start();
    $("t-playing").textContent = "playing " + label(t) + " from " + clock(from || 0);
    player.dataset.from = String(from || 0);
  }
  async function trackView(id) {
    const t = await api("/api/tracks/" + encodeURIComponent(id));
    $("t-title").textContent = label(t);
    const tags = $("t-tags"); tags.replaceChildren();
    const rows = [["album", t.album], ["genre", t.genre], ["duration", clock(t.duration_s)],
      ["cluster", t.cluster ? t.cluster.label + ": " + t.cluster.name + " (run " + t.cluster.run_id + ")" : "none"]];
    for (const [k, v] of rows) { const tr = el("tr"); tr.appendChild(el("td", k)); tr.appendChild(el("td", v || ""));
      tags.appendChild(tr); }
    const player = $("player"); player.pause(); player.dataset.src = ""; player.removeAttribute("src");
    $("t-playing").textContent = "";
    if (t.audio_url) { player.dataset.src = t.audio_url; player.src = t.audio_url; }
    const list = $("similar"); list.replaceChildren(el("li", "finding similar tracks..."));
    const r = await api("/api/tracks/" + encodeURIComponent(id) + "/similar?n=10");
    list.replaceChildren();
    for (const s of r.similar) {
      const li = el("li"); li.className = "similar";
      li.appendChild(trackLink(s));
      li.appendChild(el("span", "  distance " + s.distance.toFixed(3) + " ", "meta"));
      const b = el("button", "\u25b6 " + clock(s.fragment_start_s)); b.className = "playfrom";
      b.title = "play the matching fragment"; b.onclick = () => play(s, s.fragment_start_s || 0);
      li.appendChild(b);
      if (s.seed_start_s !== null) {
        const o = el("button", "\u25b6 this song at " + clock(s.seed_start_s));
        o.onclick = () => play(t, s.seed_start_s); li.appendChild(o);
      }
      const why = el("ul", null, "why"); for (const w of s.why) why.appendChild(el("li", w)); li.appendChild(why);
      list.appendChild(li);
    }
    for (const n of r.notices) list.appendChild(el("li", n, "meta"));
  }

  // ------------------------------------------------------------------ map
  const cv = $("map"), ctx = cv.getContext("2d"), tip = $("tip");
  const W = cv.width, H = cv.height, pad = 20;
  const M = {data: null, px: null, py: null, k: 1, tx: 0, ty: 0, hidden: new Set(), selected: [], mode: "pan"};
  window.ctkMap = M;  // for the page's own tests: screen positions, selection
  M.screenOf = function (id) {
    const i = M.data.ids.indexOf(id);
    return i < 0 ? null : {x: M.px[i] * M.k + M.tx, y: M.py[i] * M.k + M.ty};
  };
  async function mapView() {
    if (M.data) { draw(); return; }
    const r = await api("/api/map");
    if (r._status === 202) { $("mapstatus").textContent = "computing the map (UMAP)..."; setTimeout(route, 2000); return; }
    M.data = r; const n = r.x.length;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) { x0 = Math.min(x0, r.x[i]); x1 = Math.max(x1, r.x[i]);
      y0 = Math.min(y0, r.y[i]); y1 = Math.max(y1, r.y[i]); }
    const s = Math.min((W - 2 * pad) / ((x1 - x0) || 1), (H - 2 * pad) / ((y1 - y0) || 1));
    M.px = new Float32Array(n); M.py = new Float32Array(n);
    for (let i = 0; i < n; i++) { M.px[i] = pad + (r.x[i] - x0) * s; M.py[i] = H - pad - (r.y[i] - y0) * s; }
    M.r = n > 20000 ? 1.5 : n > 2000 ? 2.5 : 4;
    M.index = new Map(r.ids.map((id, i) => [id, i]));
    $("mapstatus").textContent = n + " tracks coloured by " + r.title;
    legend(); draw();
  }
  function legend() {
    const box = $("legend"); box.replaceChildren(el("b", M.data.title));
    M.data.names.forEach((name, g) => {
      const row = el("div"); const sw = el("span"); sw.style.background = M.data.colors[g]; row.appendChild(sw);
      row.appendChild(document.createTextNode(name)); row.style.cursor = "pointer";
      row.onclick = () => { if (M.hidden.has(g)) M.hidden.delete(g); else M.hidden.add(g);
        row.style.opacity = M.hidden.has(g) ? 0.3 : 1; draw(); };
      box.appendChild(row);
    });
  }
  function draw() {
    if (!M.data) return;
    const D = M.data, n = D.x.length, sel = new Set(M.selected);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    let drawn = 0;
    for (let i = 0; i < n; i++) {
      if (M.hidden.has(D.g[i])) continue;
      const X = M.px[i] * M.k + M.tx, Y = M.py[i] * M.k + M.ty;
      if (X < -5 || Y < -5 || X > W + 5 || Y > H + 5) continue;
      ctx.fillStyle = D.colors[D.g[i]]; ctx.beginPath(); ctx.arc(X, Y, M.r, 0, 6.2832); ctx.fill(); drawn++;
      if (sel.has(D.ids[i])) { ctx.strokeStyle = "#000"; ctx.lineWidth = 2; ctx.stroke(); }
    }
    if (M.lasso && M.lasso.length > 1) {
      ctx.strokeStyle = "#333"; ctx.lineWidth = 1; ctx.setLineDash([4, 3]); ctx.beginPath();
      ctx.moveTo(M.lasso[0][0], M.lasso[0][1]); for (const p of M.lasso) ctx.lineTo(p[0], p[1]);
      ctx.closePath(); ctx.stroke(); ctx.setLineDash([]);
    }
    cv.dataset.points = String(drawn); cv.dataset.selected = String(M.selected.length);
    cv.dataset.zoom = M.k.toFixed(3);
  }
  function zoom(kk, cx, cy) {
    kk = Math.max(1, Math.min(200, kk));
    M.tx = cx - (cx - M.tx) * kk / M.k; M.ty = cy - (cy - M.ty) * kk / M.k; M.k = kk; draw();
  }
  function nearest(mx, my) {
    let best = -1, bd = 64;
    for (let i = 0; i < M.data.x.length; i++) {
      if (M.hidden.has(M.data.g[i])) continue;
      const dx = M.px[i] * M.k + M.tx - mx, dy = M.py[i] * M.k + M.ty - my, d = dx * dx + dy * dy;
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }
  function inside(poly, x, y) {  // ray casting
    let hit = false;
    for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
      const [xa, ya] = poly[a], [xb, yb] = poly[b];
      if ((ya > y) !== (yb > y) && x < (xb - xa) * (y - ya) / (yb - ya) + xa) hit = !hit;
    }
    return hit;
  }
  function setSelection(ids) {
    M.selected = ids; const list = $("selection"); list.replaceChildren();
    for (const id of ids) {
      const i = M.index.get(id), li = el("li", M.data.hover[i]);
      const x = el("button", "\u00d7"); x.title = "remove";
      x.onclick = () => setSelection(M.selected.filter((s) => s !== id)); li.appendChild(x); list.appendChild(li);
    }
    $("selcount").textContent = String(ids.length); draw();
  }
  function pos(e) { const b = cv.getBoundingClientRect(); return [e.clientX - b.left, e.clientY - b.top]; }
  let drag = null;
  cv.addEventListener("mousedown", (e) => {
    if (!M.data) return; const [x, y] = pos(e);
    drag = {x: x, y: y, tx: M.tx, ty: M.ty, moved: false};
    if (M.mode === "lasso") M.lasso = [[x, y]];
  });
  window.addEventListener("mouseup", (e) => {
    if (!drag) return; const [x, y] = pos(e), was = drag; drag = null;
    if (M.mode === "lasso" && M.lasso && M.lasso.length > 2) {
      const poly = M.lasso, add = [];
      M.lasso = null;
      for (let i = 0; i < M.data.x.length; i++) {
        if (!M.hidden.has(M.data.g[i]) && inside(poly, M.px[i] * M.k + M.tx, M.py[i] * M.k + M.ty)) add.push(M.data.ids[i]);
      }
      setSelection([...M.selected, ...add.filter((id) => !M.selected.includes(id))]); return;
    }
    M.lasso = null;
    if (!was.moved) {  // a click: toggle the nearest track
      const i = nearest(x, y); if (i < 0) { draw(); return; }
      const id = M.data.ids[i];
      setSelection(M.selected.includes(id) ? M.selected.filter((s) => s !== id) : [...M.selected, id]);
    } else draw();
  });
  cv.addEventListener("mousemove", (e) => {
    if (!M.data) return; const [x, y] = pos(e);
    if (drag) {
      if (Math.abs(x - drag.x) + Math.abs(y - drag.y) > 3) drag.moved = true;
      if (M.mode === "lasso") { M.lasso.push([x, y]); draw(); }
      else { M.tx = drag.tx + x - drag.x; M.ty = drag.ty + y - drag.y; draw(); }
      tip.style.display = "none"; return;
    }
    const i = nearest(x, y);
    if (i < 0) { tip.style.display = "none"; return; }
    tip.textContent = M.data.hover[i] + " \u2014 " + M.data.names[M.data.g[i]];
    tip.style.left = (x + 12) + "px"; tip.style.top = (y + 12) + "px"; tip.style.display = "block";
  });
  cv.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  cv.addEventListener("wheel", (e) => { e.preventDefault(); const [x, y] = pos(e);
    zoom(M.k * Math.exp(-e.deltaY * 0.0015), x, y); }, {passive: false});
  cv.addEventListener("dblclick", () => { M.k = 1; M.tx = 0; M.ty = 0; draw(); });
  function mode(m) { M.mode = m; $("mode-pan").classList.toggle("on", m === "pan");
    $("mode-lasso").classList.toggle("on", m === "lasso"); }
  $("mode-pan").onclick = () => mode("pan"); $("mode-lasso").onclick = () => mode("lasso");
  $("zoom-in").onclick = () => zoom(M.k * 1.5, W / 2, H / 2);
  $("zoom-out").onclick = () => zoom(M.k / 1.5, W / 2, H / 2);
  $("zoom-reset").onclick = () => { M.k = 1; M.tx = 0; M.ty = 0; draw(); };
  $("clear").onclick = () => setSelection([]);

  // ------------------------------------------------------------------ playlists
  let current = null;
  async function makePlaylist(method) {
    if (!M.selected.length) { showError("select tracks on the map first (click them, or use the lasso)"); return; }
    try {
      const r = await api("/api/playlist", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({method: method, seeds: M.selected, length: +$("plen").value || 15})});
      current = r; $("playlist").hidden = false; $("saved").textContent = "";
      const list = $("pltracks"); list.replaceChildren();
      for (const t of r.tracks) { const li = el("li"); li.appendChild(trackLink(t)); list.appendChild(li); }
      $("plinfo").textContent = "(" + r.method + ", " + r.tracks.length + " tracks, mean step " +
        (r.metrics.mean_step || 0).toFixed(3) + ")";
      const notes = $("plnotices"); notes.replaceChildren(); for (const t of r.notices) notes.appendChild(el("div", t, "meta"));
      if (!$("plname").value) $("plname").value = (method === "path" ? "path " : "hull walk ") + new Date().toISOString().slice(0, 16).replace("T", " ");
    } catch (err) { showError(err.message); }
  }
  $("hull").onclick = () => makePlaylist("hull");
  $("path").onclick = () => makePlaylist("path");
  function writeHeaders() {
    const headers = {"Content-Type": "application/json"}, token = sessionStorage.getItem("ctk-token");
    if (token) headers["X-CTK-Token"] = token;
    return headers;
  }
  $("spotify").onclick = async () => {
    if (!current) return;
    try {
      const r = await api("/api/spotify", {method: "POST", headers: writeHeaders(), body: JSON.stringify(
        {name: $("plname").value || "ctk playlist", track_ids: current.track_ids})});
      const s = $("saved"); s.replaceChildren(el("span", "Spotify: " + r.items + " tracks in \u201c" + r.name +
        "\u201d" + (r.unmatched.length ? ", not found: " + r.unmatched.join("; ") : "") + " "));
      if (r.url) { const a = el("a", "open"); a.href = r.url; a.target = "_blank"; a.rel = "noopener"; s.appendChild(a); }
    } catch (err) { showError(err.message); }
  };
  $("save").onclick = async () => {
    if (!current) return;
    const headers = writeHeaders();
    try {
      const r = await api("/api/playlists", {method: "POST", headers: headers, body: JSON.stringify(
        {name: $("plname").value || "ctk playlist", track_ids: current.track_ids, method: current.method})});
      const s = $("saved"); s.replaceChildren(el("span", "saved " + r.file + " "));
      const a = el("a", "download"); a.href = r.m3u8_url; s.appendChild(a); s.dataset.file = r.file;
    } catch (err) { showError(err.message); }
  };

  api("/api/info").then((i) => {
    $("libinfo").textContent = i.tracks + " tracks" + (i.cluster_run ? " \u00b7 clusters " + i.cluster_run : "");
    $("spotify").hidden = !i.spotify;
  }).catch((err) => showError(err.message));
  route();
})();
