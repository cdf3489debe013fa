// Shared by every page: the CSRF token for POSTs, filter forms that leave empty fields out of the URL, and
// forms that ask before they submit (data-confirm), and the ? key every page shares.
"use strict";

window.gallerfs = (function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const token = meta ? meta.content : "";

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  // Keys belong to the page only when no field has the focus and no dialog is open.
  function typing(event) {
    const t = event.target;
    if (document.querySelector("dialog[open]")) return true;
    // Just after a dialog closes, keys can still reach its button until the browser moves focus on:
    // a control inside a closed dialog takes no keys.
    if (t && t.closest && t.closest("dialog")) return false;
    return t && (t.isContentEditable || ["INPUT", "SELECT", "TEXTAREA", "BUTTON"].includes(t.tagName));
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("form[data-confirm]")) {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    }
    for (const form of document.querySelectorAll("form.filters")) {
      form.addEventListener("submit", () => {
        for (const el of form.elements) {
          if (el.name && !el.disabled && el.value === "" && el.type !== "checkbox") el.disabled = true;
        }
      });
    }
  });

  // ? lists the shortcuts (/ and Ctrl+K open the command palette: palette.js); pages add their own keys.
  document.addEventListener("keydown", (event) => {
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    const help = document.getElementById("help");
    if (event.key === "?" && help) {
      event.preventDefault();
      help.showModal();
    }
  });
  // The header wraps on a narrow window: what sits below it (the year scrubber) reads its height here.
  document.addEventListener("DOMContentLoaded", () => {
    const bar = document.querySelector(".topbar");
    if (!bar || !window.ResizeObserver) return;
    new ResizeObserver(() => {
      document.documentElement.style.setProperty("--topbar-height", bar.offsetHeight + "px");
    }).observe(bar);
  });
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("help-button");
    const help = document.getElementById("help");
    if (button && help) button.addEventListener("click", () => help.showModal());
  });

  return { token, postJSON, typing };
})();
