// The photo page: keyboard steps through the filtered view, toggles the favourite, opens the original.
"use strict";

(function () {
  const page = document.getElementById("photo");
  if (!page) return;
  document.addEventListener("keydown", (event) => {
    if (window.gallerfs.typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    const go = (url) => { if (url) window.location.href = url; };
    if (event.key === "ArrowLeft") go(page.dataset.prev);
    else if (event.key === "ArrowRight") go(page.dataset.next);
    else if (event.key === "Escape") go(page.dataset.back);
    else if (event.key === "f") document.getElementById("fav-form").requestSubmit();
    else if (event.key === "o") {
      const link = document.getElementById("open-original");
      if (link) go(link.href);
    }
  });
})();
