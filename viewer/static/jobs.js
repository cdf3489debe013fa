// The jobs page: rows follow the server's Server-Sent Events stream while the page is open.
"use strict";

(function () {
  const live = document.getElementById("live");
  const table = document.getElementById("jobs");
  if (!live || !table || !window.EventSource) return;
  const body = table.tBodies[0];

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  }

  function row(job) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(job.id);
    tr.className = `state-${job.state}`;
    const progress = document.createElement("td");
    progress.className = "progress";
    const bar = document.createElement("progress");
    bar.max = job.total || 1;
    bar.value = job.done;
    progress.append(bar, ` ${job.done}/${job.total}`);
    tr.append(
      cell(String(job.id), "num"), cell(job.kind), cell(job.state, "state"), progress,
      cell(String(job.failed), "num failed"), cell(job.started), cell(job.finished, "finished"), cell(job.error, "error"),
    );
    return tr;
  }

  const source = new EventSource(live.dataset.events);
  source.addEventListener("jobs", (event) => {
    const jobs = JSON.parse(event.data);
    body.replaceChildren(...jobs.map(row));
    table.hidden = jobs.length === 0;
    const empty = document.getElementById("no-jobs");
    if (empty) empty.hidden = jobs.length > 0;
    live.textContent = `Live: updated ${new Date().toLocaleTimeString()}`;
  });
  source.addEventListener("error", () => {
    live.textContent = "Live updates paused: reconnecting…";
  });
  window.addEventListener("beforeunload", () => source.close());
})();
