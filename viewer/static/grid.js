// The library grid, virtualised: only the rows in view (plus a margin) exist in the DOM, and items are
// fetched a page at a time from /api/grid, so 100,000 photos cost no more than a screenful. As a
// timeline (data-group month or day) the view is cut into sections (/api/groups) whose headers are rows
// of the same model: a section is a header and its rows of tiles, laid out by arithmetic, and only the
// headers and rows on screen are in the page. A scrubber of the view's years (/api/years) jumps to any year.
"use strict";

(function () {
  const grid = document.getElementById("grid");
  if (!grid) return;

  const PAGE = 200;
  const MARGIN_ROWS = 4;
  const GAP = 6;
  const HEADER = 60; // the sticky top bar's height, and a little air
  const SECTION_HEAD = 44; // a timeline section's header row
  const api = grid.dataset.api;
  const filters = grid.dataset.filters || "";
  const photoBase = grid.dataset.photo;
  const thumbBase = grid.dataset.thumb;
  const grouping = grid.dataset.group || "none";
  const photoQs = grid.dataset.photoQs || ""; // the filters, and the grouping, for the photo page's links
  const start = grid.dataset.start === "" ? -1 : parseInt(grid.dataset.start, 10); // open at this index
  const sep = filters ? "&" : "?";
  let total = parseInt(grid.dataset.total, 10) || 0;

  const pages = new Map(); // page number -> array of items
  const loading = new Set();
  const tiles = new Map(); // index -> element
  const heads = new Map(); // section number -> header element
  // The row model: sections in grid order, each {offset, count, label, top, rows}; flat: one, no header.
  let sections = [];
  let headH = 0;
  let ready = grouping === "none";
  let tileSize = 180;
  let columns = 1;
  let selected = 0;
  let scheduled = false;
  let jumpedTo = -1; // the scroll position a year's button set, until the user scrolls on

  function itemAt(index) {
    const page = pages.get(Math.floor(index / PAGE));
    return page ? page[index % PAGE] : undefined;
  }

  function pageURL(page) {
    return `${api}${filters}${sep}offset=${page * PAGE}&limit=${PAGE}`;
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  async function load(page) {
    if (pages.has(page) || loading.has(page)) return;
    loading.add(page);
    try {
      const data = await getJSON(pageURL(page));
      pages.set(page, data.items);
      if (data.total !== total) {
        total = data.total;
        loadSections();
      }
    } catch (err) {
      showError(`could not load photos: ${err.message}`);
    } finally {
      loading.delete(page);
      schedule();
    }
  }

  async function loadSections() {
    if (grouping === "none") {
      setSections([{ offset: 0, count: total, label: "" }]);
      return;
    }
    try {
      const data = await getJSON(`${grid.dataset.groups}${filters}${sep}by=${grouping}`);
      setSections(data.groups);
    } catch (err) {
      showError(`could not load the timeline: ${err.message}; showing one grid`);
      setSections([{ offset: 0, count: total, label: "" }], true);
    }
  }

  function setSections(list, flat) {
    sections = list.map((s) => ({ offset: s.offset, count: s.count, label: s.label, top: 0, rows: 0 }));
    headH = grouping === "none" || flat ? 0 : SECTION_HEAD;
    for (const el of heads.values()) el.remove();
    heads.clear();
    ready = true;
    layout();
  }

  function showError(message) {
    let box = document.getElementById("grid-error");
    if (!box) {
      box = document.createElement("p");
      box.id = "grid-error";
      box.className = "notice";
      box.setAttribute("role", "alert");
      grid.before(box);
    }
    box.textContent = message;
  }

  function rowH() {
    return tileSize + GAP;
  }

  function layout() {
    const width = grid.clientWidth;
    const target = window.innerWidth < 600 ? 120 : 180;
    columns = Math.max(1, Math.floor((width + GAP) / (target + GAP)));
    tileSize = Math.floor((width - GAP * (columns - 1)) / columns);
    let y = 0;
    for (const s of sections) {
      s.top = y;
      s.rows = Math.ceil(s.count / columns);
      y += headH + s.rows * rowH();
    }
    grid.style.height = `${Math.max(0, y - GAP)}px`;
    for (const [index, el] of tiles) place(el, index);
    for (const [n, el] of heads) placeHead(el, n);
    schedule();
  }

  // The section holding a grid index, and the one at a height in the grid (binary searches).
  function sectionOf(index) {
    let lo = 0;
    let hi = sections.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (sections[mid].offset <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  function sectionAt(y) {
    let lo = 0;
    let hi = sections.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (sections[mid].top <= y) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  function position(index) {
    const s = sections[sectionOf(index)];
    const local = index - s.offset;
    return { x: (local % columns) * rowH(), y: s.top + headH + Math.floor(local / columns) * rowH() };
  }

  // The first index of the row at (or just below) this height of the grid.
  function indexAt(y) {
    if (!sections.length) return 0;
    const s = sections[sectionAt(y)];
    const row = Math.max(0, Math.min(s.rows - 1, Math.floor((y - s.top - headH) / rowH())));
    return s.offset + row * columns;
  }

  function place(el, index) {
    const p = position(index);
    el.style.width = `${tileSize}px`;
    el.style.height = `${tileSize}px`;
    el.style.transform = `translate(${p.x}px, ${p.y}px)`;
  }

  function placeHead(el, n) {
    el.style.transform = `translateY(${sections[n].top}px)`;
  }

  function makeHead(n) {
    const s = sections[n];
    const el = document.createElement("div");
    el.className = "section-head";
    el.setAttribute("role", "heading");
    el.setAttribute("aria-level", "2");
    el.dataset.section = String(n);
    el.dataset.offset = String(s.offset);
    el.style.height = `${SECTION_HEAD - GAP}px`;
    const count = document.createElement("span");
    count.className = "muted";
    count.textContent = ` ${s.count} ${s.count === 1 ? "file" : "files"}`;
    el.append(s.label, count);
    placeHead(el, n);
    return el;
  }

  function makeTile(index, item) {
    const a = document.createElement("a");
    a.className = "tile";
    a.href = `${photoBase}${item.id}${photoQs}`;
    a.title = item.name + (item.taken_at ? ` — ${item.taken_at.replace("T", " ")}` : "");
    a.dataset.index = String(index);
    a.dataset.id = String(item.id);
    a.tabIndex = -1;
    if (item.thumb) {
      const img = document.createElement("img");
      img.loading = "lazy";
      img.decoding = "async";
      img.alt = item.name;
      img.addEventListener("error", () => a.classList.add("missing"), { once: true });
      img.src = `${thumbBase}${item.id}/grid?v=${encodeURIComponent(item.thumb_key)}`;
      a.append(img);
    } else {
      a.classList.add("missing");
      const name = document.createElement("span");
      name.className = "placeholder";
      name.textContent = item.name;
      a.append(name);
    }
    if (!item.online) {
      a.classList.add("offline");
      a.append(badge("offline", "offline"));
    }
    if (item.kind === "video") a.append(badge("video", "video"));
    if (item.favourite) a.append(badge("fav", "★"));
    if (index === selected) a.classList.add("selected");
    place(a, index);
    return a;
  }

  function badge(kind, text) {
    const span = document.createElement("span");
    span.className = `badge ${kind}`;
    span.textContent = text;
    return span;
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(render);
  }

  function render() {
    scheduled = false;
    if (!ready || !sections.length) return;
    const top = grid.getBoundingClientRect().top + window.scrollY;
    const viewTop = window.scrollY - top;
    const y0 = viewTop - MARGIN_ROWS * rowH();
    const y1 = viewTop + window.innerHeight + MARGIN_ROWS * rowH();
    // The year of the first file below the sticky header; right after a jump, the year jumped to.
    if (window.scrollY !== jumpedTo) markYear(indexAt(viewTop + HEADER));
    const wanted = new Set();
    const wantedHeads = new Set();
    for (let n = sectionAt(Math.max(0, y0)); n < sections.length && sections[n].top < y1; n++) {
      const s = sections[n];
      if (headH && s.top + headH > y0) wantedHeads.add(n);
      const body = s.top + headH;
      const first = Math.max(0, Math.floor((y0 - body) / rowH()));
      const last = Math.min(s.rows - 1, Math.floor((y1 - body) / rowH()));
      const end = Math.min(s.offset + s.count, s.offset + (last + 1) * columns);
      for (let index = s.offset + first * columns; index < end; index++) wanted.add(index);
    }
    for (const [index, el] of tiles) {
      if (!wanted.has(index) || !el.isConnected) {
        el.remove();
        tiles.delete(index);
      }
    }
    for (const [n, el] of heads) {
      if (!wantedHeads.has(n)) {
        el.remove();
        heads.delete(n);
      }
    }
    const fragment = document.createDocumentFragment();
    for (const n of wantedHeads) {
      if (heads.has(n)) continue;
      const el = makeHead(n);
      heads.set(n, el);
      fragment.append(el);
    }
    for (const index of wanted) {
      if (tiles.has(index)) continue;
      const item = itemAt(index);
      if (!item) {
        load(Math.floor(index / PAGE));
        continue;
      }
      const el = makeTile(index, item);
      tiles.set(index, el);
      fragment.append(el);
    }
    grid.append(fragment);
  }

  // The year scrubber: one mark per year of the view; a click scrolls to the year's first row.
  const scrubber = document.getElementById("years");
  let years = [];

  async function loadYears() {
    if (!scrubber) return;
    try {
      years = (await getJSON(`${grid.dataset.years}${filters}`)).years;
    } catch (err) {
      showError(`could not load the years: ${err.message}`);
      return;
    }
    if (years.length < 2) return;
    for (const y of years) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = String(y.year);
      button.title = `${y.count} ${y.count === 1 ? "file" : "files"}`;
      button.dataset.offset = String(y.offset);
      button.addEventListener("click", () => {
        jumpTo(y.offset);
        grid.focus({ preventScroll: true }); // the arrow keys go on from the year, not to the button
      });
      scrubber.append(button);
    }
    scrubber.hidden = false;
    document.body.classList.add("has-years");
    layout();
  }

  // Scroll so that this index's row is at the top; a section's first file brings its header along.
  function jumpTo(index) {
    if (!ready || !sections.length) return;
    const s = sections[sectionOf(index)];
    const y = s.offset === index ? s.top : position(index).y;
    const top = grid.getBoundingClientRect().top + window.scrollY + y;
    window.scrollTo(0, Math.max(0, top - HEADER));
    jumpedTo = window.scrollY;
    markYear(index);
    select(index, false);
    schedule();
  }

  function markYear(index) {
    if (!scrubber || scrubber.hidden) return;
    let current = null;
    for (const button of scrubber.children) {
      if (parseInt(button.dataset.offset, 10) <= index) current = button;
      button.classList.remove("current");
    }
    if (current) current.classList.add("current");
  }

  // Up and down keep the column, across a section's end into the next (or previous) section.
  function vertical(index, dir) {
    const n = sectionOf(index);
    const s = sections[n];
    const local = index - s.offset;
    const row = Math.floor(local / columns);
    const col = local % columns;
    if (dir > 0) {
      if ((row + 1) * columns < s.count) return Math.min(s.offset + s.count - 1, index + columns);
      const next = sections[n + 1];
      return next ? next.offset + Math.min(col, next.count - 1) : index;
    }
    if (row > 0) return index - columns;
    const prev = sections[n - 1];
    if (!prev) return index;
    const lastRow = Math.floor((prev.count - 1) / columns);
    return prev.offset + Math.min(lastRow * columns + col, prev.count - 1);
  }

  function select(index, scroll) {
    if (total === 0) return;
    index = Math.max(0, Math.min(total - 1, index));
    const old = tiles.get(selected);
    if (old) old.classList.remove("selected");
    selected = index;
    const el = tiles.get(index);
    if (el) el.classList.add("selected");
    if (scroll && ready && sections.length) {
      const s = sections[sectionOf(index)];
      const y = position(index).y;
      const top = grid.getBoundingClientRect().top + window.scrollY + y;
      const headTop = top - (index - s.offset < columns ? headH : 0); // a first row shows its header too
      if (headTop < window.scrollY + HEADER) window.scrollTo(0, headTop - HEADER);
      else if (top + rowH() > window.scrollY + window.innerHeight) window.scrollTo(0, top + rowH() - window.innerHeight);
      schedule();
    }
  }

  async function toggleFavourite() {
    const item = itemAt(selected);
    if (!item) return;
    try {
      const data = await window.gallerfs.postJSON(`${api.replace(/grid$/, "favourite")}/${item.id}`, {
        favourite: !item.favourite,
      });
      item.favourite = data.favourite;
      const el = tiles.get(selected);
      if (el) {
        el.remove();
        tiles.delete(selected);
        schedule();
      }
    } catch (err) {
      showError(`could not change the favourite: ${err.message}`);
    }
  }

  document.addEventListener("keydown", (event) => {
    if (window.gallerfs.typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (!ready) return;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      event.preventDefault();
      select(selected + (event.key === "ArrowLeft" ? -1 : 1), true);
    } else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      event.preventDefault();
      select(vertical(selected, event.key === "ArrowUp" ? -1 : 1), true);
    } else if (event.key === "Enter") {
      const item = itemAt(selected);
      if (item) window.location.href = `${photoBase}${item.id}${photoQs}`;
    } else if (event.key === "f") {
      event.preventDefault();
      toggleFavourite();
    }
  });

  grid.addEventListener("click", (event) => {
    const tile = event.target.closest(".tile");
    if (tile) select(parseInt(tile.dataset.index, 10), false);
  });

  // The palette (common.js) asks the grid which photo is selected, to toggle its favourite.
  window.gallerfs.grid = { toggleFavourite, selectedId: () => (itemAt(selected) || {}).id };

  window.addEventListener("scroll", schedule, { passive: true });
  window.addEventListener("resize", layout);
  const laidOut = Promise.all([loadSections(), loadYears()]); // the scrubber narrows the grid: wait for both
  if (start >= 0 && start < total) {
    load(Math.floor(start / PAGE));
    laidOut.then(() => jumpTo(start));
  } else load(0);
})();
