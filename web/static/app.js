// Mailroom pages: CSRF header for htmx, drag-and-drop upload with progress, live updates
// (server-sent events when /api/events exists, else htmx polling), SLA clock, keyboard shortcuts, and the
// claim of an open item page (renewed while it is visible, given back when the agent leaves).
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  document.addEventListener("htmx:configRequest", function (e) { e.detail.headers["X-CSRF-Token"] = csrf; });

  function changed() { document.body.dispatchEvent(new CustomEvent("mailroom:changed")); }

  // ---- upload
  function upload(file, list) {
    var li = document.createElement("li");
    var name = document.createElement("span"); name.className = "name"; name.textContent = file.name;
    var bar = document.createElement("progress"); bar.max = 100; bar.value = 0;
    var state = document.createElement("span"); state.className = "upload-state"; state.textContent = list.dataset.uploading;
    li.append(name, bar, state); list.prepend(li);
    var form = new FormData();
    form.append("file", file, file.name);
    form.append("channel", document.getElementById("channel").value);
    var expected = document.getElementById("expected");  // the batch check's letter count (issue 18)
    if (expected && expected.value) form.append("expected_letters", expected.value);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/envelopes");
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    xhr.onload = function () {
      var body = {}; try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
      if (xhr.status === 202) {
        bar.value = 100; li.className = "ok";
        state.textContent = body.duplicate ? list.dataset.duplicate : list.dataset.accepted;
        li.dataset.envelope = body.envelope_id || "";
        if (body.envelope_id) {
          var link = document.createElement("a");
          link.href = "/mailroom/batches/" + encodeURIComponent(body.envelope_id);
          link.textContent = list.dataset.open;
          state.append(" · ", link);
        }
      } else {
        li.className = "error";
        var d = body.detail; var reason = (d && d.reason) || (typeof d === "string" ? d : xhr.status);
        state.textContent = list.dataset.rejected + ": " + reason;
      }
      changed();
    };
    xhr.onerror = function () { li.className = "error"; state.textContent = list.dataset.rejected; };
    xhr.send(form);
  }

  function setupDropzone() {
    var zone = document.getElementById("dropzone"), input = document.getElementById("files");
    var list = document.getElementById("uploads");
    if (!zone || !input || !list) return;
    function send(files) { Array.prototype.forEach.call(files, function (f) { upload(f, list); }); }
    ["dragenter", "dragover"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) { send(e.dataTransfer.files); });
    input.addEventListener("change", function () { send(input.files); input.value = ""; });
  }

  // ---- live updates
  function setupEvents() {
    if (document.body.dataset.events !== "1" || !window.EventSource) return;
    var source = new EventSource("/api/events");
    source.onmessage = changed;
    ["item.new", "item.taken", "sla.warning", "sla.breached", "case.copy"].forEach(function (kind) { source.addEventListener(kind, changed); });
  }

  // ---- SLA clock: working time left on the calendar the deadline counts on; it runs only while that
  // calendar is open (data-open-seconds: until it closes; 0: closed now) and stands still otherwise.
  function setupClock() {
    var el = document.querySelector("[data-seconds-left]");
    if (!el) return;
    var left = parseInt(el.dataset.secondsLeft, 10), open = parseInt(el.dataset.openSeconds, 10) || 0;
    var start = Date.now(), out = el.querySelector(".clock"), fmt = el.dataset.format;
    function show(s) {
      var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
      return fmt.replace("%(hours)d", h).replace("%(minutes)02d", (m < 10 ? "0" : "") + m);
    }
    function tick() {
      var ran = Math.min((Date.now() - start) / 1000, open);
      var s = Math.round(left - ran);
      if (s <= 0) { out.textContent = el.dataset.breached; el.classList.add("sla-breached"); return; }
      out.textContent = show(s);
    }
    if (open > 0) { tick(); setInterval(tick, 1000); }
  }

  // ---- zoom and keyboard shortcuts
  function setupKeys() {
    var zoom = document.getElementById("zoom"), pages = document.getElementById("pages");
    if (zoom && pages) zoom.addEventListener("click", function () {
      zoom.setAttribute("aria-pressed", pages.classList.toggle("zoomed") ? "true" : "false");
    });
    document.addEventListener("keydown", function (e) {
      var tag = (e.target.tagName || "").toLowerCase();
      if (e.ctrlKey || e.metaKey || e.altKey || tag === "input" || tag === "textarea" || tag === "select") return;
      if (e.key === "/") {
        var search = document.querySelector("[data-search]");
        if (search) { e.preventDefault(); search.focus(); }
        return;
      }
      var target = document.querySelector('[data-key="' + e.key + '"]');
      if (target) { e.preventDefault(); target.click(); }
    });
  }

  // ---- the claim of an open item page (issue 18). While the page is open and visible and the item is the
  // reader's claim (data-held), the lease is renewed every data-renew-every seconds (a third of the lease the
  // server renders as data-lease-seconds) and at once when the tab is shown again. A refused renewal (the lease
  // ran out and the sweeper gave the item back, or someone else has it) shows the server's notice, with the
  // button to claim it again, in place of any error.
  // Leaving the page (pagehide: another page, the tab closed) gives the claim back with a beacon (form data:
  // the CSRF token, and data-opened, when this page was drawn). Not when a form of the agent's pages was sent
  // (complete, hold, transfer, a reply...: they change the item themselves, or come back to it) or the case's
  // timeline was opened (part of the work; the lease runs out by itself if the agent does not come back), nor when the
  // page goes into the back-forward cache (event.persisted: it may come back, and renews then; else the
  // lease runs out by itself). A reload keeps the claim: the reloaded page is drawn before the old one is
  // hidden, and the server keeps a claim whose item its reader opened again after data-opened.
  function setupLease() {
    var el = document.getElementById("lease");
    if (!el || !el.dataset.renewUrl) return;
    var held = el.dataset.held === "1", sending = false, busy = false;
    var every = Math.max(1, parseFloat(el.dataset.renewEvery) || 300) * 1000;
    function lost(body) {
      held = false;
      if (body && body.html) el.innerHTML = body.html;
    }
    function renew() {
      if (!held || busy || document.visibilityState !== "visible") return;
      busy = true;
      fetch(el.dataset.renewUrl, {method: "POST", credentials: "same-origin",
                                  headers: {"X-CSRF-Token": csrf, "Accept": "application/json"}})
        .then(function (r) {
          if (r.status === 409) return r.json().then(lost, function () { lost(null); });
          if (r.status === 401 || r.status === 403 || r.status === 404) held = false;  // signed out: stop
        })
        .catch(function () { /* offline or blocked: tried again at the next turn */ })
        .then(function () { busy = false; });
    }
    function release() {
      if (!held || !navigator.sendBeacon) return;
      var form = new FormData();
      form.append("csrf_token", csrf);
      form.append("opened", el.dataset.opened || "");
      navigator.sendBeacon(el.dataset.releaseUrl, form);
      held = false;
    }
    setInterval(renew, every);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") renew();
    });
    document.addEventListener("submit", function (e) {
      var action = (e.target && e.target.getAttribute("action")) || "";
      if (action.indexOf("/agent/") === 0) sending = true;
      else if (action === "/logout") release();  // before the session ends
    }, true);
    document.addEventListener("click", function (e) {  // the case's timeline is part of the work: keep the claim
      var link = e.target && e.target.closest ? e.target.closest("a[href^='/cases/']") : null;
      if (link) sending = true;
    }, true);
    window.addEventListener("pagehide", function (e) { if (!sending && !e.persisted) release(); });
    window.addEventListener("pageshow", function (e) {
      if (e.persisted) { sending = false; renew(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupDropzone(); setupEvents(); setupClock(); setupKeys(); setupLease();
  });
})();
