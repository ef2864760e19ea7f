/*
 * The video queue page: renders jobs from the server's first state, then keeps them
 * current from `video.progress` events (and REST after a resync). All user text goes
 * in through textContent, never innerHTML.
 */
(function () {
  "use strict";

  const jobsBox = document.getElementById("jobs");
  const noJobs = document.getElementById("no-jobs");
  const form = document.getElementById("upload-form");
  const uploadError = document.getElementById("upload-error");
  const connection = document.getElementById("connection");
  const jobs = new Map();
  const FINISHED = new Set(["success", "error"]);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeUrl(url) {
    // Only our media paths or http(s) URLs become links (no javascript: and the like).
    return typeof url === "string" && /^(\/|https?:\/\/)/.test(url) ? url : null;
  }

  function link(url, label) {
    const href = safeUrl(url);
    if (!href) return null;
    const a = el("a", "", label);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener";
    return a;
  }

  function render(job) {
    let node = document.getElementById("job-" + job.id);
    if (!node) {
      node = el("article");
      node.id = "job-" + job.id;
      jobsBox.prepend(node);
    }
    node.className = "job " + job.status;
    node.replaceChildren();
    const header = el("header");
    header.append(el("strong", "", job.file_name), el("span", "status", job.status));
    const bar = el("div", "bar");
    const fill = el("span");
    fill.style.width = Math.max(0, Math.min(100, job.progress)) + "%";
    bar.append(fill);
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuenow", String(job.progress));
    const line = el("div", "muted", job.progress + "% · " + job.stage + (job.message ? " · " + job.message : ""));
    node.append(header, bar, line);
    const result = job.result || {};
    if (job.status === "success") {
      const links = el("div", "links");
      for (const a of [
        link(result.url, "Watch the video"),
        link(result.subtitles && result.subtitles.vtt, "Subtitles (VTT)"),
        link(result.subtitles && result.subtitles.srt, "Subtitles (SRT)"),
      ]) {
        if (a) links.append(a, document.createTextNode(" "));
      }
      node.append(links);
      if (result.warning) node.append(el("div", "muted", result.warning));
    }
    if (job.status === "error" && result.error) node.append(el("div", "error", result.error));
  }

  function updateCounts() {
    const counts = { processing: 0, done: 0, failed: 0 };
    for (const job of jobs.values()) {
      if (job.status === "success") counts.done += 1;
      else if (job.status === "error") counts.failed += 1;
      else counts.processing += 1;
    }
    for (const [key, value] of Object.entries(counts)) {
      document.querySelector('[data-count="' + key + '"]').textContent = String(value);
    }
    noJobs.hidden = jobs.size > 0;
  }

  function toast(text, kind) {
    const box = document.getElementById("toasts");
    const node = el("div", "toast " + kind, text);
    box.append(node);
    setTimeout(() => node.remove(), 6000);
  }

  /* Applies a job state; older states (a replay after a REST reload) are ignored. */
  function upsert(job, live) {
    const previous = jobs.get(job.id);
    if (previous && previous.updated_at > job.updated_at) return;
    jobs.set(job.id, job);
    render(job);
    updateCounts();
    if (live && FINISHED.has(job.status) && (!previous || !FINISHED.has(previous.status))) {
      const text = job.status === "success" ? "Processed: " + job.file_name : "Failed: " + job.file_name;
      toast(text, job.status);
    }
  }

  async function reload() {
    const response = await fetch("/api/videos/", { credentials: "same-origin" });
    if (!response.ok) return;
    const list = await response.json();
    for (const job of list.slice().reverse()) upsert(job, false);
  }

  function csrfToken() {
    return form.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    uploadError.textContent = "";
    const body = new FormData(form);
    body.delete("csrfmiddlewaretoken");
    for (const key of ["course_id", "content_index", "language"]) {
      if (!body.get(key)) body.delete(key);
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const response = await fetch("/api/videos/", {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken() },
      });
      const data = await response.json().catch(() => ({}));
      if (response.status === 202) {
        upsert(data, false);
        form.reset();
      } else {
        uploadError.textContent = data.detail || "The upload failed (" + response.status + ").";
      }
    } catch (error) {
      uploadError.textContent = "The upload failed: the server could not be reached.";
    } finally {
      button.disabled = false;
    }
  });

  const initial = JSON.parse(document.getElementById("initial-jobs").textContent);
  for (const job of initial.slice().reverse()) upsert(job, false);
  updateCounts();

  const sinceSeq = parseInt(jobsBox.dataset.sinceSeq, 10);
  const labels = { connecting: "Connecting…", online: "Live", offline: "Offline, reconnecting…", signed_out: "Signed out: reload the page." };
  new Realtime.Client({
    sinceSeq: Number.isNaN(sinceSeq) ? null : sinceSeq,
    onResync: reload,
    onStatus: (status) => { connection.textContent = labels[status] || status; },
  })
    .on("video.progress", (job) => upsert(job, true))
    .start();
})();
