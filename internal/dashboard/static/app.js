// Durable dashboard. Plain JavaScript, no dependencies. Every value that
// comes from the hub or the user reaches the DOM through textContent or an
// attribute, never as HTML.
"use strict";

(() => {
  const STATUSES = ["Pending", "Running", "Suspended", "Completed", "Failed", "Terminated", "Canceled", "ContinuedAsNew"];
  const FINISHED = new Set(["Completed", "Failed", "Terminated", "Canceled"]);
  // What an orchestrator's code may still have to run: the versions view
  // counts these, and its rows list them.
  const UNFINISHED = STATUSES.filter((s) => !FINISHED.has(s));
  const REFRESH_MS = 5000;
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  // The tracing UI's URL template ("" for none), {traceId} standing for the ID; the server
  // accepts only http(s) templates.
  const TRACE_URL = (document.querySelector('meta[name="trace-url"]') || {}).content || "";
  // On Azure the page's URL carries the function key; every call and link
  // carries it too.
  const CODE = new URLSearchParams(location.search).get("code");

  // --- small helpers ---------------------------------------------------------

  // el builds an element; string children become text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      // Through the CSSOM: the Content-Security-Policy forbids style
      // attributes, not style properties set from a script.
      else if (k === "style") {
        for (const decl of String(v).split(";")) {
          const i = decl.indexOf(":");
          if (i > 0) e.style.setProperty(decl.slice(0, i).trim(), decl.slice(i + 1).trim());
        }
      }
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "checked" || k === "disabled" || k === "selected" || k === "value") e[k] = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function apiURL(path, params) {
    const q = new URLSearchParams(params || []);
    if (CODE) q.set("code", CODE);
    const s = q.toString();
    return "api/" + path + (s ? "?" + s : "");
  }

  function localURL(path) {
    const q = new URLSearchParams();
    if (CODE) q.set("code", CODE);
    const s = q.toString();
    return path + (s ? "?" + s : "");
  }

  // call performs a request and returns {ok, status, data, text, headers};
  // it never throws for HTTP errors, only shows them.
  async function call(method, url, body, headers) {
    const h = Object.assign({}, headers || {});
    if (method !== "GET") h["X-CSRF-Token"] = CSRF;
    let payload;
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      payload = body;
    }
    let res;
    try {
      res = await fetch(url, { method, headers: h, body: payload, credentials: "same-origin", cache: "no-store" });
    } catch (e) {
      return { ok: false, status: 0, error: "network error: " + e.message, headers: new Headers() };
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    const out = { ok: res.ok, status: res.status, data, text, headers: res.headers };
    if (!res.ok) out.error = errorText(out);
    return out;
  }

  function errorText(r) {
    if (r.data && typeof r.data === "object" && (r.data.ExceptionMessage || r.data.Message)) {
      return r.status + ": " + (r.data.ExceptionMessage || r.data.Message);
    }
    if (r.text) return r.status + ": " + r.text.slice(0, 400);
    if (r.status === 404) return "404: not found";
    return "HTTP " + r.status;
  }

  function fmtTime(s) {
    if (!s) return "";
    const d = new Date(s);
    if (isNaN(d)) return s;
    const p = (n, w = 2) => String(n).padStart(w, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }

  // parseTime reads an API time in milliseconds, keeping the sub-millisecond
  // digits of history times (up to seven), which Date.parse drops: an
  // activity run inline takes well under a millisecond.
  function parseTime(s) {
    if (!s) return NaN;
    const m = /\.(\d+)Z$/.exec(s);
    if (!m) return Date.parse(s);
    return Date.parse(s.slice(0, m.index) + "Z") + Number("0." + m[1]) * 1000;
  }

  function fmtDur(ms) {
    if (ms === null || ms === undefined || isNaN(ms)) return "";
    if (ms < 0) ms = 0;
    if (ms < 1) return ms < 0.05 ? "<0.1 ms" : ms.toFixed(1) + " ms";
    if (ms < 10) return ms.toFixed(1) + " ms";
    if (ms < 1000) return Math.round(ms) + " ms";
    const s = ms / 1000;
    if (s < 60) return (s < 10 ? s.toFixed(2) : s.toFixed(1)) + " s";
    const m = Math.floor(s / 60), rs = Math.round(s % 60);
    if (m < 60) return `${m} m ${rs} s`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h} h ${m % 60} m`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }

  function pretty(v) {
    if (v === undefined || v === null) return "null";
    if (typeof v === "string") {
      try { return JSON.stringify(JSON.parse(v), null, 2); } catch { return JSON.stringify(v); }
    }
    return JSON.stringify(v, null, 2);
  }

  // compareVersions orders versions as the engine does
  // (internal/durable.CompareVersions): unset is older than any version;
  // two numeric versions (1 to 4 dot-separated integers) compare number by
  // number, a missing part first ("1.2" < "1.2.0"); anything else compares
  // as upper-cased text. It orders the loaded page only (the server sorts
  // the versions view), so the rare texts where JavaScript's case mapping
  // or UTF-16 order differs from Go's do not matter.
  function compareVersions(a, b) {
    const ua = !String(a || "").trim(), ub = !String(b || "").trim();
    if (ua || ub) return ua === ub ? 0 : ua ? -1 : 1;
    const na = numericVersion(a), nb = numericVersion(b);
    if (na && nb) {
      for (let i = 0; i < 4; i++) if (na[i] !== nb[i]) return na[i] < nb[i] ? -1 : 1;
      return 0;
    }
    const x = a.toUpperCase(), y = b.toUpperCase();
    return x < y ? -1 : x > y ? 1 : 0;
  }

  function numericVersion(s) {
    const parts = s.trim().split(".");
    if (parts.length > 4) return null;
    const v = [-1, -1, -1, -1];
    for (let i = 0; i < parts.length; i++) {
      // The engine reads each part as a 32-bit integer.
      if (!/^[0-9]+$/.test(parts[i]) || Number(parts[i]) > 2147483647) return null;
      v[i] = Number(parts[i]);
    }
    return v;
  }

  function badge(status) {
    return el("span", { class: "badge st-" + status, text: status });
  }

  let noticeTimer = 0;
  function notify(msg, kind) {
    const n = document.getElementById("notice");
    n.textContent = msg;
    n.className = "notice " + (kind || "ok");
    n.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { n.hidden = true; }, kind === "error" ? 12000 : 5000);
  }

  // --- dialog ----------------------------------------------------------------

  // ask shows the dialog with fields and resolves with their values, or
  // null when cancelled. run, when given, is awaited with the values while
  // the dialog stays open to show its result; the dialog then offers Close.
  function ask({ title, message, fields, confirm, danger, run }) {
    const dlg = document.getElementById("dialog");
    const body = document.getElementById("dialog-body");
    const result = document.getElementById("dialog-result");
    const ok = document.getElementById("dialog-confirm");
    const cancel = document.getElementById("dialog-cancel");
    document.getElementById("dialog-title").textContent = title;
    body.replaceChildren();
    result.replaceChildren();
    result.hidden = true;
    if (message) body.append(message instanceof Node ? message : el("p", { text: message }));
    const inputs = {};
    for (const f of fields || []) {
      if (f.type === "checkbox") {
        const box = el("input", { type: "checkbox", id: "f-" + f.name });
        box.checked = !!f.value;
        inputs[f.name] = box;
        body.append(el("label", { class: "field check-field", for: "f-" + f.name }, box, f.label));
        continue;
      }
      const input = f.type === "textarea"
        ? el("textarea", { id: "f-" + f.name, placeholder: f.placeholder || "", spellcheck: "false" })
        : el("input", { type: "text", id: "f-" + f.name, placeholder: f.placeholder || "", autocomplete: "off" });
      input.value = f.value || "";
      if (f.required) input.required = true;
      inputs[f.name] = input;
      body.append(el("label", { class: "field", for: "f-" + f.name }, f.label, input));
    }
    ok.textContent = confirm || "OK";
    ok.className = "btn primary" + (danger ? " danger-fill" : "");
    ok.disabled = false;
    ok.hidden = false;
    cancel.textContent = "Cancel";
    return new Promise((resolve) => {
      let done = false;
      const finish = (v) => {
        if (done) return;
        done = true;
        ok.removeEventListener("click", onOK);
        cancel.removeEventListener("click", onCancel);
        dlg.removeEventListener("cancel", onCancel);
        if (dlg.open) dlg.close();
        resolve(v);
      };
      const values = () => Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.type === "checkbox" ? i.checked : i.value]));
      const onOK = async (ev) => {
        ev.preventDefault();
        const form = document.getElementById("dialog-form");
        if (!form.reportValidity()) return;
        if (!run) { finish(values()); return; }
        ok.disabled = true;
        cancel.disabled = true;
        result.hidden = false;
        result.replaceChildren(el("div", { text: "Working…" }));
        try {
          await run(values(), result);
        } catch (e) {
          result.append(el("div", { class: "err", text: String(e) }));
        }
        ok.hidden = true;
        cancel.disabled = false;
        cancel.textContent = "Close";
        cancel.focus();
        dlg.dataset.done = "1";
      };
      const onCancel = (ev) => { ev.preventDefault(); finish(null); };
      ok.addEventListener("click", onOK);
      cancel.addEventListener("click", onCancel);
      dlg.addEventListener("cancel", onCancel);
      delete dlg.dataset.done;
      dlg.showModal();
      const first = Object.values(inputs)[0];
      (first || ok).focus();
    }).then((v) => { route(); return v; });
  }

  function resultLine(box, id, r, okText) {
    const line = el("div", { class: r.ok ? "ok" : "err" }, (id ? id + " — " : "") + (r.ok ? (okText || "done") : r.error));
    box.append(line);
  }

  // validJSON checks event data or input typed by the user; empty is null.
  function jsonBody(text, what) {
    const t = (text || "").trim();
    if (!t) return undefined;
    try { JSON.parse(t); } catch (e) { throw new Error(what + " is not valid JSON: " + e.message); }
    return t;
  }

  // --- actions ---------------------------------------------------------------

  // ACTIONS describe the operations on one instance: the fields they ask
  // for and the request they make.
  // recursive=true also acts on an instance's sub-orchestrations, where
  // the API supports it; the parameter is sent only when asked for.
  const RECURSIVE = { name: "recursive", type: "checkbox", label: "Also its sub-orchestrations (recursive)" };
  const withRecursive = (params, v) => (v.recursive ? Object.assign(params, { recursive: "true" }) : params);
  const ACTIONS = {
    terminate: { label: "Terminate", danger: true, fields: [{ name: "reason", label: "Reason (recorded as the output)" }, RECURSIVE],
      req: (id, v) => ["POST", apiURL(`instances/${encodeURIComponent(id)}/terminate`, withRecursive({ reason: v.reason || "" }, v))],
      allowed: (s) => s === "Pending" || s === "Running" || s === "Suspended" },
    suspend: { label: "Suspend", fields: [{ name: "reason", label: "Reason" }],
      req: (id, v) => ["POST", apiURL(`instances/${encodeURIComponent(id)}/suspend`, { reason: v.reason || "" })],
      allowed: (s) => s === "Running" || s === "Pending" },
    resume: { label: "Resume", fields: [{ name: "reason", label: "Reason" }],
      req: (id, v) => ["POST", apiURL(`instances/${encodeURIComponent(id)}/resume`, { reason: v.reason || "" })],
      allowed: (s) => s === "Suspended" },
    rewind: { label: "Rewind", fields: [{ name: "reason", label: "Reason" }],
      req: (id, v) => ["POST", apiURL(`instances/${encodeURIComponent(id)}/rewind`, { reason: v.reason || "" })],
      allowed: (s) => s === "Failed" },
    restart: { label: "Restart", fields: [],
      req: (id) => ["POST", apiURL(`instances/${encodeURIComponent(id)}/restart`, { restartWithNewInstanceId: "false" })],
      allowed: (s) => FINISHED.has(s) },
    raiseEvent: { label: "Raise event", fields: [
      { name: "eventName", label: "Event name", required: true },
      { name: "eventData", label: "Event data (JSON, empty for null)", type: "textarea", placeholder: '{"approved": true}' }],
      req: (id, v) => ["POST", apiURL(`instances/${encodeURIComponent(id)}/raiseEvent/${encodeURIComponent(v.eventName)}`), jsonBody(v.eventData, "Event data")],
      allowed: (s) => !FINISHED.has(s) },
    purge: { label: "Purge", danger: true, fields: [RECURSIVE],
      req: (id, v) => ["DELETE", apiURL(`instances/${encodeURIComponent(id)}`, withRecursive({}, v))],
      allowed: (s) => FINISHED.has(s) },
  };
  const ACTION_ORDER = ["terminate", "suspend", "resume", "rewind", "restart", "raiseEvent", "purge"];

  // runOn applies an action to instance IDs, four at a time, writing one
  // line per ID into box.
  async function runOn(action, ids, values, box) {
    box.replaceChildren();
    const a = ACTIONS[action];
    let okN = 0, errN = 0, next = 0;
    const summary = el("div", { text: `0 of ${ids.length} done` });
    box.append(summary);
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++];
        let r;
        try {
          const [method, url, body] = a.req(id, values);
          r = await call(method, url, body);
        } catch (e) {
          r = { ok: false, error: e.message };
        }
        if (r.ok) okN++; else errN++;
        resultLine(box, id, r, action === "purge" ? "purged" : "accepted (" + r.status + ")");
        summary.textContent = `${okN + errN} of ${ids.length} done: ${okN} succeeded, ${errN} failed`;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    summary.className = errN ? "err" : "ok";
    return { okN, errN };
  }

  async function actOnOne(action, id) {
    const a = ACTIONS[action];
    await ask({ title: `${a.label} ${id}`, fields: a.fields, confirm: a.label, danger: a.danger,
      message: action === "purge" ? "Deletes the instance's state and history. This cannot be undone." : null,
      run: async (v, box) => {
        const { errN } = await runOn(action, [id], v, box);
        notify(errN ? `${a.label} failed for ${id}` : `${a.label}: request accepted for ${id}`, errN ? "error" : "ok");
      } });
  }

  async function startNew() {
    await ask({ title: "Start an orchestration instance", confirm: "Start", fields: [
      { name: "name", label: "Orchestrator function name", required: true },
      { name: "id", label: "Instance ID (empty for a random one)" },
      { name: "version", label: "Version (empty for the app's defaultVersion)" },
      { name: "input", label: "Input (JSON, empty for none)", type: "textarea" }],
      run: async (v, box) => {
        const path = "orchestrators/" + encodeURIComponent(v.name.trim()) + (v.id.trim() ? "/" + encodeURIComponent(v.id.trim()) : "");
        const r = await call("POST", apiURL(path, v.version.trim() ? { version: v.version.trim() } : undefined), jsonBody(v.input, "Input"));
        box.replaceChildren();
        if (r.ok && r.data && r.data.id) {
          box.append(el("div", { class: "ok" }, "Started ", el("a", { href: "#/instances/" + encodeURIComponent(r.data.id), text: r.data.id })));
          notify("Started " + r.data.id);
        } else {
          resultLine(box, "", r);
        }
      } });
  }

  // --- instances view ----------------------------------------------------------

  // version is one version (a version may hold any character, commas
  // included, so none separates several); noVersion also keeps the
  // instances started without one.
  const emptyFilter = () => ({ from: "", to: "", statuses: [], prefix: "", names: "", version: "", noVersion: false, internal: false });
  // The list state survives navigation to an instance and back.
  const list = {
    filter: emptyFilter(),
    top: 100,
    tokens: [""], // continuation token of each page seen; the last is the current page's
    rows: [],
    next: "",
    counts: null,
    sort: { key: "createdTime", dir: -1 },
    selected: new Set(),
    loadedAt: null,
    error: "",
  };

  function filterParams(f) {
    const p = [];
    if (f.from) p.push(["createdTimeFrom", new Date(f.from).toISOString()]);
    if (f.to) p.push(["createdTimeTo", new Date(f.to).toISOString()]);
    if (f.statuses.length) p.push(["runtimeStatus", f.statuses.join(",")]);
    if (f.prefix.trim()) p.push(["instanceIdPrefix", f.prefix.trim()]);
    for (const n of f.names.split(",").map((s) => s.trim()).filter(Boolean)) p.push(["name", n]);
    // The API keeps an instance whose version equals any of the values
    // sent; an empty value stands for no version.
    if (f.version.trim()) p.push(["version", f.version.trim()]);
    if (f.noVersion) p.push(["version", ""]);
    // The API hides internal orchestrations (DurableTask.*, the bulk
    // operations' own instances) unless asked; the list, the counts and a
    // bulk action by filter all send the same parameters, so they agree.
    if (f.internal) p.push(["showInternal", "true"]);
    return p;
  }

  async function loadList() {
    const fp = filterParams(list.filter);
    const token = list.tokens[list.tokens.length - 1];
    const headers = token ? { "x-ms-continuation-token": token } : {};
    const t0 = performance.now();
    const page = await call("GET", apiURL("instances", [...fp, ["top", String(list.top)], ["showInput", "false"]]), undefined, headers);
    takePage(page, performance.now() - t0);
  }

  // takePage keeps a page of the list: one the page asked for, or the
  // first one, which came with the page (firstPage).
  function takePage(page, ms) {
    list.error = "";
    if (list.countsKey !== JSON.stringify(list.filter)) {
      list.counts = null; // counts of another filter would mislead
      list.countsKey = JSON.stringify(list.filter);
    }
    if (page.ok) {
      list.rows = Array.isArray(page.data) ? page.data : [];
      list.next = page.headers.get("x-ms-continuation-token") || "";
    } else {
      list.rows = [];
      list.next = "";
      list.error = page.error;
    }
    list.loadedAt = new Date();
    list.loadMs = ms;
    const present = new Set(list.rows.map((r) => r.instanceId));
    for (const id of list.selected) if (!present.has(id)) list.selected.delete(id);
  }

  // loadCounts fetches the counts per status after the page is shown: on a
  // large hub they take longer than one page (the service has no count, so
  // the matching rows are read), and the table should not wait for them.
  const COUNTS_AUTO_MS = 30000;
  async function loadCounts(auto) {
    const key = JSON.stringify(list.filter);
    // Auto-refresh recounts twice a minute at most: counting reads every
    // matching row, the page only one page of them.
    if (auto && list.counts && list.countedAt && Date.now() - list.countedAt < COUNTS_AUTO_MS) return;
    list.countedAt = Date.now();
    const r = await call("GET", apiURL("counts", filterParams(list.filter)));
    if (key !== JSON.stringify(list.filter) || currentRoute().view !== "instances") return;
    list.counts = r.ok ? r.data : null;
    list.countsError = r.ok ? "" : r.error;
    const old = document.getElementById("counts");
    if (old) old.replaceWith(renderCounts());
  }

  function sortedRows() {
    const { key, dir } = list.sort;
    return [...list.rows].sort((a, b) => {
      // "1.10" is newer than "1.9": versions do not sort as text.
      if (key === "version") return compareVersions(a.version, b.version) * dir;
      const x = a[key] || "", y = b[key] || "";
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
  }

  // renderCounts shows the counts per status for the same filters; a card
  // filters by its status.
  function renderCounts() {
    const counts = el("div", { class: "counts", id: "counts" });
    if (!list.counts) {
      counts.append(el("div", { class: "hint", text: list.countsError ? "Counts unavailable: " + list.countsError : "Counting…" }));
      return counts;
    }
    let total = 0;
    for (const s of STATUSES) total += list.counts[s] || 0;
    counts.append(el("button", { type: "button", class: "count-card total", "data-status": "all", onclick: () => {
      list.filter.statuses = []; list.tokens = [""]; refresh();
    } }, el("div", { class: "n", text: String(total) }), el("div", { class: "l", text: "Matching" })));
    for (const s of STATUSES) {
      const n = list.counts[s] || 0;
      if (!n && (s === "Canceled" || s === "ContinuedAsNew")) continue;
      counts.append(el("button", { type: "button", class: "count-card", "data-status": s, title: "Show only " + s, onclick: () => {
        list.filter.statuses = [s]; list.tokens = [""]; list.selected.clear(); refresh();
      } }, el("div", { class: "n", text: String(n) }), el("div", { class: "l" }, el("span", { class: "dot st-" + s }), s)));
    }
    return counts;
  }

  function renderList() {
    const view = document.getElementById("view");
    const f = list.filter;
    const fields = {
      from: el("input", { type: "datetime-local", id: "filter-from", step: "1", value: f.from }),
      to: el("input", { type: "datetime-local", id: "filter-to", step: "1", value: f.to }),
      prefix: el("input", { type: "search", id: "filter-prefix", placeholder: "e.g. order-", value: f.prefix }),
      names: el("input", { type: "search", id: "filter-names", placeholder: "e.g. HelloWorld, Counter", value: f.names }),
      version: el("input", { type: "search", id: "filter-version", placeholder: "e.g. 1.2", value: f.version }),
      noVersion: el("input", { type: "checkbox", id: "filter-noversion", checked: f.noVersion,
        onchange: (e) => e.target.parentElement.classList.toggle("on", e.target.checked) }),
      internal: el("input", { type: "checkbox", id: "filter-internal", checked: f.internal,
        onchange: (e) => e.target.parentElement.classList.toggle("on", e.target.checked) }),
    };
    const statusBoxes = STATUSES.map((s) => {
      const box = el("input", { type: "checkbox", value: s, checked: f.statuses.includes(s), "data-status": s });
      const label = el("label", { class: "chip" + (box.checked ? " on" : "") }, box, el("span", { class: "dot st-" + s }), s);
      box.addEventListener("change", () => label.classList.toggle("on", box.checked));
      return label;
    });
    const apply = () => {
      list.filter = {
        from: fields.from.value, to: fields.to.value, prefix: fields.prefix.value, names: fields.names.value,
        version: fields.version.value, noVersion: fields.noVersion.checked, internal: fields.internal.checked,
        statuses: statusBoxes.map((l) => l.querySelector("input")).filter((b) => b.checked).map((b) => b.value),
      };
      list.tokens = [""];
      list.selected.clear();
      refresh();
    };
    const form = el("form", { class: "filters panel", id: "filters", onsubmit: (e) => { e.preventDefault(); apply(); } },
      el("label", {}, "Created from", fields.from),
      el("label", {}, "Created before", fields.to),
      el("label", {}, "Instance ID prefix", fields.prefix),
      el("label", {}, "Orchestrator names (comma-separated)", fields.names),
      el("label", { title: "Instances of this version, as the engine compares versions (01.0 finds 1.0, beta finds Beta)" }, "Version", fields.version),
      el("div", { class: "statuses" }, el("span", { class: "hint", text: "Status:" }), statusBoxes,
        el("label", { class: "chip" + (f.noVersion ? " on" : ""), for: "filter-noversion",
          title: "Instances started without a version (with a version in the Version field: instances of either)" },
        fields.noVersion, "Without a version"),
        el("label", { class: "chip" + (f.internal ? " on" : ""), for: "filter-internal",
          title: "Also list the instances of internal orchestrations (names starting with DurableTask.), such as the bulk operations' own" },
        fields.internal, "Show internal")),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "btn", id: "filter-reset", onclick: () => {
          list.filter = emptyFilter();
          list.tokens = [""];
          list.selected.clear();
          refresh();
        } }, "Reset"),
        el("button", { type: "submit", class: "btn primary", id: "filter-apply" }, "Apply")));

    const counts = renderCounts();

    const sel = [...list.selected];
    const selStatuses = list.rows.filter((r) => list.selected.has(r.instanceId)).map((r) => r.runtimeStatus);
    const toolbar = el("div", { class: "toolbar" },
      el("span", { class: "sel", id: "selection-count", text: sel.length ? `${sel.length} selected` : "Select rows for actions" }),
      ACTION_ORDER.map((a) => el("button", {
        type: "button", class: "btn small" + (ACTIONS[a].danger ? " danger" : ""), "data-action": a,
        disabled: !sel.length || !selStatuses.some(ACTIONS[a].allowed),
        onclick: () => actOnSelection(a),
      }, ACTIONS[a].label)),
      el("span", { class: "sep" }),
      el("label", { class: "hint", for: "bulk-op" }, "All matching the filter:"),
      el("select", { id: "bulk-op" }, ACTION_ORDER.map((a) => el("option", { value: a, text: ACTIONS[a].label }))),
      el("button", { type: "button", class: "btn small", id: "bulk-run", onclick: () => bulkByFilter(document.getElementById("bulk-op").value) }, "Run…"));

    // A Version column only when an instance of the page has a version or
    // the filter names one, as `durable get-instances` does: the list of a
    // hub that does not use versions keeps its shape, without a column of
    // blanks.
    const versioned = list.rows.some((r) => r.version) || !!f.version.trim() || f.noVersion;
    const cols = [["instanceId", "Instance ID"], ["name", "Name"], ["runtimeStatus", "Status"], ["createdTime", "Created"], ["lastUpdatedTime", "Last updated"]];
    if (versioned) cols.splice(2, 0, ["version", "Version"]);
    const allBox = el("input", { type: "checkbox", id: "select-all", "aria-label": "Select all on this page",
      checked: list.rows.length > 0 && list.rows.every((r) => list.selected.has(r.instanceId)),
      onchange: (e) => {
        for (const r of list.rows) e.target.checked ? list.selected.add(r.instanceId) : list.selected.delete(r.instanceId);
        renderList();
      } });
    const head = el("tr", {}, el("th", { class: "check" }, allBox), cols.map(([k, label]) => {
      const on = list.sort.key === k;
      const sort = () => {
        list.sort = { key: k, dir: on ? -list.sort.dir : (k.endsWith("Time") ? -1 : 1) };
        renderList();
      };
      return el("th", { class: "sortable", id: "sort-" + k, "data-sort": k, tabindex: "0", "aria-sort": on ? (list.sort.dir > 0 ? "ascending" : "descending") : "none",
        title: "Sort this page by " + label, onclick: sort,
        onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } },
      }, label, el("span", { class: "arrow", text: on ? (list.sort.dir > 0 ? "▲" : "▼") : "" }));
    }), el("th", { text: "Duration" }));
    const body = el("tbody", { id: "instances-body" });
    for (const r of sortedRows()) {
      const box = el("input", { type: "checkbox", class: "row-check", "data-id": r.instanceId, "aria-label": "Select " + r.instanceId,
        checked: list.selected.has(r.instanceId), onchange: (e) => {
          e.target.checked ? list.selected.add(r.instanceId) : list.selected.delete(r.instanceId);
          renderList();
        } });
      const end = FINISHED.has(r.runtimeStatus) ? new Date(r.lastUpdatedTime) : new Date();
      body.append(el("tr", { "data-id": r.instanceId, "data-status": r.runtimeStatus },
        el("td", { class: "check" }, box),
        el("td", { class: "id mono" }, el("a", { href: "#/instances/" + encodeURIComponent(r.instanceId), text: r.instanceId })),
        el("td", { text: r.name }),
        versioned ? el("td", { class: "version" }, r.version ? r.version : el("span", { class: "hint", title: "no version", text: "—" })) : null,
        el("td", {}, badge(r.runtimeStatus)),
        el("td", { class: "time", text: fmtTime(r.createdTime), title: r.createdTime }),
        el("td", { class: "time", text: fmtTime(r.lastUpdatedTime), title: r.lastUpdatedTime }),
        // The list's times have whole seconds only.
        el("td", { class: "time", text: end - new Date(r.createdTime) < 1000 ? "<1 s" : fmtDur(end - new Date(r.createdTime)) })));
    }
    const table = el("div", { class: "tablewrap" }, el("table", { id: "instances" }, el("thead", {}, head), body));
    if (!list.rows.length) {
      table.append(el("div", { class: "empty", text: list.error ? "Could not load the instances: " + list.error : "No instances match the filter." }));
    }
    const page = list.tokens.length;
    const pager = el("div", { class: "pager" },
      el("button", { type: "button", class: "btn small", id: "prev-page", disabled: page <= 1, onclick: () => { list.tokens.pop(); list.selected.clear(); refresh(); } }, "← Previous"),
      el("span", { id: "page-number", text: `Page ${page} · ${list.rows.length} shown` }),
      el("button", { type: "button", class: "btn small", id: "next-page", disabled: !list.next, onclick: () => { list.tokens.push(list.next); list.selected.clear(); refresh(); } }, "Next →"),
      el("label", { class: "hint" }, "Page size ",
        el("select", { id: "page-size", onchange: (e) => { list.top = Number(e.target.value); list.tokens = [""]; refresh(); } },
          [25, 50, 100, 200, 500].map((n) => el("option", { value: String(n), text: String(n), selected: n === list.top })))),
      el("span", { class: "spacer" }),
      el("span", { class: "hint", text: "Sorting orders the loaded page only. " + (list.loadedAt ? `Loaded ${fmtTime(list.loadedAt)} in ${Math.round(list.loadMs)} ms.` : "") }));

    const focused = document.activeElement && document.activeElement.id;
    view.replaceChildren(form, counts, toolbar, table, pager);
    view.dataset.view = "instances";
    view.dataset.loaded = String(list.loadedAt ? list.loadedAt.getTime() : 0);
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  }

  async function actOnSelection(action) {
    const a = ACTIONS[action];
    const rows = list.rows.filter((r) => list.selected.has(r.instanceId));
    const ids = rows.filter((r) => a.allowed(r.runtimeStatus)).map((r) => r.instanceId);
    const skipped = rows.length - ids.length;
    const msg = el("div", {},
      el("p", { class: "confirm-count", text: `${a.label} ${ids.length} selected instance${ids.length === 1 ? "" : "s"}?` }),
      skipped ? el("p", { class: "hint", text: `${skipped} selected instance(s) are skipped: their status does not allow ${a.label.toLowerCase()}.` }) : null,
      action === "purge" ? el("p", { class: "hint", text: "Purging deletes state and history. This cannot be undone." }) : null);
    await ask({ title: `${a.label} selected instances`, message: msg, fields: a.fields, confirm: `${a.label} ${ids.length}`, danger: a.danger,
      run: async (v, box) => {
        const { okN, errN } = await runOn(action, ids, v, box);
        notify(`${a.label}: ${okN} succeeded, ${errN} failed`, errN ? "error" : "ok");
        list.selected.clear();
      } });
  }

  // bulkByFilter starts a bulk operation over everything the filter
  // matches, as a durable orchestration of the app (POST batch/{op}), and
  // follows its progress.
  async function bulkByFilter(action) {
    const a = ACTIONS[action];
    const fp = filterParams(list.filter);
    const counts = await call("GET", apiURL("counts", fp));
    let n = 0;
    if (counts.ok && counts.data) for (const s of STATUSES) n += counts.data[s] || 0;
    const eligible = counts.ok && counts.data
      ? STATUSES.filter(a.allowed).reduce((m, s) => m + (counts.data[s] || 0), 0) : null;
    const describe = fp.length ? fp.map(([k, v]) => `${k}=${k === "version" && v === "" ? "(none)" : v}`).join(", ") : "no filter: every instance of the hub";
    const msg = el("div", {},
      el("p", { class: "confirm-count", id: "bulk-count", text: `${a.label} all ${n} instance${n === 1 ? "" : "s"} matching the filter?` }),
      eligible !== null && eligible !== n ? el("p", { class: "hint", text: `${eligible} of them have a status that allows ${a.label.toLowerCase()}; the others are reported as failed or skipped.` }) : null,
      el("p", { class: "hint", text: "Filter: " + describe }),
      el("p", { class: "hint", text: "Runs in the app as a durable bulk-operation instance; progress is shown below." }));
    const fields = action === "raiseEvent" ? ACTIONS.raiseEvent.fields : a.fields;
    await ask({ title: `${a.label} everything matching the filter`, message: msg, fields, confirm: `${a.label} ${n}`, danger: true,
      run: async (v, box) => {
        const params = [...fp];
        if (v.reason) params.push(["reason", v.reason]);
        if (v.recursive) params.push(["recursive", "true"]);
        if (action === "raiseEvent") params.push(["eventName", v.eventName]);
        const body = action === "raiseEvent" ? jsonBody(v.eventData, "Event data") : undefined;
        const r = await call("POST", apiURL("batch/" + action, params), body);
        box.replaceChildren();
        if (r.status === 404 && !(r.data && r.data.id)) {
          box.append(el("div", { class: "err", text: "This app has no bulk-operation route (POST /durabletask/batch/{operation}): " + r.error }));
          return;
        }
        if (!r.ok || !r.data || !r.data.id) { resultLine(box, "", r); return; }
        const id = r.data.id;
        box.append(el("div", {}, "Bulk operation ", el("a", { href: "#/instances/" + encodeURIComponent(id), text: id })));
        const bar = el("progress", { max: "1", value: "0" });
        const line = el("div", { id: "bulk-progress", text: "Started…" });
        box.append(bar, line);
        await followBulk(id, bar, line, box);
      } });
  }

  async function followBulk(id, bar, line, box) {
    for (let i = 0; i < 600; i++) {
      const r = await call("GET", apiURL("instances/" + encodeURIComponent(id), { showInput: "false" }));
      if (r.ok && r.data) {
        const st = r.data.runtimeStatus, cs = r.data.customStatus, out = r.data.output;
        const p = out && typeof out === "object" ? out : cs && typeof cs === "object" ? cs : null;
        if (p) {
          const done = (p.succeeded || 0) + (p.failed || 0);
          const total = p.matched || done || 1;
          bar.max = total; bar.value = done;
          line.textContent = `${st}: ${done} of ${p.matched ?? "?"} processed, ${p.succeeded || 0} succeeded, ${p.failed || 0} failed`;
        } else {
          line.textContent = st + (cs ? ": " + JSON.stringify(cs) : "");
        }
        if (FINISHED.has(st)) {
          line.className = st === "Completed" && !(p && p.failed) ? "ok" : "err";
          line.dataset.done = st;
          if (p && Array.isArray(p.errors)) for (const e of p.errors.slice(0, 50)) box.append(el("div", { class: "err", text: `${e.instanceId} — ${e.error}` }));
          if (st === "Failed") box.append(el("div", { class: "err", text: String(out) }));
          return;
        }
      }
      await new Promise((res) => setTimeout(res, 1000));
    }
  }

  // --- versions view -----------------------------------------------------------

  // The versions view (#/versions): what is in flight of each orchestrator
  // and version, from GET counts?groupBy=version over the unfinished
  // statuses, so an operator sees when no instance needs an old version's
  // code any more.
  const inflight = { groups: null, error: "", countedAt: 0, ms: 0 };

  async function renderVersions(auto) {
    // Counting reads every unfinished instance row: auto-refresh recounts
    // twice a minute at most, as for the list's counts.
    if (auto && inflight.groups && Date.now() - inflight.countedAt < COUNTS_AUTO_MS) {
      drawVersions();
      return;
    }
    // What was counted before stays on screen while the count runs.
    drawVersions();
    const t0 = performance.now();
    const r = await call("GET", apiURL("counts", [["groupBy", "version"], ["runtimeStatus", UNFINISHED.join(",")]]));
    inflight.groups = r.ok && Array.isArray(r.data) ? r.data : null;
    inflight.error = r.ok ? (Array.isArray(r.data) ? "" : "unexpected answer: " + r.text.slice(0, 200)) : r.error;
    inflight.countedAt = Date.now();
    inflight.ms = performance.now() - t0;
    if (currentRoute().view === "versions") drawVersions();
  }

  // listUnfinished shows the list of an orchestrator's instances of one
  // version ("" for none) in the given statuses.
  function listUnfinished(name, version, statuses) {
    list.filter = Object.assign(emptyFilter(), { names: name, statuses, version, noVersion: version === "" });
    list.tokens = [""];
    list.selected.clear();
    location.hash = "#/";
  }

  function drawVersions() {
    const view = document.getElementById("view");
    const groups = inflight.groups || [];
    // ContinuedAsNew is a moment between two executions: a column only
    // when some instance is caught in it.
    const shown = UNFINISHED.filter((s) => s !== "ContinuedAsNew" || groups.some((g) => g.counts && g.counts[s]));
    const intro = el("div", { class: "panel" },
      el("h2", { text: "Unfinished instances per orchestrator and version" }),
      el("p", { class: "hint", text: `Instances that are ${shown.join(", ")}: their versions' code must stay deployed until they finish. ` +
        "An old version's code can go once it has no row here (a Failed instance of it that is rewound runs that code again). " +
        "Click a count to list those instances." }));
    const head = el("tr", {}, el("th", { text: "Orchestrator" }), el("th", { text: "Version" }),
      shown.map((s) => el("th", { class: "num" }, el("span", { class: "dot st-" + s }), " " + s)), el("th", { class: "num", text: "Unfinished" }));
    const body = el("tbody", { id: "versions-body" });
    const countButton = (g, statuses, n, what) => el("button", { type: "button", class: "linkish", "data-status": what,
      title: `List the ${what === "all" ? "unfinished" : what} instances of ${g.name} ${g.version ? "version " + g.version : "without a version"}`,
      onclick: () => listUnfinished(g.name, g.version || "", statuses) }, String(n));
    for (const g of groups) {
      const c = g.counts || {};
      const total = UNFINISHED.reduce((m, s) => m + (c[s] || 0), 0);
      body.append(el("tr", { "data-name": g.name, "data-version": g.version || "" },
        el("td", { text: g.name }),
        el("td", { class: "version" }, g.version ? g.version : el("span", { class: "hint", title: "started without a version", text: "none" })),
        shown.map((s) => el("td", { class: "num", "data-status": s }, c[s] ? countButton(g, [s], c[s], s) : el("span", { class: "hint", text: "0" }))),
        el("td", { class: "num total" }, countButton(g, UNFINISHED, total, "all"))));
    }
    const table = el("div", { class: "tablewrap" }, el("table", { id: "versions" }, el("thead", {}, head), body));
    if (!groups.length) {
      table.append(el("div", { class: "empty", text: inflight.error ? "Could not count the instances: " + inflight.error
        : inflight.countedAt ? "No unfinished instances: no version's code is needed by an instance in flight." : "Counting…" }));
    }
    const foot = el("div", { class: "pager" }, el("span", { class: "spacer" }),
      el("span", { class: "hint", text: inflight.countedAt ? `Counted ${fmtTime(new Date(inflight.countedAt))} in ${Math.round(inflight.ms)} ms (reads every unfinished instance's row).` : "" }));
    view.replaceChildren(intro, table, foot);
    view.dataset.view = "versions";
    view.dataset.loaded = String(inflight.countedAt);
  }

  // --- entities ---------------------------------------------------------------------

  // The entities view (#/entities): a page of durable entities with their
  // states, from GET entities?fetchState=true; "More" follows the
  // continuation token.
  const ents = { rows: [], next: "", error: "", loaded: 0 };

  async function renderEntities(more) {
    const params = [["fetchState", "true"], ["top", "100"]];
    const headers = more && ents.next ? { "x-ms-continuation-token": ents.next } : undefined;
    const r = await call("GET", apiURL("entities", params), undefined, headers);
    if (currentRoute().view !== "entities") return;
    if (!more) ents.rows = [];
    ents.error = r.ok ? "" : r.error;
    if (r.ok && Array.isArray(r.data)) ents.rows = ents.rows.concat(r.data);
    ents.next = r.ok ? (r.headers.get("x-ms-continuation-token") || "") : "";
    ents.loaded = Date.now();
    drawEntities();
  }

  function entityHref(e) {
    return "#/entities/" + encodeURIComponent(e.name) + "/" + encodeURIComponent(e.key === "" ? "$" : e.key);
  }

  function drawEntities() {
    const view = document.getElementById("view");
    const intro = el("div", { class: "panel" }, el("h2", { text: "Durable entities" }),
      el("p", { class: "hint", text: "Entities with state, by name and key, with the time of their last operation. Click one for its details and to signal it an operation." }));
    const body = el("tbody", { id: "entities-body" });
    for (const e of ents.rows) {
      const id = e.entityId || {};
      body.append(el("tr", { "data-entity": "@" + id.name + "@" + id.key },
        el("td", {}, el("a", { href: entityHref(id), text: id.name })),
        el("td", { class: "mono", text: id.key }),
        el("td", { text: fmtTime(e.lastOperationTime) }),
        el("td", { class: "mono state", text: clip(JSON.stringify(e.state), 120) })));
    }
    const table = el("div", { class: "tablewrap" }, el("table", { id: "entities" },
      el("thead", {}, el("tr", {}, ["Entity", "Key", "Last operation", "State"].map((h) => el("th", { text: h })))), body));
    if (!ents.rows.length) {
      table.append(el("div", { class: "empty", text: ents.error ? "Could not list the entities: " + ents.error : "No entities with state in this task hub." }));
    }
    const foot = el("div", { class: "pager" },
      el("button", { type: "button", class: "btn", id: "entities-clean", onclick: () => cleanEntities() }, "Clean entity storage…"),
      el("span", { class: "spacer" }),
      ents.next ? el("button", { type: "button", class: "btn", id: "entities-more", onclick: () => renderEntities(true) }, "More") : null);
    view.replaceChildren(intro, table, foot);
    view.dataset.view = "entities";
    view.dataset.loaded = String(ents.loaded);
  }

  // Clean entity storage: POST entities, as many rounds as the
  // continuation token asks for.
  async function cleanEntities() {
    await ask({
      title: "Clean entity storage",
      message: "Removes entities that have no state, no lock and no waiting operation and have been idle for the time below, and releases locks held by orchestrations that no longer run.",
      fields: [{ name: "remove", label: "Remove empty entities", type: "checkbox", value: true },
        { name: "release", label: "Release orphaned locks", type: "checkbox", value: true },
        { name: "minutes", label: "Idle for at least (minutes)", placeholder: "30", value: "30" }],
      confirm: "Clean",
      run: async (v, box) => {
        const minutes = Number(String(v.minutes).trim() || "30");
        if (!(minutes > 0)) { box.replaceChildren(el("div", { class: "err", text: "The idle time must be a positive number of minutes." })); return; }
        const params = [["removeEmptyEntities", String(!!v.remove)], ["releaseOrphanedLocks", String(!!v.release)],
          ["emptyForSeconds", String(Math.max(1, Math.round(minutes * 60)))]];
        let removed = 0, released = 0, token = "";
        for (;;) {
          const r = await call("POST", apiURL("entities", params), undefined, token ? { "x-ms-continuation-token": token } : undefined);
          if (!r.ok) { box.replaceChildren(el("div", { class: "err", text: r.error })); return; }
          removed += (r.data && r.data.emptyEntitiesRemoved) || 0;
          released += (r.data && r.data.orphanedLocksReleased) || 0;
          token = r.headers.get("x-ms-continuation-token") || "";
          if (!token) break;
        }
        box.replaceChildren(el("div", { class: "ok", id: "entities-cleaned", text: `Removed ${removed} empty entities; released ${released} orphaned locks.` }));
        renderEntities(false);
      },
    });
  }

  function clip(s, n) {
    s = s === undefined ? "" : String(s);
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }

  // The entity view (#/entities/{name}/{key}): its state, lock and waiting
  // operations, read from the entity's instance (its input is the
  // scheduler state), and an action to signal it an operation.
  async function renderEntity(name, key) {
    const view = document.getElementById("view");
    const id = "@" + name.toLowerCase() + "@" + key;
    const st = await call("GET", apiURL("instances/" + encodeURIComponent(id), { showInput: "true" }));
    const r = currentRoute();
    if (r.view !== "entity" || r.name !== name || r.key !== key) return;
    const back = el("a", { class: "back", href: "#/entities", text: "← Entities" });
    const signal = el("button", { type: "button", class: "btn small", id: "entity-signal", onclick: () => signalEntity(name, key) }, "Signal operation");
    const head = el("div", { class: "head" }, back, el("h1", { class: "mono", id: "entity-id", text: id }), el("div", { class: "actions" }, signal));
    let sched = null;
    if (st.ok && st.data) {
      sched = st.data.input;
      if (typeof sched === "string") { try { sched = JSON.parse(sched); } catch { sched = null; } }
    }
    const kv = (k, v, attrs) => el("div", attrs || {}, el("div", { class: "k", text: k }), el("div", { class: "v" }, v));
    const parts = [head];
    if (!st.ok || !sched) {
      parts.push(el("div", { class: "panel" }, el("h2", { text: st.status === 404 ? "No such entity yet" : "Could not load the entity" }),
        el("div", { class: "msg", text: st.status === 404 ? `${id} has received no operation. Signal one to create it.` : (st.error || "unexpected answer") })));
    } else {
      let state = sched.state;
      if (typeof state === "string") { try { state = JSON.parse(state); } catch { /* shown as stored */ } }
      const queue = Array.isArray(sched.queue) ? sched.queue : [];
      parts.push(el("div", { class: "panel summary" },
        kv("Exists", sched.state !== undefined && sched.state !== null ? "yes" : "no (no state)", { id: "entity-exists" }),
        kv("Last operation", fmtTime(st.data.createdTime)),
        kv("Locked by", sched.lockedBy ? el("a", { id: "entity-locked-by", href: "#/instances/" + encodeURIComponent(sched.lockedBy), text: sched.lockedBy }) : "nobody"),
        kv("Waiting operations", String(queue.length), { id: "entity-queue-size" })));
      parts.push(el("div", { class: "panel" }, el("h2", { text: "State" }), el("pre", { class: "json", id: "entity-state", text: pretty(state) })));
      const recent = Array.isArray(sched.recent) ? sched.recent.slice().reverse() : [];
      parts.push(el("div", { class: "panel section" }, el("h2", { text: "Recent operations" }),
        recent.length ? el("table", { id: "entity-recent" }, el("thead", {}, el("tr", {}, ["Operation", "From", "Ran", "Result"].map((h) => el("th", { text: h })))),
          el("tbody", {}, recent.map((o) => el("tr", { class: o.error ? "failed" : "" },
            el("td", { text: o.op || "(lock taken)" }),
            el("td", { class: "mono" }, o.from ? el("a", { href: "#/instances/" + encodeURIComponent(o.from), text: o.from }) : (o.signal ? "signal" : "")),
            el("td", { text: fmtTime(o.at) }),
            el("td", { class: o.error ? "err" : "", text: o.error ? "failed: " + o.error : "ok" })))))
          : el("div", { class: "empty", text: "No operation recorded yet." })));
      if (queue.length) {
        parts.push(el("div", { class: "panel section" }, el("h2", { text: "Waiting operations (behind the lock)" }),
          el("table", { id: "entity-queue" }, el("thead", {}, el("tr", {}, ["Operation", "From", "Input"].map((h) => el("th", { text: h })))),
            el("tbody", {}, queue.map((q) => el("tr", {}, el("td", { text: q.op || (q.lockset ? "(lock)" : "") }),
              el("td", { class: "mono", text: q.parent || "client" }), el("td", { class: "mono", text: clip(q.input || "", 80) })))))));
      }
    }
    view.replaceChildren(...parts);
    view.dataset.view = "entity";
    view.dataset.loaded = String(Date.now());
  }

  async function signalEntity(name, key) {
    await ask({
      title: "Signal an operation",
      message: `Sends the operation to @${name.toLowerCase()}@${key}, one way: the entity runs it when the app processes it.`,
      fields: [{ name: "op", label: "Operation", required: true, placeholder: "deposit" },
        { name: "input", label: "Input (JSON, optional)", type: "textarea", placeholder: "100" }],
      confirm: "Signal",
      run: async (v, box) => {
        const input = v.input.trim();
        const r = await call("POST", apiURL("entities/" + encodeURIComponent(name) + "/" + encodeURIComponent(key === "" ? "$" : key), [["op", v.op.trim()]]),
          input === "" ? undefined : input);
        box.replaceChildren(el("div", { class: r.ok ? "ok" : "err", text: r.ok ? `Signalled ${v.op.trim()}.` : r.error }));
      },
    });
  }

  // --- schedules ---------------------------------------------------------------------

  // when describes when a schedule runs, in a line.
  function when(spec) {
    let s = spec.cron ? "cron " + spec.cron + (spec.timeZone ? " (" + spec.timeZone + ")" : "") : "every " + spec.every;
    if (spec.jitter) s += ", jitter " + spec.jitter;
    return s + ", overlap " + (spec.overlap || "skip");
  }

  function scheduleHref(id) { return "#/schedules/" + encodeURIComponent(id); }

  // The schedules view (#/schedules): every schedule with when it runs,
  // its next run and its counts, from GET schedules.
  async function renderSchedules() {
    const view = document.getElementById("view");
    const r = await call("GET", apiURL("schedules", [["top", "1000"]]));
    if (currentRoute().view !== "schedules") return;
    const rows = r.ok && Array.isArray(r.data) ? r.data : [];
    const intro = el("div", { class: "panel" }, el("div", { class: "head" }, el("h2", { text: "Schedules" }),
      el("div", { class: "actions" }, el("button", { type: "button", class: "btn small", id: "schedule-new", onclick: () => editSchedule(null) }, "New schedule"))),
      el("p", { class: "hint", text: "Orchestrations started on a calendar (NCRONTAB with seconds, in a time zone) or at an interval, each tick exactly once." }));
    const body = el("tbody", { id: "schedules-body" });
    for (const s of rows) {
      body.append(el("tr", { "data-schedule": s.id },
        el("td", {}, el("a", { href: scheduleHref(s.id), text: s.id })),
        el("td", { text: s.spec.orchestrator }),
        el("td", { class: "mono", text: when(s.spec) }),
        el("td", { class: "next", text: s.paused ? "paused" : (s.next ? fmtTime(s.next) : "none") }),
        el("td", { class: "num", text: String(s.started) }),
        el("td", { class: "num", text: String((s.running || []).length) })));
    }
    const table = el("div", { class: "tablewrap" }, el("table", { id: "schedules" },
      el("thead", {}, el("tr", {}, ["Schedule", "Orchestrator", "When", "Next run", "Started", "Running"].map((h) => el("th", { text: h })))), body));
    if (!rows.length) table.append(el("div", { class: "empty", text: r.ok ? "No schedules in this task hub." : "Could not list the schedules: " + r.error }));
    view.replaceChildren(intro, table);
    view.dataset.view = "schedules";
    view.dataset.loaded = String(Date.now());
  }

  // The schedule view (#/schedules/{id}): its spec, state, next run,
  // running and recent runs, and its actions.
  async function renderSchedule(id) {
    const view = document.getElementById("view");
    const r = await call("GET", apiURL("schedules/" + encodeURIComponent(id)));
    const cur = currentRoute();
    if (cur.view !== "schedule" || cur.id !== id) return;
    const back = el("a", { class: "back", href: "#/schedules", text: "← Schedules" });
    if (!r.ok) {
      view.replaceChildren(el("div", { class: "head" }, back),
        el("div", { class: "panel failure" }, el("h2", { text: r.status === 404 ? "No such schedule" : "Could not load the schedule" }),
          el("div", { class: "msg", text: r.status === 404 ? `No schedule ${id} in this task hub (a change just sent may not be applied yet).` : r.error })));
      view.dataset.view = "schedule";
      view.dataset.loaded = String(Date.now());
      return;
    }
    const s = r.data;
    const act = (action, label, params) => el("button", { type: "button", class: "btn small", id: "schedule-" + action,
      onclick: () => scheduleAction(id, action, label, params) }, label);
    const actions = el("div", { class: "actions" },
      s.paused ? act("resume", "Resume") : act("pause", "Pause"), act("trigger", "Run now"), act("backfill", "Backfill…"),
      el("button", { type: "button", class: "btn small", id: "schedule-edit", onclick: () => editSchedule(s) }, "Edit…"),
      el("button", { type: "button", class: "btn small danger", id: "schedule-delete", onclick: () => scheduleAction(id, "delete", "Delete") }, "Delete"));
    const kv = (k, v, attrs) => el("div", attrs || {}, el("div", { class: "k", text: k }), el("div", { class: "v" }, v));
    const parts = [el("div", { class: "head" }, back, el("h1", { class: "mono", id: "schedule-id", text: s.id }), actions),
      el("div", { class: "panel summary" },
        kv("Orchestrator", s.spec.orchestrator),
        kv("When", when(s.spec), { id: "schedule-when" }),
        kv("State", s.paused ? "paused" + (s.note ? ": " + s.note : "") : "active", { id: "schedule-state" }),
        kv("Next run", s.next ? fmtTime(s.next) : "none", { id: "schedule-next" }),
        kv("Runs", `${s.started} started, ${(s.running || []).length} running, ${s.skipped} skipped, ${s.missed} missed`, { id: "schedule-counts" }))];
    const recent = (s.recent || []).slice().reverse();
    parts.push(el("div", { class: "panel section" }, el("h2", { text: "Recent runs" }),
      recent.length ? el("table", { id: "schedule-runs" }, el("thead", {}, el("tr", {}, ["Run", "Tick", "Reason", "Status", "Started", "Ended"].map((h) => el("th", { text: h })))),
        el("tbody", {}, recent.map((x) => el("tr", { "data-status": x.status },
          el("td", { class: "mono" }, x.instanceId ? el("a", { href: "#/instances/" + encodeURIComponent(x.instanceId), text: x.instanceId }) : "—"),
          el("td", { text: fmtTime(x.tick) }), el("td", { text: x.reason }), el("td", { text: x.status }),
          el("td", { text: fmtTime(x.started) }), el("td", { text: fmtTime(x.ended) })))))
        : el("div", { class: "empty", text: "No run yet." })));
    parts.push(el("div", { class: "panel section" }, el("h2", { text: "Spec" }), el("pre", { class: "json", id: "schedule-spec", text: pretty(s.spec) })));
    view.replaceChildren(...parts);
    view.dataset.view = "schedule";
    view.dataset.loaded = String(Date.now());
  }

  async function scheduleAction(id, action, label) {
    const fields = action === "pause" || action === "resume" ? [{ name: "reason", label: "Note (optional)" }]
      : action === "backfill" ? [{ name: "from", label: "From (ISO 8601)", required: true, placeholder: "2026-12-01T00:00:00Z" },
        { name: "to", label: "To (ISO 8601)", required: true, placeholder: "2026-12-02T00:00:00Z" }] : [];
    await ask({
      title: label + " " + id,
      message: action === "delete" ? "Removes the schedule; runs under way go on." : action === "trigger" ? "Starts a run now, as the overlap policy allows."
        : action === "backfill" ? "Starts the runs of the ticks from From to To, as the overlap policy allows." : "",
      fields, confirm: label, danger: action === "delete",
      run: async (v, box) => {
        const params = [];
        if (v.reason) params.push(["reason", v.reason]);
        if (v.from) params.push(["from", v.from.trim()], ["to", v.to.trim()]);
        const r = action === "delete" ? await call("DELETE", apiURL("schedules/" + encodeURIComponent(id)))
          : await call("POST", apiURL("schedules/" + encodeURIComponent(id) + "/" + action, params));
        box.replaceChildren(el("div", { class: r.ok ? "ok" : "err", text: r.ok ? `${label}: sent; the app applies it when it processes the request.` : r.error }));
      },
    });
    refresh();
  }

  // editSchedule creates a schedule (s null) or changes one: its spec as
  // JSON, the HTTP API's PUT body.
  async function editSchedule(s) {
    const example = { orchestrator: "HelloWorld", input: "world", cron: "0 0 9 * * MON-FRI", timeZone: "Europe/Paris", overlap: "skip" };
    await ask({
      title: s ? "Edit " + s.id : "New schedule",
      message: "The spec: orchestrator, input, version; cron (NCRONTAB with seconds) and timeZone, or every (\"30s\", \"1h\"); startAt, endAt, jitter, overlap (skip, bufferOne, allowAll, terminateOther), catchupWindow.",
      fields: [{ name: "id", label: "Schedule ID", required: true, value: s ? s.id : "", placeholder: "nightly-report" },
        { name: "spec", label: "Spec (JSON)", type: "textarea", required: true, value: JSON.stringify(s ? s.spec : example, null, 2) }],
      confirm: s ? "Save" : "Create",
      run: async (v, box) => {
        const r = await call("PUT", apiURL("schedules/" + encodeURIComponent(v.id.trim())), v.spec);
        box.replaceChildren(el("div", { class: r.ok ? "ok" : "err", text: r.ok ? "Saved; the app applies it when it processes the request." : r.error }));
      },
    });
    refresh();
  }

  // --- instance view -----------------------------------------------------------

  async function renderInstance(id) {
    const view = document.getElementById("view");
    const [st, links] = await Promise.all([
      call("GET", apiURL("instances/" + encodeURIComponent(id), { showHistory: "true", showHistoryOutput: "true", showInput: "true" })),
      call("GET", localURL("links/" + encodeURIComponent(id))),
    ]);
    if (currentInstance() !== id) return; // navigated away meanwhile
    const back = el("a", { class: "back", href: "#/", text: "← Instances" });
    if (!st.ok) {
      view.replaceChildren(el("div", { class: "head" }, back),
        el("div", { class: "panel failure" }, el("h2", { text: st.status === 404 ? "Instance not found" : "Could not load the instance" }),
          el("div", { class: "msg", text: st.status === 404 ? `No instance ${id} in this task hub.` : st.error })));
      view.dataset.view = "instance";
      return;
    }
    const s = st.data;
    const events = Array.isArray(s.historyEvents) ? s.historyEvents : [];
    const rel = links.ok && links.data ? links.data : { parent: null, children: [] };
    const actions = el("div", { class: "actions" }, ACTION_ORDER.map((a) => el("button", {
      type: "button", class: "btn small" + (ACTIONS[a].danger ? " danger" : ""), "data-action": a,
      disabled: !ACTIONS[a].allowed(s.runtimeStatus), onclick: () => actOnOne(a, id),
    }, ACTIONS[a].label)));
    const head = el("div", { class: "head" }, back, el("h1", { class: "mono", id: "instance-id", text: s.instanceId }),
      el("span", { id: "instance-status" }, badge(s.runtimeStatus)), actions);

    const parts = [head];
    if (s.runtimeStatus === "Failed") parts.push(failurePanel(s, events));
    // The status times have whole seconds; the history's are exact.
    const startEv = events.find((e) => e.EventType === "ExecutionStarted");
    const endEv = events.find((e) => e.EventType === "ExecutionCompleted" || e.EventType === "ExecutionTerminated");
    const start = startEv ? parseTime(startEv.Timestamp) : parseTime(s.createdTime);
    const end = !FINISHED.has(s.runtimeStatus) ? Date.now() : endEv ? parseTime(endEv.Timestamp) : parseTime(s.lastUpdatedTime);
    const kv = (k, v, attrs) => el("div", attrs || {}, el("div", { class: "k", text: k }), el("div", { class: "v" }, v));
    parts.push(el("div", { class: "panel summary" },
      kv("Orchestrator", s.name),
      kv("Version", s.version || "none", { id: "instance-version" }),
      kv("Trace", !s.traceId ? "none (tracing was off)" : TRACE_URL
        ? el("a", { id: "instance-trace", class: "mono", href: TRACE_URL.split("{traceId}").join(encodeURIComponent(s.traceId)), target: "_blank", rel: "noopener", text: s.traceId })
        : el("span", { id: "instance-trace", class: "mono", text: s.traceId })),
      kv("Created", fmtTime(s.createdTime)),
      kv("Last updated", fmtTime(s.lastUpdatedTime)),
      kv(FINISHED.has(s.runtimeStatus) ? "Duration" : "Running for", fmtDur(end - start)),
      kv("Parent", rel.parent ? el("a", { id: "parent-link", href: "#/instances/" + encodeURIComponent(rel.parent.instanceId), text: rel.parent.instanceId }) : "none (top-level)"),
      kv("Sub-orchestrations", rel.children.length ? el("div", { class: "children", id: "children" },
        rel.children.map((c) => el("a", { href: "#/instances/" + encodeURIComponent(c.instanceId), title: c.name, text: c.instanceId }))) : "none")));
    const jsonPanel = (title, v, idAttr) => el("div", { class: "panel" }, el("h2", { text: title }), el("pre", { class: "json", id: idAttr, text: pretty(v) }));
    parts.push(el("div", { class: "cols3" },
      jsonPanel("Input", s.input, "instance-input"),
      jsonPanel("Output", s.output, "instance-output"),
      jsonPanel("Custom status", s.customStatus, "instance-custom-status")));
    parts.push(el("div", { class: "panel section" }, el("h2", { text: "Timeline" }), timeline(s, events, rel)));
    parts.push(el("div", { class: "panel section" }, el("h2", { text: `History (${events.length} events)` }), historyTable(events)));
    view.replaceChildren(...parts);
    view.dataset.view = "instance";
    view.dataset.status = s.runtimeStatus;
  }

  // failureExtras renders what failure details carry besides type and
  // message: non-retriable, properties, and each inner failure in turn.
  function failureExtras(fd) {
    const rows = [];
    for (let f = fd, depth = 0; f && depth < 32; f = f.InnerFailure, depth++) {
      if (depth > 0) rows.push(el("div", { class: "msg failure-cause", text: `caused by ${f.ErrorType ? f.ErrorType + ": " : ""}${f.ErrorMessage || ""}` }));
      if (f.IsNonRetriable) rows.push(el("div", { class: "failure-nonretriable", text: "non-retriable" }));
      if (f.Properties && Object.keys(f.Properties).length) rows.push(el("pre", { class: "json failure-properties", text: JSON.stringify(f.Properties) }));
    }
    return rows;
  }

  function failurePanel(s, events) {
    const out = typeof s.output === "string" ? s.output : JSON.stringify(s.output);
    const panel = el("div", { class: "panel failure", id: "failure" }, el("h2", { text: "Failed" }), el("div", { class: "msg", text: out }));
    const failed = events.filter((e) => e.FailureDetails || e.EventType === "TaskFailed" || e.EventType === "SubOrchestrationInstanceFailed");
    for (const e of failed) {
      const fd = e.FailureDetails;
      const where = e.EventType === "ExecutionCompleted" ? "Orchestrator" : `${e.EventType === "TaskFailed" ? "Activity" : "Sub-orchestration"} ${e.FunctionName || e.Name || ""}`;
      const text = fd ? (fd.ErrorType ? fd.ErrorType + ": " : "") + (fd.ErrorMessage || "") : (e.Reason || "");
      // The orchestrator's own failure is the output, already shown; what
      // the output cannot say (the stack, the causes, whether retrying
      // could help, the error's properties) still is.
      const repeat = e.EventType === "ExecutionCompleted" && text === out;
      const extra = fd ? failureExtras(fd) : [];
      if (repeat && !(fd && fd.StackTrace) && extra.length === 0) continue;
      panel.append(el("div", { class: "section" },
        repeat ? null : el("div", { class: "msg", text: `${where}: ${text}` }),
        ...extra,
        fd && fd.StackTrace ? el("pre", { class: "json", text: fd.StackTrace }) : null,
        !fd && e.Details ? el("pre", { class: "json", text: e.Details }) : null));
    }
    return panel;
  }

  // spans pairs the history into timeline rows: activities and
  // sub-orchestrations (already merged with their scheduling by the API),
  // timers (created and fired paired by fire time) and point events.
  function spans(s, events) {
    const rows = [];
    const timers = [];
    for (const e of events) {
      const t = parseTime(e.Timestamp);
      switch (e.EventType) {
        case "TaskCompleted": case "TaskFailed":
          rows.push({ kind: "activity", label: e.FunctionName || "activity", from: parseTime(e.ScheduledTime || e.Timestamp), to: t, failed: e.EventType === "TaskFailed" });
          break;
        case "TaskScheduled":
          rows.push({ kind: "activity", label: e.Name, from: t, to: null });
          break;
        case "SubOrchestrationInstanceCompleted": case "SubOrchestrationInstanceFailed":
          rows.push({ kind: "sub", label: e.FunctionName || "sub-orchestration", from: parseTime(e.ScheduledTime || e.Timestamp), to: t, failed: e.EventType.endsWith("Failed") });
          break;
        case "SubOrchestrationInstanceCreated":
          rows.push({ kind: "sub", label: e.Name, from: t, to: null, child: e.InstanceId });
          break;
        case "TimerCreated": {
          const row = { kind: "timer", label: "timer until " + fmtTime(e.FireAt), from: t, to: null, fireAt: e.FireAt, planned: parseTime(e.FireAt) };
          rows.push(row);
          timers.push(row);
          break;
        }
        case "TimerFired": {
          // The fired event is stamped when the timer is set; it fires
          // at FireAt at the earliest.
          const fired = Math.max(t, parseTime(e.FireAt) || t);
          const row = timers.find((r) => r.to === null && r.fireAt === e.FireAt);
          if (row) row.to = fired; else rows.push({ kind: "timer", label: "timer fired", from: fired, to: fired });
          break;
        }
        case "EventRaised":
          rows.push({ kind: "event", label: "event " + (e.Name || ""), from: t, point: true, received: true });
          break;
        case "EventSent":
          rows.push({ kind: "event", label: "sent " + (e.Name || "") + " to " + (e.InstanceId || ""), from: t, point: true, acted: true });
          break;
        case "ExecutionSuspended": case "ExecutionResumed":
          rows.push({ kind: "event", label: e.EventType.replace("Execution", "").toLowerCase(), from: t, point: true });
          break;
        case "ExecutionCompleted": case "ExecutionTerminated": case "ContinueAsNew":
          rows.push({ kind: "end", label: e.EventType === "ExecutionCompleted" ? (e.OrchestrationStatus || "completed").toLowerCase() : e.EventType === "ContinueAsNew" ? "continued as new" : "terminated", from: t, point: true,
            // Completing or continuing is the code going on; a termination is not.
            acted: e.EventType !== "ExecutionTerminated" && e.OrchestrationStatus !== "Terminated" });
          break;
      }
    }
    endUnfiredTimers(rows, timers);
    return rows;
  }

  // endUnfiredTimers ends the timers that never fired but that the
  // orchestration no longer waited for, which would otherwise be drawn as
  // running bars up to their fire time (a 2-minute event timeout stretching
  // the axis of a 10-second run). History does not say which wait a timer
  // bounds, so it is read from what followed the timer:
  //   - an event came before the fire time and the code then went on in a
  //     later episode (scheduled something, sent an event, completed):
  //     the wait ended with that event, as a WaitForExternalEvent timeout
  //     or a WhenAny of an event and a timer does;
  //   - else the execution ended (completed, failed, continued as new or
  //     terminated): the wait ended with it.
  // A timer with neither is still awaited and stays open. One that fired
  // keeps its bar: history says it ran that long.
  function endUnfiredTimers(rows, timers) {
    const end = rows.find((r) => r.kind === "end");
    const acts = rows.filter((r) => r.acted || (r.kind !== "event" && r.kind !== "end"));
    for (const tm of timers) {
      if (tm.to !== null) continue;
      // Events raised during the wait; acts of the episode that created
      // the timer share its time and are not "after" it (a WhenAll of the
      // timer and an activity).
      const came = rows.filter((r) => r.received && r.from >= tm.from && !(r.from >= tm.planned));
      const first = came.find((ev) => acts.some((r) => r !== tm && r.from > tm.from && r.from >= ev.from));
      const at = first ? first.from : end ? end.from : null;
      if (at === null) continue;
      tm.to = at;
      tm.cancelled = true;
      tm.why = first ? first.label + " came first" : "the orchestration " + (end.label === "terminated" ? "was terminated" : "ended");
    }
  }

  function timeline(s, events, rel) {
    const rows = spans(s, events);
    if (!rows.length) return el("div", { class: "hint", id: "timeline", text: "No activities, timers, sub-orchestrations or events in this execution yet." });
    const started = events.find((e) => e.EventType === "ExecutionStarted");
    const now = Date.now();
    // createdTime has whole seconds only; the start event is exact.
    const t0 = Math.min(started ? parseTime(started.Timestamp) : parseTime(s.createdTime), ...rows.map((r) => r.from));
    const open = !FINISHED.has(s.runtimeStatus);
    // Only a timer still awaited reaches to its fire time; a cancelled one
    // must not stretch the axis.
    let t1 = Math.max(t0, ...rows.map((r) => r.to || r.from), ...rows.filter((r) => r.planned && r.to === null).map((r) => r.planned));
    if (open) t1 = Math.max(t1, now);
    const span = Math.max(t1 - t0, 1);
    const pct = (t) => ((t - t0) / span) * 100;
    const MAX = 400;
    const shown = rows.slice(0, MAX);
    const g = el("div", { class: "gantt", id: "timeline", role: "table", "aria-label": "Timeline" });
    const axis = el("div", { class: "axis" });
    for (let i = 0; i <= 4; i++) axis.append(el("span", { style: `left:${i * 25}%`, text: i ? "+" + fmtDur((span * i) / 4) : "0" }));
    g.append(el("div", { class: "label hint", text: "start " + fmtTime(new Date(t0)) }), axis, el("div", { class: "dur hint", text: "duration" }));
    for (const r of shown) {
      const to = r.to ?? (r.kind === "timer" && r.planned ? r.planned : open ? now : t1);
      const kinds = { activity: "activity", sub: "sub-orch", timer: "timer", event: "event", end: "end" };
      let label = el("span", {}, el("span", { class: "kind", text: kinds[r.kind] }), r.label);
      if (r.kind === "sub" && !r.child) {
        // The API's completed rows drop the child's ID; a name that only
        // one child has still tells which it was.
        const same = rel.children.filter((c) => c.name === r.label);
        if (same.length === 1) r.child = same[0].instanceId;
      }
      if (r.kind === "sub" && r.child) label = el("span", {}, el("span", { class: "kind", text: kinds[r.kind] }), el("a", { href: "#/instances/" + encodeURIComponent(r.child), text: r.label }));
      const track = el("div", { class: "track" });
      if (r.point) {
        track.append(el("div", { class: "point" + (r.kind === "end" ? " end" : ""), style: `left:${pct(r.from)}%`, title: `${r.label} at ${fmtTime(new Date(r.from))}` }));
      } else {
        const cls = "bar " + r.kind + (r.failed ? " failed" : "") + (r.to === null ? " open" : "") + (r.cancelled ? " cancelled" : "");
        const until = r.to === null ? "(not finished)" : fmtTime(new Date(r.to)) + (r.cancelled ? ` (cancelled: ${r.why}; it would have fired at ${fmtTime(new Date(r.planned))})` : "");
        track.append(el("div", { class: cls, "data-kind": r.kind,
          style: `left:${pct(r.from)}%;width:${Math.max(pct(to) - pct(r.from), 0.3)}%`,
          title: `${r.label}: ${fmtTime(new Date(r.from))} → ${until}, ${fmtDur(to - r.from)}` }));
      }
      g.append(el("div", { class: "label", title: r.label }, label), track,
        el("div", { class: "dur", text: r.point ? "" : (r.to === null ? "… " : "") + fmtDur(to - r.from) + (r.cancelled ? " ✕" : "") }));
    }
    const wrap = el("div", {}, g);
    if (rows.length > MAX) wrap.append(el("p", { class: "hint", text: `Showing the first ${MAX} of ${rows.length} rows; the history table below has them all.` }));
    wrap.append(el("div", { class: "legend" },
      el("span", {}, el("i", { style: "background:var(--bar-activity)" }), "activity"),
      el("span", {}, el("i", { style: "background:var(--bar-sub)" }), "sub-orchestration"),
      el("span", {}, el("i", { style: "background:var(--bar-timer)" }), "timer"),
      el("span", {}, el("i", { style: "background:var(--bar-failed)" }), "failed"),
      el("span", {}, el("i", { style: "background:var(--bar-open)" }), "not finished"),
      el("span", {}, el("i", { class: "cancelled-swatch" }), "timer no longer awaited (✕)"),
      el("span", {}, el("i", { style: "background:var(--s-continued);transform:rotate(45deg);width:9px;height:9px" }), "event")));
    return wrap;
  }

  // At most this many history rows are put in the table: a fan-out of
  // thousands would make the page slow for no reader's benefit.
  const HISTORY_ROWS = 2000;

  function historyTable(events) {
    const body = el("tbody", { id: "history-body" });
    events.slice(0, HISTORY_ROWS).forEach((e, i) => {
      let detail = "";
      if (e.FailureDetails) detail = (e.FailureDetails.ErrorType ? e.FailureDetails.ErrorType + ": " : "") + (e.FailureDetails.ErrorMessage || "");
      else if (e.Reason) detail = e.Reason;
      else if (e.Result !== undefined) detail = typeof e.Result === "string" ? e.Result : JSON.stringify(e.Result);
      else if (e.Data) detail = e.Data;
      else if (e.FireAt) detail = "fires at " + fmtTime(e.FireAt);
      if (e.OrchestrationStatus && !detail) detail = e.OrchestrationStatus;
      const dur = e.ScheduledTime ? fmtDur(parseTime(e.Timestamp) - parseTime(e.ScheduledTime)) : "";
      const name = e.FunctionName || e.Name || "";
      body.append(el("tr", {},
        el("td", { class: "hint", text: String(i + 1) }),
        el("td", { class: "time", text: fmtTime(e.Timestamp), title: e.Timestamp }),
        el("td", {}, e.EventType),
        el("td", {}, e.InstanceId && e.EventType.startsWith("SubOrchestration")
          ? el("a", { href: "#/instances/" + encodeURIComponent(e.InstanceId), text: name || e.InstanceId }) : name),
        el("td", { class: "time", text: dur }),
        el("td", { class: "mono", text: detail.length > 500 ? detail.slice(0, 500) + "…" : detail })));
    });
    const table = el("div", { class: "tablewrap" }, el("table", { id: "history" },
      el("thead", {}, el("tr", {}, ["#", "Time", "Event", "Name", "Duration", "Details"].map((h) => el("th", { text: h })))), body));
    if (events.length <= HISTORY_ROWS) return table;
    return el("div", {}, table, el("p", { class: "hint", text: `Showing the first ${HISTORY_ROWS} of ${events.length} events; durable get-history --id prints them all.` }));
  }

  // --- routing and refresh -------------------------------------------------------

  // currentRoute reads the hash: #/instances/{id} is an instance,
  // #/versions the versions view, anything else the list.
  function currentRoute() {
    const m = location.hash.match(/^#\/instances\/(.+)$/);
    if (m) {
      let id = m[1];
      try { id = decodeURIComponent(m[1]); } catch { /* shown as typed */ }
      return { view: "instance", id };
    }
    if (location.hash === "#/versions") return { view: "versions" };
    if (location.hash === "#/entities") return { view: "entities" };
    if (location.hash === "#/schedules") return { view: "schedules" };
    const sc = location.hash.match(/^#\/schedules\/(.+)$/);
    if (sc) {
      let id = sc[1];
      try { id = decodeURIComponent(id); } catch { /* shown as typed */ }
      return { view: "schedule", id };
    }
    const e = location.hash.match(/^#\/entities\/([^/]+)\/(.+)$/);
    if (e) {
      const dec = (x) => { try { return decodeURIComponent(x); } catch { return x; } };
      const key = dec(e[2]);
      return { view: "entity", name: dec(e[1]), key: key === "$" ? "" : key };
    }
    return { view: "instances" };
  }

  // currentInstance is the instance ID in the hash, or null on another view.
  function currentInstance() {
    const r = currentRoute();
    return r.view === "instance" ? r.id : null;
  }

  function markNav(view) {
    for (const a of document.querySelectorAll(".nav a")) {
      if (a.dataset.view === view) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
  }

  // A refresh asked for while one runs (a filter applied during an
  // auto-refresh) runs once that one ends, so the newest state wins.
  let busy = false, again = false;
  async function refresh(auto) {
    if (busy) { again = true; return; }
    busy = true;
    // data-busy tells (tests, too) that the view is about to be replaced.
    const view = document.getElementById("view");
    view.dataset.busy = "1";
    try {
      const r = currentRoute();
      markNav(r.view === "versions" ? "versions" : r.view === "entities" || r.view === "entity" ? "entities"
        : r.view === "schedules" || r.view === "schedule" ? "schedules" : "instances");
      if (r.view === "instance") {
        await renderInstance(r.id);
      } else if (r.view === "entities") {
        await renderEntities(false);
      } else if (r.view === "entity") {
        await renderEntity(r.name, r.key);
      } else if (r.view === "schedules") {
        await renderSchedules();
      } else if (r.view === "schedule") {
        await renderSchedule(r.id);
      } else if (r.view === "versions") {
        await renderVersions(auto === true);
      } else {
        await loadList();
        if (currentRoute().view === "instances") {
          renderList();
          loadCounts(auto === true);
        }
      }
    } catch (e) {
      notify("Could not refresh: " + e.message, "error");
    } finally {
      busy = false;
      if (again) { again = false; refresh(); } else delete view.dataset.busy;
    }
  }

  function route() {
    if (document.getElementById("dialog").open) return;
    refresh();
  }

  // firstPage takes the list's first page that the server embedded in the
  // page (data-first-page), once: the first view is then drawn while this
  // script runs, before the load event, with no request or timer to wait
  // for. It is used only for what it is, the default filter's first page.
  function firstPage() {
    const view = document.getElementById("view");
    const raw = view.dataset.firstPage;
    delete view.dataset.firstPage;
    if (!raw || currentRoute().view !== "instances") return null;
    let fp;
    try { fp = JSON.parse(raw); } catch { return null; }
    if (!fp || fp.top !== list.top || list.tokens.length !== 1 || filterParams(list.filter).length) return null;
    let data = null;
    try { data = fp.body ? JSON.parse(fp.body) : null; } catch { data = null; }
    const headers = new Headers(fp.next ? { "x-ms-continuation-token": fp.next } : {});
    const page = { ok: fp.status >= 200 && fp.status < 300, status: fp.status, data, text: fp.body || "", headers };
    if (!page.ok) page.error = errorText(page);
    return { page, ms: fp.ms };
  }

  function init() {
    const auto = document.getElementById("auto-refresh");
    auto.checked = localStorage.getItem("durable-dashboard-auto") === "1";
    auto.addEventListener("change", () => localStorage.setItem("durable-dashboard-auto", auto.checked ? "1" : "0"));
    setInterval(() => {
      if (auto.checked && !document.hidden && !document.getElementById("dialog").open) refresh(true);
    }, REFRESH_MS);
    document.getElementById("refresh").addEventListener("click", () => refresh());
    document.getElementById("start-new").addEventListener("click", startNew);
    window.addEventListener("hashchange", () => { window.scrollTo(0, 0); route(); });
    const first = firstPage();
    if (first) {
      // Synchronously: a headless browser that takes the page at its load
      // event sees the list. The counts follow, as after any list load.
      takePage(first.page, first.ms);
      markNav("instances");
      renderList();
      loadCounts(false);
      return;
    }
    route();
  }

  init();
})();
