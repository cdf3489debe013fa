// The dashboard: every panel from one /api/dashboard answer (under the page's filters), drawn with
// plotly's SVG charts. A month opens the library on that month, a camera filters by it; the folder
// sunburst draws a few rings at a time (maxdepth) and drills in on click.
"use strict";

(function () {
  const root = document.getElementById("dashboard");
  if (!root || typeof Plotly === "undefined") return;
  const d = root.dataset;
  const COLOURS = { bg: "#1f2226", text: "#e6e8eb", grid: "#2e3238", bar: "#6cb6ff" };
  const config = { displaylogo: false, showSendToCloud: false, responsive: true, modeBarButtonsToRemove: ["toImage", "select2d", "lasso2d"] };

  function layout(extra) {
    return Object.assign({
      paper_bgcolor: COLOURS.bg, plot_bgcolor: COLOURS.bg, font: { color: COLOURS.text, size: 12 },
      margin: { l: 50, r: 10, t: 10, b: 40 }, xaxis: { gridcolor: COLOURS.grid }, yaxis: { gridcolor: COLOURS.grid },
    }, extra || {});
  }

  function url(base, extra) {
    const params = new URLSearchParams(d.filters || "");
    for (const [k, v] of Object.entries(extra || {})) params.set(k, v);
    const qs = params.toString();
    return base + (qs ? "?" + qs : "");
  }

  function bytes(n) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let v = n;
    let i = 0;
    while (v >= 1000 && i < units.length - 1) {
      v /= 1000;
      i++;
    }
    return (i === 0 ? String(v) : v.toFixed(1)) + " " + units[i];
  }

  function day(t) {
    return t === null || t === undefined ? "—" : new Date(t * 1000).toISOString().slice(0, 10);
  }

  function totals(t) {
    const list = document.getElementById("dash-totals");
    const cells = [
      [t.photos, "photos"], [t.videos, "videos"], [t.bytes_text, "on disk"],
      [`${t.sources_online} / ${t.sources_offline}`, "sources online / offline"],
      [`${day(t.first)} – ${day(t.last)}`, "date span"],
    ];
    list.replaceChildren(...cells.map(([value, label]) => {
      const li = document.createElement("li");
      const v = document.createElement("span");
      v.className = "value";
      v.textContent = String(value);
      const l = document.createElement("span");
      l.className = "label";
      l.textContent = label;
      li.append(v, l);
      return li;
    }));
  }

  function hbar(id, top, others, onClick) {
    const labels = top.map((r) => r[0]);
    const values = top.map((r) => r[1]);
    if (others) {
      labels.push("others");
      values.push(others);
    }
    if (!labels.length) {
      empty(id, "nothing recorded for these photos");
      return Promise.resolve();
    }
    const el = document.getElementById(id);
    return Plotly.newPlot(el, [{ type: "bar", orientation: "h", x: values.slice().reverse(), y: labels.slice().reverse(),
      marker: { color: COLOURS.bar }, hovertemplate: "%{y}: %{x} files<extra></extra>" }],
    layout({ margin: { l: 160, r: 10, t: 10, b: 30 }, yaxis: { automargin: true } }), config).then(() => {
      if (onClick) el.on("plotly_click", (ev) => onClick(ev.points[0].y));
    });
  }

  function empty(id, text) {
    const el = document.getElementById(id);
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = text;
    el.replaceChildren(p);
    el.classList.add("empty-chart");
  }

  function months(rows) {
    const el = document.getElementById("dash-months");
    if (!rows.length) return empty("dash-months", "no dated photos"), Promise.resolve();
    return Plotly.newPlot(el, [{ type: "bar", x: rows.map((r) => r[0]), y: rows.map((r) => r[1]),
      marker: { color: COLOURS.bar }, customdata: rows.map((r) => r[0]),
      hovertemplate: "%{customdata}: %{y} files<extra></extra>" }],
    layout({ xaxis: { type: "category", gridcolor: COLOURS.grid, nticks: 24 }, bargap: 0.05 }), config).then(() => {
      el.on("plotly_click", (ev) => {
        const month = ev.points[0].customdata;
        window.location.href = url(d.library, { since: month, until: month });
      });
    });
  }

  function types(rows) {
    if (!rows.length) return empty("dash-types", "no files"), Promise.resolve();
    const labels = rows.map((r) => (r.format ? `${r.format} (${r.kind})` : `${r.kind}, not read yet`));
    return Plotly.newPlot("dash-types", [{ type: "pie", hole: 0.45, labels: labels, values: rows.map((r) => r.files),
      customdata: rows.map((r) => bytes(r.bytes)), textinfo: "label+percent", textposition: "inside",
      hovertemplate: "%{label}: %{value} files, %{customdata}<extra></extra>" }],
    layout({ showlegend: false, margin: { l: 10, r: 10, t: 10, b: 10 } }), config);
  }

  function sources(rows) {
    const body = document.querySelector("#dash-sources tbody");
    body.replaceChildren(...rows.map((s) => {
      const tr = document.createElement("tr");
      for (const text of [s.name, s.online ? "online" : "offline", String(s.files), bytes(s.bytes)]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      tr.children[1].className = s.online ? "ok" : "bad";
      return tr;
    }));
  }

  function folders(f) {
    if (f.ids.length < 2) return empty("dash-folders", "no folders"), Promise.resolve();
    const text = f.values.map((v, i) => `${f.paths[i] || "all sources"}<br>${bytes(v)} in ${f.files[i]} files`);
    return Plotly.newPlot("dash-folders", [{ type: "sunburst", ids: f.ids, labels: f.labels, parents: f.parents,
      values: f.values, branchvalues: "total", maxdepth: f.maxdepth, hovertext: text, hoverinfo: "text",
      insidetextorientation: "radial", sort: false }],
    layout({ margin: { l: 10, r: 10, t: 10, b: 10 } }), config);
  }

  async function draw() {
    const t0 = performance.now();
    const r = await fetch(d.api);
    const notice = document.getElementById("dash-notice");
    if (!r.ok) {
      let message = r.statusText;
      try {
        message = (await r.json()).error || message;
      } catch (e) { /* not JSON */ }
      notice.textContent = message;
      notice.hidden = false;
      return;
    }
    const data = await r.json();
    totals(data.totals);
    sources(data.sources);
    await Promise.all([
      months(data.months),
      hbar("dash-cameras", data.cameras.top, data.cameras.others, (camera) => {
        if (camera !== "others") window.location.href = url(d.self, { camera: camera });
      }),
      hbar("dash-lenses", data.lenses.top, data.lenses.others, null),
      hbar("dash-places", data.places.top, data.places.others, (place) => {
        if (place !== "others") window.location.href = url(d.self, { place: place.split(", ")[0] });
      }),
      types(data.types),
      folders(data.folders),
    ]);
    window.gallerfsDashboardReady = performance.now() - t0;
    root.dataset.ready = "1";
  }

  draw().catch((e) => {
    const notice = document.getElementById("dash-notice");
    notice.textContent = "the dashboard could not be drawn: " + e.message;
    notice.hidden = false;
  });
})();
