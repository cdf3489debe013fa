// The map page: an offline basemap, the view's geotagged photos as clusters (supercluster in a Web Worker
// for up to a few hundred thousand points, the server's per-zoom clusters beyond), a heatmap toggle,
// tooltips with name and thumbnail, and rectangle / lasso selection that becomes the area filter.
"use strict";

(function () {
  const el = document.getElementById("map");
  if (!el || !window.L) return;
  const d = el.dataset;
  const filters = d.filters || ""; // "?since=2023&..." or ""
  const MAX_ZOOM = parseInt(d.maxZoom, 10);
  const CLUSTER_MAX_ZOOM = parseInt(d.clusterMaxZoom, 10);
  const RADIUS = 56; // cluster radius in screen pixels (the server's grid cells are 64)
  const LIST_PAGE = 50;
  const MAX_VERTICES = parseInt(d.maxVertices, 10);

  // The attribution is plain text (the vendored Leaflet's prefix is patched not to link leafletjs.com):
  // nothing on the page points off this machine.
  const map = L.map(el, { maxZoom: MAX_ZOOM, minZoom: 1, worldCopyJump: true, zoomControl: true });
  window.gallerfsMap = map; // for the browser tests and benchmarks
  map.attributionControl.addAttribution(d.attribution);
  map.createPane("basemap").style.zIndex = 150;
  const markers = L.layerGroup().addTo(map);
  let heat = null;
  let heatOn = false;
  let rendered = 0;

  function withArgs(base, extra) {
    const url = new URL(base + filters, window.location.origin);
    for (const [k, v] of Object.entries(extra || {})) {
      if (v === null || v === undefined || v === "") url.searchParams.delete(k);
      else url.searchParams.set(k, v);
    }
    return url.pathname + url.search;
  }

  // -- basemap ------------------------------------------------------------------------------
  // Natural Earth rings that cross the antimeridian jump from 180 to -180 (Russia, Fiji, Antarctica);
  // drawn as they are, those jumps become bands across the whole map. Continue each ring past 180 instead.
  function unwrapRings(geometry) {
    const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
    for (const polygon of polygons) {
      for (const ring of polygon) {
        let offset = 0;
        for (let i = 1; i < ring.length; i++) {
          const lon = ring[i][0] + offset;
          const step = lon - ring[i - 1][0];
          if (step > 180) offset -= 360;
          else if (step < -180) offset += 360;
          ring[i] = [ring[i][0] + offset, ring[i][1]];
        }
      }
    }
  }

  function basemap() {
    if (d.basemap === "online") {
      L.tileLayer(d.tiles, { maxZoom: MAX_ZOOM, pane: "basemap" }).addTo(map);
    } else if (d.basemap === "pmtiles" && window.protomapsL) {
      window.protomapsL.leafletLayer({ url: d.tiles, theme: "dark", pane: "basemap", maxZoom: MAX_ZOOM, attribution: "" }).addTo(map);
    }
    if (d.basemap !== "outline") return;
    // Natural Earth at 1:110m for the world and continents, 1:50m once zoomed in (each loaded when first needed).
    const renderer = L.canvas({ pane: "basemap", padding: 0.5 });
    const style = { color: "#4b5560", weight: 0.8, fillColor: "#2a3038", fillOpacity: 1 };
    const layers = {};
    let shown = null;
    function layer(url) {
      if (!layers[url]) {
        layers[url] = fetch(url).then((r) => r.json()).then((topo) => {
          const land = topojson.feature(topo, topo.objects.countries);
          for (const f of land.features) unwrapRings(f.geometry);
          return L.geoJSON(land, { renderer, interactive: false, style });
        });
      }
      return layers[url];
    }
    function pick() {
      const url = map.getZoom() >= 5 ? d.atlasFine : d.atlas;
      if (url === shown) return;
      shown = url;
      layer(url).then((next) => {
        if (shown !== url) return;
        for (const other of Object.values(layers)) other.then((l) => { if (l !== next) l.remove(); });
        next.addTo(map);
        el.classList.add("basemap-ready");
      }).catch((err) => console.warn("basemap:", err));
    }
    map.on("zoomend", pick);
    pick();
  }

  // -- tooltips and lists -----------------------------------------------------------------------
  const itemCache = new Map();
  async function items(ids) {
    const missing = ids.filter((i) => !itemCache.has(i));
    for (let k = 0; k < missing.length; k += 100) {
      const chunk = missing.slice(k, k + 100);
      const r = await fetch(`${d.itemsApi}?ids=${chunk.join(",")}`);
      if (!r.ok) throw new Error(`items: ${r.status}`);
      for (const item of (await r.json()).items) itemCache.set(item.id, item);
    }
    return ids.map((i) => itemCache.get(i)).filter(Boolean);
  }

  function thumb(item) {
    if (!item.thumb) {
      const span = document.createElement("span");
      span.className = "no-thumb";
      span.textContent = item.kind;
      return span;
    }
    const img = document.createElement("img");
    img.src = `${d.thumb}${item.id}/grid?v=${encodeURIComponent(item.thumb_key)}`;
    img.alt = "";
    img.loading = "lazy";
    return img;
  }

  function photoURL(id) {
    return d.photo + id + filters;
  }

  function tipFor(marker, id) {
    marker.bindTooltip("…", { direction: "top", offset: [0, -8], className: "map-tip" });
    marker.on("mouseover", async () => {
      const [item] = await items([id]);
      if (!item) return;
      const box = document.createElement("div");
      box.append(thumb(item));
      const name = document.createElement("div");
      name.className = "name";
      name.textContent = item.name;
      box.append(name);
      if (item.taken_at) {
        const when = document.createElement("div");
        when.className = "when";
        when.textContent = item.taken_at;
        box.append(when);
      }
      if (item.place) {
        const where = document.createElement("div");
        where.className = "where";
        where.textContent = item.place;
        box.append(where);
      }
      marker.setTooltipContent(box);
    });
  }

  const list = document.getElementById("map-list");
  let listState = null; // { total, fetchIds(offset, limit) -> Promise<ids>, shown }
  async function showList(total, fetchIds) {
    listState = { total, fetchIds, shown: 0 };
    list.querySelector(".items").replaceChildren();
    list.querySelector(".title").textContent = `${total} ${total === 1 ? "photo" : "photos"} here`;
    list.hidden = false;
    await moreList();
  }
  async function moreList() {
    const s = listState;
    const ids = await s.fetchIds(s.shown, LIST_PAGE);
    const found = await items(ids);
    const box = list.querySelector(".items");
    for (const item of found) {
      const a = document.createElement("a");
      a.href = photoURL(item.id);
      a.className = "map-item";
      a.title = item.name;
      a.append(thumb(item));
      const name = document.createElement("span");
      name.textContent = item.name;
      a.append(name);
      box.append(a);
    }
    s.shown += ids.length;
    list.querySelector(".more").hidden = s.shown >= s.total || !ids.length;
  }
  list.querySelector(".more").addEventListener("click", moreList);
  list.querySelector(".close").addEventListener("click", () => { list.hidden = true; });

  // -- drawing clusters -----------------------------------------------------------------------
  function sizeClass(count) {
    return count < 10 ? "s" : count < 100 ? "m" : count < 1000 ? "l" : "xl";
  }
  function label(count) {
    return count < 10000 ? String(count) : `${Math.round(count / 1000)}k`;
  }

  // rows: [lat, lon, count, id, ...] with id > 0 for a photo; onCluster(row) handles a cluster's click.
  function draw(rows, onCluster) {
    markers.clearLayers();
    const layers = [];
    for (const row of rows) {
      const [lat, lon, count, id] = row;
      let marker;
      if (count === 1 && id > 0) {
        marker = L.marker([lat, lon], { icon: L.divIcon({ className: "map-photo", iconSize: [14, 14], html: "" }), keyboard: false });
        marker.on("add", () => { marker.getElement().dataset.id = id; });
        tipFor(marker, id);
        marker.on("click", () => { window.location.href = photoURL(id); });
      } else {
        const cls = sizeClass(count);
        const px = { s: 26, m: 32, l: 40, xl: 48 }[cls];
        marker = L.marker([lat, lon], {
          icon: L.divIcon({ className: `map-cluster size-${cls}`, iconSize: [px, px], html: `<span>${label(count)}</span>` }),
          title: `${count} photos`, keyboard: false,
        });
        marker.on("add", () => { marker.getElement().dataset.count = count; });
        marker.on("click", () => onCluster(row));
      }
      layers.push(marker);
    }
    for (const m of layers) markers.addLayer(m);
    rendered += 1;
    el.dataset.rendered = rendered;
    el.dataset.markers = layers.length;
  }

  function heatRows(rows) {
    let max = 1;
    for (const r of rows) max = Math.max(max, r[2]);
    return rows.map((r) => [r[0], r[1], 0.2 + 0.8 * Math.sqrt(r[2] / max)]);
  }

  function viewBox() {
    const b = map.getBounds();
    return { west: b.getWest(), south: b.getSouth(), east: b.getEast(), north: b.getNorth() };
  }

  // -- client mode: supercluster in a worker ----------------------------------------------------------
  // Until the worker has indexed every point (about a second per 100,000), the server's clusters of the
  // same view are drawn, so the first view appears as soon as the page has loaded.
  function clientMode(ready) {
    const interim = serverMode({ done: () => indexed });
    const worker = new Worker(d.worker);
    let seq = 0;
    const waiting = new Map();
    let lat = null; // the positions, kept for the heatmap (built from them when first shown)
    let lon = null;
    let heatPoints = null;
    function allPoints() {
      if (!heatPoints && lat) {
        heatPoints = new Array(lat.length);
        for (let i = 0; i < lat.length; i++) heatPoints[i] = [lat[i], lon[i]];
      }
      return heatPoints || [];
    }
    function ask(msg, transfer) {
      msg.seq = ++seq;
      return new Promise((resolve, reject) => {
        waiting.set(msg.seq, { resolve, reject });
        worker.postMessage(msg, transfer || []);
      });
    }
    worker.onmessage = (event) => {
      const msg = event.data;
      const w = waiting.get(msg.seq);
      if (!w) return;
      waiting.delete(msg.seq);
      if (msg.type === "error") w.reject(new Error(msg.message));
      else w.resolve(msg);
    };
    let latest = 0;
    let indexed = false;
    async function render() {
      if (!indexed) return interim.render();
      const b = viewBox();
      const zoom = Math.min(Math.round(map.getZoom()), CLUSTER_MAX_ZOOM + 1);
      const west = b.east - b.west >= 360 ? -180 : b.west;
      const east = b.east - b.west >= 360 ? 180 : b.east;
      const mine = ++latest;
      const msg = await ask({ type: "view", bbox: [west, Math.max(b.south, -90), east, Math.min(b.north, 90)], zoom });
      if (mine !== latest) return; // a newer view was asked for meanwhile
      const flat = msg.clusters;
      const rows = [];
      for (let k = 0; k < flat.length; k += 4) rows.push([flat[k], flat[k + 1], flat[k + 2], flat[k + 3]]);
      if (heatOn) return;
      draw(rows, onCluster);
    }
    async function onCluster(row) {
      if (row.length > 4) return interim.onCluster(row); // drawn from the server's clusters
      const cluster = -row[3];
      const zoom = map.getZoom();
      const { zoom: expansion } = await ask({ type: "expand", cluster });
      if (zoom < CLUSTER_MAX_ZOOM && expansion <= CLUSTER_MAX_ZOOM) {
        map.flyTo([row[0], row[1]], Math.max(expansion, zoom + 1), { duration: 0.4 });
      } else {
        showList(row[2], async (offset, limit) => (await ask({ type: "leaves", cluster, offset, limit })).ids);
      }
    }
    function heatLayer() {
      if (!heat) heat = L.heatLayer(allPoints(), { radius: 16, blur: 14, maxZoom: 12, minOpacity: 0.35 });
      return heat;
    }
    const mode = { render, heatLayer, refreshHeat: () => heat && heat.setLatLngs(allPoints()) };
    (async () => {
      const r = await fetch(withArgs(d.pointsApi, { gen: d.generation }));
      if (!r.ok) throw new Error(`points: ${r.status}`);
      const buffer = await r.arrayBuffer();
      const head = new DataView(buffer, 0, 16);
      const count = head.getUint32(8, true);
      lat = new Float32Array(buffer.slice(16, 16 + 4 * count));
      lon = new Float32Array(buffer.slice(16 + 4 * count, 16 + 8 * count));
      if (heat) heat.setLatLngs(allPoints());
      await ask({ type: "load", buffer, count, offset: 16, radius: RADIUS, maxZoom: CLUSTER_MAX_ZOOM }, [buffer]);
      indexed = true;
      el.dataset.indexed = "1";
      await render();
    })().catch((err) => { console.error("map:", err); el.dataset.failed = String(err); });
    return mode;
  }

  // -- server mode: clusters per view from the server --------------------------------------------------
  // interim: drawing for clientMode until its worker is ready (then its answers are dropped, and it
  // leaves the heatmap alone).
  function serverMode(interim) {
    let latest = 0;
    let lastRows = [];
    async function render() {
      const b = viewBox();
      const zoom = Math.min(Math.round(map.getZoom()), MAX_ZOOM);
      const full = b.east - b.west >= 360;
      const bbox = [Math.max(b.south, -90), full ? -180 : b.west, Math.min(b.north, 90), full ? 180 : b.east]
        .map((v) => v.toFixed(6)).join(",");
      const mine = ++latest;
      const r = await fetch(withArgs(d.clustersApi, { bbox, zoom: Math.min(zoom, CLUSTER_MAX_ZOOM) }));
      if (!r.ok) throw new Error(`clusters: ${r.status}`);
      const data = await r.json();
      if (mine !== latest || (interim && interim.done())) return;
      lastRows = data.clusters;
      if (heatOn) { if (!interim && heat) heat.setLatLngs(heatRows(lastRows)); return; }
      draw(lastRows, onCluster);
    }
    function onCluster(row) {
      const [, , count, , south, west, north, east] = row;
      const bounds = L.latLngBounds([south, west], [north, east]);
      const zoom = map.getZoom();
      const target = map.getBoundsZoom(bounds);
      if (zoom < CLUSTER_MAX_ZOOM && target > zoom) {
        map.flyToBounds(bounds.pad(0.1), { duration: 0.4, maxZoom: Math.min(target, MAX_ZOOM) });
      } else {
        const bbox = [south, west, north, east].map((v) => v.toFixed(7)).join(",");
        showList(count, async (offset, limit) => {
          const r = await fetch(withArgs(d.idsApi, { bbox, offset, limit }));
          return (await r.json()).ids;
        });
      }
    }
    function heatLayer() {
      if (!heat) heat = L.heatLayer(heatRows(lastRows), { radius: 22, blur: 18, minOpacity: 0.35 });
      return heat;
    }
    return { render, onCluster, heatLayer, refreshHeat: () => heat && heat.setLatLngs(heatRows(lastRows)) };
  }

  // -- area selection -------------------------------------------------------------------------------
  const bar = document.getElementById("area-bar");
  let areaLayer = null;
  let drawing = null; // "rectangle" | "lasso" | null

  function fmt(v) {
    return String(Math.round(v * 1e5) / 1e5);
  }
  function encodeArea(latlngs) {
    return latlngs.map((p) => `${fmt(p.lat)}_${fmt(((p.lng + 180) % 360 + 360) % 360 - 180)}`).join("_");
  }
  function decodeArea(text) {
    const v = text.split("_").map(Number);
    const out = [];
    for (let k = 0; k + 1 < v.length; k += 2) out.push(L.latLng(v[k], v[k + 1]));
    return out;
  }

  // A lasso's path, thinned to at most MAX_VERTICES vertices (Douglas-Peucker in screen pixels, with a
  // tolerance raised until it fits).
  function simplify(points) {
    const px = points.map((p) => map.latLngToLayerPoint(p));
    function dp(tol) {
      const keep = new Uint8Array(px.length);
      keep[0] = keep[px.length - 1] = 1;
      const stack = [[0, px.length - 1]];
      while (stack.length) {
        const [a, b] = stack.pop();
        let best = -1, at = -1;
        for (let i = a + 1; i < b; i++) {
          const dist = L.LineUtil.pointToSegmentDistance(px[i], px[a], px[b]);
          if (dist > best) { best = dist; at = i; }
        }
        if (best > tol) { keep[at] = 1; stack.push([a, at], [at, b]); }
      }
      return points.filter((_, i) => keep[i]);
    }
    let tol = 1.5;
    let out = dp(tol);
    while (out.length > MAX_VERTICES) { tol *= 1.5; out = dp(tol); }
    return out;
  }

  function setLinks(area) {
    for (const a of document.querySelectorAll(".topbar nav a[data-filtered]")) {
      const url = new URL(a.href);
      if (area) url.searchParams.set("area", area); else url.searchParams.delete("area");
      a.href = url.pathname + url.search;
    }
  }

  async function showArea(area, count) {
    const gridLink = bar.querySelector(".grid-link");
    const searchLink = bar.querySelector(".search-link");
    gridLink.href = withArgs(d.grid, { area });
    searchLink.href = withArgs(d.search, { area });
    bar.hidden = false;
    const counter = bar.querySelector(".area-count");
    if (count === undefined) {
      counter.textContent = "Counting…";
      const r = await fetch(withArgs(d.gridApi, { area, limit: 1 }));
      const data = await r.json();
      count = r.ok ? data.total : null;
      if (!r.ok) { counter.textContent = data.error || "This area cannot be used."; return; }
    }
    counter.textContent = `${count} ${count === 1 ? "file" : "files"} in this area`;
    bar.dataset.count = count;
  }

  function finishArea(latlngs) {
    const area = encodeArea(latlngs);
    if (areaLayer) areaLayer.remove();
    areaLayer = L.polygon(latlngs, { className: "map-area", interactive: false }).addTo(map);
    history.replaceState(null, "", withArgs(d.self, { area }));
    setLinks(area);
    const form = document.querySelector("form.filters");
    let box = form.querySelector('input[name="area"]');
    if (!box) {
      const label = document.createElement("label");
      label.className = "check area-filter";
      box = document.createElement("input");
      box.type = "checkbox";
      box.name = "area";
      label.append(box, " Map area");
      form.querySelector('button[type="submit"]').before(label);
    }
    box.value = area;
    box.checked = true;
    showArea(area);
  }

  function startDrawing(kind) {
    drawing = kind;
    el.classList.add("drawing");
    map.dragging.disable();
    for (const b of document.querySelectorAll(".map-tools [data-draw]")) b.classList.toggle("on", b.dataset.draw === kind);
  }
  function stopDrawing() {
    drawing = null;
    el.classList.remove("drawing");
    map.dragging.enable();
    for (const b of document.querySelectorAll(".map-tools [data-draw]")) b.classList.remove("on");
  }

  let stroke = null;
  map.on("mousedown", (e) => {
    if (!drawing) return;
    const start = e.latlng;
    const path = [start];
    const shape = drawing === "rectangle"
      ? L.rectangle(L.latLngBounds(start, start), { className: "map-area drawing", interactive: false })
      : L.polyline(path, { className: "map-area drawing", interactive: false });
    shape.addTo(map);
    stroke = { kind: drawing, start, path, shape };
  });
  map.on("mousemove", (e) => {
    if (!stroke) return;
    if (stroke.kind === "rectangle") stroke.shape.setBounds(L.latLngBounds(stroke.start, e.latlng));
    else { stroke.path.push(e.latlng); stroke.shape.setLatLngs(stroke.path); }
  });
  map.on("mouseup", (e) => {
    if (!stroke) return;
    const s = stroke;
    stroke = null;
    s.shape.remove();
    stopDrawing();
    let latlngs;
    if (s.kind === "rectangle") {
      const b = L.latLngBounds(s.start, e.latlng);
      latlngs = [b.getSouthWest(), b.getSouthEast(), b.getNorthEast(), b.getNorthWest()];
    } else {
      s.path.push(e.latlng);
      latlngs = simplify(s.path);
    }
    const px = latlngs.map((p) => map.latLngToContainerPoint(p));
    const w = Math.max(...px.map((p) => p.x)) - Math.min(...px.map((p) => p.x));
    const h = Math.max(...px.map((p) => p.y)) - Math.min(...px.map((p) => p.y));
    if (latlngs.length < 3 || w < 4 || h < 4) return; // a click, not an area
    finishArea(latlngs);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && drawing) { if (stroke) { stroke.shape.remove(); stroke = null; } stopDrawing(); }
  });

  for (const b of document.querySelectorAll(".map-tools [data-draw]")) {
    b.addEventListener("click", () => (drawing === b.dataset.draw ? stopDrawing() : startDrawing(b.dataset.draw)));
  }
  bar.querySelector(".clear-area").addEventListener("click", () => {
    if (d.area) { window.location.href = withArgs(d.self, { area: null }); return; }
    if (areaLayer) areaLayer.remove();
    areaLayer = null;
    bar.hidden = true;
    history.replaceState(null, "", withArgs(d.self, { area: null }));
    setLinks(null);
    const box = document.querySelector('form.filters input[name="area"]');
    if (box) box.closest("label").remove();
  });

  // -- start ------------------------------------------------------------------------------------------
  basemap();
  const b = (d.bounds || "").split(",").map(Number);
  if (d.area) {
    const latlngs = decodeArea(d.area);
    areaLayer = L.polygon(latlngs, { className: "map-area", interactive: false }).addTo(map);
    map.fitBounds(areaLayer.getBounds().pad(0.15), { maxZoom: CLUSTER_MAX_ZOOM });
    showArea(d.area, parseInt(d.count, 10));
  } else if (b.length === 4 && b.every(Number.isFinite)) {
    map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: [30, 30], maxZoom: 14 });
  } else {
    map.setView([20, 0], 2);
  }

  (async () => {
    const mode = d.mode === "server" ? serverMode() : clientMode();
    const heatBox = document.getElementById("heat-toggle");
    heatBox.addEventListener("change", () => {
      heatOn = heatBox.checked;
      if (heatOn) { markers.clearLayers(); mode.heatLayer().addTo(map); mode.refreshHeat(); } else { if (heat) heat.remove(); mode.render(); }
      el.dataset.heat = heatOn ? "on" : "off";
    });
    let pending = false;
    map.on("moveend", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; mode.render().catch((err) => console.error(err)); });
    });
    return mode.render();
  })().catch((err) => {
    console.error("map:", err);
    el.dataset.failed = String(err);
  });
})();
