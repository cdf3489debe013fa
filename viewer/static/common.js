// Shared by every page: the CSRF token for POSTs, filter forms that leave empty fields out of the URL, and
// forms that ask before they submit (data-confirm).
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

  function typing(event) {
    const t = event.target;
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

  return { token, postJSON, typing };
})();
