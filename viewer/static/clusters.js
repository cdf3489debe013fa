// The clusters map: every embedded photo as a point of the 2-D map the indexer stored, drawn with
// plotly's WebGL scatter. Points arrive as one binary array (/api/clusters/points: x, y, id and
// "passes the filters" per point); hovering fetches the file's name and thumbnail; a click opens the
// photo; a lasso or box selection becomes the `cluster` filter (a polygon on this map's fit) that
// the library grid and search apply; a query (q) is drawn as a star among its nearest photos.
"use strict";

(function () {
  const el = document.getElementById("clusters");
  if (!el || typeof Plotly === "undefined") return;
  const d = el.dataset;
  const fit = parseInt(d.fit, 10);
  const maxVertices = parseInt(d.maxVertices, 10) || 64;
  const tip = document.getElementById("clusters-tip");
  const bar = document.getElementById("clusters-selection");
  const noticeEl = document.getElementById("clusters-notice");
  const items = new Map(); // id -> hover details (or a pending promise)
  let ids = null;
  let xs = null;
  let ys = null;
  const members = [null, null]; // per trace: the global index of each of its points
  const indexOf = new Map(); // id -> global index
  let hoverId = 0;

  function url(base, extra) {
    const params = new URLSearchParams(d.filters || "");
    for (const [k, v] of Object.entries(extra || {})) {
      if (v === null) params.delete(k);
      else params.set(k, v);
    }
    const qs = params.toString();
    return base + (qs ? "?" + qs : "");
  }

  function notice(text) {
    noticeEl.textContent = text;
    noticeEl.hidden = !text;
  }

  async function errorText(r) {
    try {
      return (await r.json()).error || r.statusText;
    } catch (e) {
      return r.statusText;
    }
  }

  function unpack(buf) {
    const view = new DataView(buf);
    const magic = String.fromCharCode(view.getUint8(0), view.getUint8(1), view.getUint8(2), view.getUint8(3));
    if (magic !== "GFPT") throw new Error("the points answer is not a clusters point set");
    const n = view.getUint32(4, true);
    return {
      x: new Float32Array(buf, 16, n),
      y: new Float32Array(buf, 16 + 4 * n, n),
      id: new Uint32Array(buf, 16 + 8 * n, n),
      inView: new Uint8Array(buf, 16 + 12 * n, n),
    };
  }

  function split(pts) {
    const n = pts.id.length;
    let inside = 0;
    for (let i = 0; i < n; i++) inside += pts.inView[i];
    const groups = [new Uint32Array(n - inside), new Uint32Array(inside)];
    const fill = [0, 0];
    for (let i = 0; i < n; i++) {
      const g = pts.inView[i];
      groups[g][fill[g]++] = i;
      indexOf.set(pts.id[i], i);
    }
    return groups;
  }

  function coords(group) {
    const gx = new Float32Array(group.length);
    const gy = new Float32Array(group.length);
    for (let k = 0; k < group.length; k++) {
      gx[k] = xs[group[k]];
      gy[k] = ys[group[k]];
    }
    return [gx, gy];
  }

  function regionShape(text) {
    const m = /^\d+:(.+)$/.exec(text || "");
    if (!m) return [];
    const pts = m[1].split(";").map((p) => p.split(",").map(Number));
    const path = "M " + pts.map((p) => p[0] + "," + p[1]).join(" L ") + " Z";
    return [{ type: "path", path: path, line: { color: "#f0b429", width: 1, dash: "dot" }, fillcolor: "rgba(240,180,41,0.06)" }];
  }

  async function draw() {
    performance.mark("clusters-start"); // marks for bench/bench_plots.py's breakdown
    const r = await fetch(d.points);
    if (!r.ok) {
      notice(await errorText(r));
      return;
    }
    const pts = unpack(await r.arrayBuffer());
    performance.mark("clusters-points");
    ids = pts.id;
    xs = pts.x;
    ys = pts.y;
    const groups = split(pts);
    members[0] = groups[0];
    members[1] = groups[1];
    const size = ids.length > 20000 ? 3 : ids.length > 2000 ? 4 : 7;
    const probe = document.createElement("canvas");
    const type = probe.getContext("webgl") || probe.getContext("experimental-webgl") ? "scattergl" : "scatter";
    if (type === "scatter") notice("WebGL is off in this browser: the map is drawn without it, and large libraries will be slow");
    const [ox, oy] = coords(groups[0]);
    const [ix, iy] = coords(groups[1]);
    const traces = [
      { type: type, mode: "markers", name: "outside the filters", x: ox, y: oy, hoverinfo: "none",
        marker: { size: size, color: "#5b626b", opacity: 0.35 } },
      { type: type, mode: "markers", name: "photos", x: ix, y: iy, hoverinfo: "none",
        marker: { size: size, color: "#6cb6ff", opacity: 0.75 } },
      { type: type, mode: "markers", name: "nearest to the query", x: [], y: [], hoverinfo: "none",
        marker: { size: size + 8, color: "rgba(0,0,0,0)", line: { color: "#f0b429", width: 2 } } },
      { type: type, mode: "markers+text", name: "query", x: [], y: [], hoverinfo: "none", text: [],
        textposition: "top center", textfont: { color: "#ffe7a3" },
        marker: { size: 18, symbol: "star", color: "#f0b429", line: { color: "#15171a", width: 1 } } },
    ];
    const layout = {
      dragmode: "lasso", hovermode: "closest", showlegend: false, uirevision: "clusters",
      margin: { l: 10, r: 10, t: 10, b: 10 }, paper_bgcolor: "#15171a", plot_bgcolor: "#1b1e22",
      xaxis: { visible: false, zeroline: false }, yaxis: { visible: false, zeroline: false, scaleanchor: "x" },
      shapes: regionShape(d.region), font: { color: "#e6e8eb" },
    };
    const config = { displaylogo: false, showSendToCloud: false, scrollZoom: true, responsive: true,
      modeBarButtonsToRemove: ["toImage", "autoScale2d"] };
    await Plotly.newPlot(el, traces, layout, config);
    performance.mark("clusters-plotted");
    el.dataset.drawn = String(ids.length);
    el.on("plotly_hover", hover);
    el.on("plotly_unhover", () => { tip.hidden = true; hoverId = 0; });
    el.on("plotly_click", click);
    el.on("plotly_selected", selected);
    el.on("plotly_deselect", () => { bar.hidden = true; });
    if (d.query) await placeQuery(d.query);
    window.gallerfsClustersReady = performance.now();
    el.dataset.ready = "1";
  }

  function globalIndex(point) {
    if (point.curveNumber === 0 || point.curveNumber === 1) return members[point.curveNumber][point.pointNumber];
    if (point.curveNumber === 2) return indexOf.get(nearestIds[point.pointNumber]);
    return undefined;
  }

  let nearestIds = [];

  async function details(id) {
    if (!items.has(id)) {
      items.set(id, fetch(d.itemApi + id).then((r) => (r.ok ? r.json() : null)).catch(() => null));
    }
    return items.get(id);
  }

  async function hover(ev) {
    const point = ev.points && ev.points[0];
    if (!point) return;
    const index = globalIndex(point);
    if (index === undefined) return;
    const id = ids[index];
    hoverId = id;
    const e = ev.event || {};
    tip.style.left = Math.min((e.clientX || 0) + 14, window.innerWidth - 220) + "px";
    tip.style.top = Math.min((e.clientY || 0) + 14, window.innerHeight - 220) + "px";
    const info = await details(id);
    if (hoverId !== id || !info) return;
    const img = tip.querySelector("img");
    if (info.thumb) {
      img.src = `${d.thumb}${id}/grid`;
      img.hidden = false;
    } else {
      img.removeAttribute("src");
      img.hidden = true;
    }
    tip.querySelector("span").textContent = info.name + (info.taken_at ? " · " + info.taken_at.slice(0, 10) : "");
    tip.hidden = false;
  }

  function click(ev) {
    const point = ev.points && ev.points[0];
    if (!point) return;
    const index = globalIndex(point);
    if (index !== undefined) window.location.href = url(d.photo + ids[index]);
  }

  function polygonOf(ev) {
    if (ev.range && ev.range.x && ev.range.y) {
      const [x0, x1] = ev.range.x;
      const [y0, y1] = ev.range.y;
      return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
    }
    if (ev.lassoPoints && ev.lassoPoints.x) {
      const lx = ev.lassoPoints.x;
      const ly = ev.lassoPoints.y;
      const step = Math.max(1, Math.ceil(lx.length / maxVertices));
      const out = [];
      for (let i = 0; i < lx.length && out.length < maxVertices; i += step) out.push([lx[i], ly[i]]);
      return out;
    }
    return [];
  }

  function regionText(polygon) {
    const num = (v) => String(Number(Number(v).toPrecision(6)));
    return fit + ":" + polygon.map((p) => num(p[0]) + "," + num(p[1])).join(";");
  }

  async function selected(ev) {
    if (!ev) return;
    const polygon = polygonOf(ev);
    if (polygon.length < 3) {
      bar.hidden = true;
      return;
    }
    const region = regionText(polygon);
    history.replaceState(null, "", url(window.location.pathname, { cluster: region, q: d.query || null }));
    document.getElementById("selection-grid").href = url(d.library, { cluster: region });
    document.getElementById("selection-search").href = url(d.search, { cluster: region });
    document.getElementById("selection-clear").href = url(window.location.pathname, { cluster: null, q: d.query || null });
    const count = document.getElementById("selection-count");
    count.textContent = "Counting the selection…";
    bar.hidden = false;
    const r = await fetch(url(d.gridApi, { cluster: region, limit: "1" }));
    if (!r.ok) {
      count.textContent = await errorText(r);
      return;
    }
    const total = (await r.json()).total;
    count.textContent = `${total} ${total === 1 ? "photo" : "photos"} selected:`;
    bar.dataset.region = region;
    bar.dataset.total = String(total);
  }

  async function placeQuery(q) {
    const r = await fetch(url(d.queryApi, { q: q }));
    if (!r.ok) {
      notice(await errorText(r));
      return;
    }
    const found = await r.json();
    nearestIds = found.nearest.filter((id) => indexOf.has(id));
    const nx = nearestIds.map((id) => xs[indexOf.get(id)]);
    const ny = nearestIds.map((id) => ys[indexOf.get(id)]);
    await Plotly.restyle(el, { x: [nx, [found.x]], y: [ny, [found.y]], text: [[], ["“" + found.query + "”"]] }, [2, 3]);
    el.dataset.nearest = String(nearestIds.length);
  }

  draw().catch((e) => notice("the clusters map could not be drawn: " + e.message));
})();
