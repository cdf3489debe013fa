// The library grid, virtualised: only the rows in view (plus a margin) exist in the DOM, and items are
// fetched a page at a time from /api/grid, so 100,000 photos cost no more than a screenful. A scrubber
// of the view's years (/api/years) jumps to any year.
"use strict";

(function () {
  const grid = document.getElementById("grid");
  if (!grid) return;

  const PAGE = 200;
  const MARGIN_ROWS = 4;
  const GAP = 6;
  const HEADER = 60; // the sticky top bar's height, and a little air
  const api = grid.dataset.api;
  const filters = grid.dataset.filters || "";
  const photoBase = grid.dataset.photo;
  const thumbBase = grid.dataset.thumb;
  let total = parseInt(grid.dataset.total, 10) || 0;

  const pages = new Map(); // page number -> array of items
  const loading = new Set();
  const tiles = new Map(); // index -> element
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
    const sep = filters ? "&" : "?";
    return `${api}${filters}${sep}offset=${page * PAGE}&limit=${PAGE}`;
  }

  async function load(page) {
    if (pages.has(page) || loading.has(page)) return;
    loading.add(page);
    try {
      const response = await fetch(pageURL(page), { credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || response.statusText);
      pages.set(page, data.items);
      if (data.total !== total) {
        total = data.total;
        layout();
      }
    } catch (err) {
      showError(`could not load photos: ${err.message}`);
    } finally {
      loading.delete(page);
      schedule();
    }
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

  function layout() {
    const width = grid.clientWidth;
    const target = window.innerWidth < 600 ? 120 : 180;
    columns = Math.max(1, Math.floor((width + GAP) / (target + GAP)));
    tileSize = Math.floor((width - GAP * (columns - 1)) / columns);
    const rows = Math.ceil(total / columns);
    grid.style.height = `${Math.max(0, rows * (tileSize + GAP) - GAP)}px`;
    for (const [index, el] of tiles) place(el, index);
    schedule();
  }

  function place(el, index) {
    const row = Math.floor(index / columns);
    const col = index % columns;
    el.style.width = `${tileSize}px`;
    el.style.height = `${tileSize}px`;
    el.style.transform = `translate(${col * (tileSize + GAP)}px, ${row * (tileSize + GAP)}px)`;
  }

  function makeTile(index, item) {
    const a = document.createElement("a");
    a.className = "tile";
    a.href = `${photoBase}${item.id}${filters}`;
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
    const rowH = tileSize + GAP;
    const top = grid.getBoundingClientRect().top + window.scrollY;
    const viewTop = window.scrollY - top;
    const firstRow = Math.max(0, Math.floor(viewTop / rowH) - MARGIN_ROWS);
    const lastRow = Math.floor((viewTop + window.innerHeight) / rowH) + MARGIN_ROWS;
    const first = firstRow * columns;
    const last = Math.min(total - 1, (lastRow + 1) * columns - 1);
    // The year of the first file below the sticky header; right after a jump, the year jumped to.
    if (window.scrollY !== jumpedTo) markYear(Math.max(0, Math.floor((viewTop + HEADER) / rowH)) * columns);
    for (const [index, el] of tiles) {
      if (index < first || index > last || !el.isConnected) {
        el.remove();
        tiles.delete(index);
      }
    }
    const fragment = document.createDocumentFragment();
    for (let index = first; index <= last; index++) {
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
      const response = await fetch(`${grid.dataset.years}${filters}`, { credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || response.statusText);
      years = data.years;
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
      button.addEventListener("click", () => jumpTo(y.offset));
      scrubber.append(button);
    }
    scrubber.hidden = false;
    document.body.classList.add("has-years");
    layout();
  }

  function jumpTo(index) {
    const rowH = tileSize + GAP;
    const top = grid.getBoundingClientRect().top + window.scrollY + Math.floor(index / columns) * rowH;
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

  function select(index, scroll) {
    if (total === 0) return;
    index = Math.max(0, Math.min(total - 1, index));
    const old = tiles.get(selected);
    if (old) old.classList.remove("selected");
    selected = index;
    const el = tiles.get(index);
    if (el) el.classList.add("selected");
    if (scroll) {
      const rowH = tileSize + GAP;
      const top = grid.getBoundingClientRect().top + window.scrollY + Math.floor(index / columns) * rowH;
      if (top < window.scrollY + HEADER) window.scrollTo(0, top - HEADER);
      else if (top + rowH > window.scrollY + window.innerHeight) window.scrollTo(0, top + rowH - window.innerHeight);
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
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns };
    if (event.key in moves) {
      event.preventDefault();
      select(selected + moves[event.key], true);
    } else if (event.key === "Enter") {
      const item = itemAt(selected);
      if (item) window.location.href = `${photoBase}${item.id}${filters}`;
    } else if (event.key === "f") {
      event.preventDefault();
      toggleFavourite();
    }
  });

  grid.addEventListener("click", (event) => {
    const tile = event.target.closest(".tile");
    if (tile) select(parseInt(tile.dataset.index, 10), false);
  });

  window.addEventListener("scroll", schedule, { passive: true });
  window.addEventListener("resize", layout);
  layout();
  load(0);
  loadYears();
})();
