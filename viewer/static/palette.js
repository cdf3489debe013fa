// The command palette (Ctrl+K, or / outside the search page): the entries the server rendered into
// #palette (viewer/palette.py), filtered as the user types; Enter runs the highlighted one, and typed
// text that names no entry searches for it (/search?q=...). Keyboard only: arrows, Enter, Esc.
"use strict";

(function () {
  const dialog = document.getElementById("palette");
  if (!dialog) return;
  const input = document.getElementById("palette-input");
  const list = document.getElementById("palette-list");
  const searchItem = document.getElementById("palette-search");
  const entries = [...list.querySelectorAll("li[data-url]")];
  const placeholder = input.placeholder;
  let shown = [];
  let active = 0;
  let asking = null; // the entry whose question (data-prompt) the input answers now

  function withFilters(url) {
    const qs = dialog.dataset.filters;
    if (!qs) return url;
    return url + (url.includes("?") ? "&" + qs.slice(1) : qs);
  }

  function currentPhoto() {
    const page = document.getElementById("photo");
    if (page) return page.dataset.id;
    const grid = window.gallerfs.grid;
    return grid && document.getElementById("grid") ? grid.selectedId() : undefined;
  }

  function usable(li) {
    if (li.dataset.needs === "photo") return currentPhoto() !== undefined;
    if (li.dataset.needs === "view") return document.getElementById("grid") !== null;
    return true;
  }

  // Every word typed must start a word of the entry (its label or keywords); entries whose label
  // starts with the text come first. Anything else is a description to search for.
  function score(li, text) {
    if (!text) return 1;
    const words = " " + li.dataset.words;
    let total = words.startsWith(" " + text) ? 2 : 1;
    for (const w of text.split(/\s+/)) {
      if (w && !words.includes(" " + w)) return 0;
    }
    return total;
  }

  function refresh() {
    const text = input.value.trim();
    if (asking) {
      shown = [];
      for (const li of entries) li.hidden = true;
      searchItem.hidden = true;
      return;
    }
    const lower = text.toLowerCase();
    const scored = entries.map((li) => [li, usable(li) ? score(li, lower) : 0]).filter(([, s]) => s > 0);
    scored.sort((a, b) => b[1] - a[1]);
    for (const li of entries) li.hidden = true;
    shown = scored.map(([li]) => li);
    for (const li of shown) {
      li.hidden = false;
      list.append(li); // in rank order
    }
    searchItem.hidden = !text;
    searchItem.querySelector(".query").textContent = `“${text}”`;
    list.append(searchItem);
    if (text) shown.push(searchItem);
    active = 0; // the best entry, or the search when none matches
    highlight();
  }

  function highlight() {
    const li = shown[active];
    for (const item of list.children) item.setAttribute("aria-selected", item === li ? "true" : "false");
    if (li) {
      input.setAttribute("aria-activedescendant", li.id);
      li.scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  }

  function open() {
    if (dialog.open) return;
    asking = null;
    input.value = "";
    input.placeholder = placeholder;
    dialog.showModal();
    input.focus();
    refresh();
  }

  function close() {
    if (dialog.open) dialog.close();
  }

  function post(url, fields) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = url;
    form.hidden = true;
    const all = { csrf_token: window.gallerfs.token, ...fields };
    for (const [name, value] of Object.entries(all)) {
      const field = document.createElement("input");
      field.type = "hidden";
      field.name = name;
      field.value = value;
      form.append(field);
    }
    document.body.append(form);
    form.submit();
  }

  function run(li) {
    if (!li) return;
    const kind = li.dataset.kind;
    if (kind === "search") {
      const q = input.value.trim();
      const qs = dialog.dataset.filters;
      window.location.href = `${dialog.dataset.search}${qs ? qs + "&" : "?"}q=${encodeURIComponent(q)}`;
      return;
    }
    const url = li.dataset.filters ? withFilters(li.dataset.url) : li.dataset.url;
    if (kind === "go") {
      window.location.href = url;
    } else if (kind === "favourite") {
      close();
      const form = document.getElementById("fav-form");
      if (form) form.requestSubmit();
      else if (window.gallerfs.grid) window.gallerfs.grid.toggleFavourite();
    } else if (kind === "post") {
      if (li.dataset.prompt && asking !== li) {
        asking = li;
        input.value = "";
        input.placeholder = li.dataset.prompt;
        refresh();
        return;
      }
      const fields = JSON.parse(li.dataset.fields || "{}");
      if (asking === li) {
        const value = input.value.trim();
        if (!value) return;
        fields[li.dataset.promptField] = value;
      }
      post(url, fields);
    }
  }

  input.addEventListener("input", refresh);
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!shown.length) return;
      active = (active + (event.key === "ArrowDown" ? 1 : -1) + shown.length) % shown.length;
      highlight();
    } else if (event.key === "Enter") {
      event.preventDefault();
      run(asking || shown[active]);
    }
  });
  list.addEventListener("click", (event) => {
    const li = event.target.closest("li[role=option]");
    if (li) run(li);
  });
  list.addEventListener("mousemove", (event) => {
    const li = event.target.closest("li[role=option]");
    const i = shown.indexOf(li);
    if (i >= 0 && i !== active) {
      active = i;
      highlight();
    }
  });
  // A click on the backdrop (the dialog itself, outside its content) closes it.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) close();
  });

  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
      event.preventDefault();
      if (dialog.open) close();
      else if (!document.querySelector("dialog[open]")) open();
      return;
    }
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || window.gallerfs.typing(event)) return;
    event.preventDefault();
    const box = document.querySelector('.filters input[name="q"]');
    if (box) box.focus(); // on the search page, / is its query box
    else open();
  });
  const button = document.getElementById("palette-button");
  if (button) button.addEventListener("click", open);

  window.gallerfs.palette = { open, close };
})();
