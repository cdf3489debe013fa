// The duplicate review: keys step through the sets, choose the keeper, keep it, trash the others (t, then y to
// confirm) and undo the last trash; every action is the page's own CSRF-protected form, so it also works by mouse.
"use strict";

(function () {
  const review = document.getElementById("review");
  if (!review) return;
  const form = document.getElementById("review-form");
  const confirmLine = document.getElementById("confirm");
  const radios = form ? [...form.querySelectorAll('input[name="keeper"]')] : [];
  let confirming = false;
  let confirmed = false;

  function chosen() {
    return radios.findIndex((r) => r.checked);
  }

  function choose(i) {
    if (i < 0 || i >= radios.length) return;
    radios[i].checked = true;
    for (const card of form.querySelectorAll(".copy")) card.classList.toggle("chosen", card.contains(radios[i]));
  }

  function say(text) {
    confirmLine.textContent = text;
    confirmLine.hidden = !text;
  }

  function go(url, last) {
    if (url) window.location.href = url;
    else say(last);
  }

  for (const radio of radios) {
    radio.addEventListener("change", () => { choose(radios.indexOf(radio)); radio.blur(); });
  }
  if (form) {
    form.addEventListener("submit", (event) => {
      if (event.submitter && event.submitter.id === "trash-button" && !confirmed) {
        const others = radios.length - 1;
        if (!window.confirm(`Move ${others} ${others === 1 ? "copy" : "copies"} to the trash?`)) event.preventDefault();
      }
    });
  }

  document.addEventListener("keydown", (event) => {
    if (window.gallerfs.typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (confirming) {
      event.preventDefault();
      confirming = false;
      if (key === "y" || key === "Y") {
        confirmed = true;
        say("moving to the trash…");
        form.requestSubmit(document.getElementById("trash-button"));
      } else {
        say("not trashed");
      }
      return;
    }
    if (key === "ArrowRight" || key === "n" || key === " ") {
      event.preventDefault();
      go(review.dataset.next, "that was the last set");
    } else if (key === "s") {
      go(review.dataset.next, "that was the last set: nothing left to skip to");
    } else if (key === "ArrowLeft" || key === "p") {
      go(review.dataset.prev, "this is the first set");
    } else if (form && /^[1-9]$/.test(key)) {
      choose(Number(key) - 1);
    } else if (form && (key === "ArrowDown" || key === "ArrowUp")) {
      event.preventDefault();
      choose(Math.max(0, Math.min(radios.length - 1, chosen() + (key === "ArrowDown" ? 1 : -1))));
    } else if (form && key === "Enter") {
      event.preventDefault();
      form.requestSubmit(document.getElementById("keep-button"));
    } else if (form && key === "t") {
      const card = radios[chosen()].closest(".copy");
      const others = radios.length - 1;
      confirming = true;
      say(`Trash ${others} ${others === 1 ? "copy" : "copies"}, keeping #${card.dataset.n} ${card.dataset.name}? ` +
          "Press y to confirm, any other key to cancel.");
    } else if (key === "u") {
      const undo = document.getElementById("undo-form");
      if (undo) undo.requestSubmit();
      else say("nothing to undo: no trash from this review is still in the trash");
    }
  });
})();
