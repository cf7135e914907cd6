"use strict";
// The sweep page: config, controls, runs table, parallel coordinates, importance, scatter and
// metric curves, kept live by the sweep's server-sent events.

const PAGE_SIZE = 50;
const CURVE_RUNS = 50; // curves of at most this many runs (the table's current page)
const CURVE_SAMPLES = 500; // points per curve: the server picks them evenly by step
// The sweep states each action is offered in (the server's rules, spec §8.1).
// What each action does, in its confirmation (spec §8.1): stop and cancel read alike otherwise.
const EFFECTS = {
  pause: "No new runs until it is resumed; running runs go on.",
  resume: "Runs are handed out again.",
  stop: "No new runs; running runs finish, then the agents exit.",
  cancel: "Running runs are killed, pending ones too, and the agents exit.",
};

const ACTIONS = {
  pause: ["running"],
  resume: ["pending", "paused", "finished", "canceled"],
  stop: ["running", "paused", "pending"],
  cancel: ["running", "paused", "pending"],
};

const pathParts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
const sweepId = pathParts.pop();
// /sweeps/PROJECT/ID: the API checks the project (a wrong one is a 404 that says where it is)
const sweepPath = pathParts.length > 1 ? `${encodeURIComponent(pathParts[1])}/${encodeURIComponent(sweepId)}` : encodeURIComponent(sweepId);
const view = {
  sweep: null,
  runs: new Map(), // id -> RunOut, in creation order
  sort: { key: "created_at", dir: -1 },
  stateFilter: "",
  textFilter: "",
  brushed: null, // run ids inside the parallel coordinates' brushed ranges, or null
  page: 0,
  curveKey: null,
  curves: new Map(), // run id -> [[step, value], ...] of view.curveKey
};

// -- layout -------------------------------------------------------------------------------------

function layout() {
  const sweep = view.sweep;
  document.title = `${sweepTitle(sweep)} · hypersweep`;
  setCrumbs(el("a", { href: "/" }, "sweeps"), "/", el("span", {}, sweep.project), "/", el("span", {}, sweepTitle(sweep)));
  const controls = el(
    "div",
    { class: "controls", id: "controls" },
    Object.keys(ACTIONS).map((action) =>
      el("button", { type: "button", "data-action": action, onclick: () => act(action) }, action),
    ),
  );
  const states = ["", "pending", "running", "finished", "failed", "crashed", "killed", "preempting", "preempted"];
  document.getElementById("main").replaceChildren(
    el("h1", {}, sweepTitle(sweep), " ", el("span", { id: "sweep-state" })),
    el("div", { id: "facts" }),
    controls,
    el(
      "div",
      { class: "grid" },
      el("div", { class: "panel full" }, el("h2", {}, "Parallel coordinates"), el("p", { class: "muted chart-note", id: "parcoords-note", hidden: true }), el("div", { class: "chart wide", id: "parcoords" })),
      el("div", { class: "panel scroll-x" }, el("h2", {}, "Parameter importance"), el("div", { id: "importance" }, el("p", { class: "muted" }, "Loading…"))),
      el("div", { class: "panel" }, el("h2", {}, "Metric by run creation time"), el("div", { class: "chart", id: "scatter" })),
      sweep.config.method === "bayes"
        ? el("div", { class: "panel", id: "predictions-panel" }, el("h2", {}, "Model predictions"), el("p", { class: "muted", id: "predictions-message" }), el("div", { class: "chart", id: "predictions" }))
        : null,
      el(
        "div",
        { class: "panel" },
        el("h2", {}, "Metric curves"),
        el("div", { class: "toolbar" }, el("label", {}, "history key ", el("select", { id: "curve-key", onchange: (e) => setCurveKey(e.target.value) }))),
        el("div", { class: "chart", id: "curves" }),
      ),
    ),
    el("h2", {}, "Runs"),
    el(
      "div",
      { class: "toolbar" },
      el("label", {}, "state ", el("select", { id: "state-filter", onchange: (e) => { view.stateFilter = e.target.value; view.page = 0; tableChanged(); } }, states.map((s) => el("option", { value: s }, s || "all")))),
      el("label", {}, "filter ", el("input", { id: "text-filter", type: "search", placeholder: "any column contains…", oninput: (e) => setTextFilter(e.target.value) })),
      el("span", { id: "brush-note", class: "muted" }),
    ),
    el("div", { class: "scroll" }, el("table", { class: "data runs", id: "runs" })),
    el("div", { class: "pager", id: "pager" }),
    el("h2", {}, "Config"),
    el("pre", { class: "config", id: "config" }, toYaml(sweep.config).replace(/^\n/, "")),
  );
  drawHeader();
}

// controller: {type: local}: the server hands out only what a local controller schedules.
function isLocal(config) {
  return Boolean(config.controller && config.controller.type === "local");
}

function drawHeader() {
  const sweep = view.sweep;
  const metric = metricOf(sweep.config);
  document.getElementById("sweep-state").replaceChildren(badge(sweep.state));
  const counts = Object.entries(sweep.run_counts)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`)
    .join(", ");
  document.getElementById("facts").replaceChildren(
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, "ID"), el("dd", {}, el("code", {}, sweep.id)),
      el("dt", {}, "Method"), el("dd", {}, String(sweep.config.method || "")),
      el("dt", {}, "Metric"), el("dd", {}, metric ? `${metric.name} (${metric.goal})` : "none"),
      el("dt", {}, "Best"),
      el("dd", {}, sweep.best ? el("a", { href: `/runs/${encodeURIComponent(sweep.best.run_id)}` }, `${fmt(sweep.best.value)} (${sweep.best.run_id})`) : "—"),
      el("dt", {}, "Runs"), el("dd", { id: "run-counts" }, counts || "none yet"),
      ...(isLocal(sweep.config)
        ? [el("dt", {}, "Controller"), el("dd", { id: "local-controller" }, "local: its agents get runs while ", el("code", {}, `hypersweep controller ${sweep.project}/${sweep.id}`), " runs")]
        : []),
      el("dt", {}, "Created"), el("dd", {}, fmtTime(sweep.created_at)),
    ),
  );
  for (const button of document.querySelectorAll("#controls button")) {
    button.disabled = !ACTIONS[button.dataset.action].includes(sweep.state);
  }
}

async function act(action) {
  if (!confirm(`${action} sweep ${sweepTitle(view.sweep)}? ${EFFECTS[action]}`)) return;
  try {
    view.sweep = await api(`/sweeps/${encodeURIComponent(sweepId)}/state`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ action }),
    });
    drawHeader();
  } catch (error) {
    alert(`Could not ${action} the sweep: ${error.message}`);
  }
}

// -- the runs table -----------------------------------------------------------------------------
//
// The server sorts, filters and pages the table (GET /sweeps/ID/runs?offset=&limit=&sort=...), so
// the page never renders more than PAGE_SIZE rows whatever the sweep's size. A change of sort,
// filter or page is drawn at once from the runs the page already holds (the event snapshot),
// then replaced by the server's page when it answers. Rows shown are kept live from the event
// stream; a change that may move rows between pages asks the server again (at most every 2 s).
// Runs brushed in the parallel coordinates are a set of runs the page holds, so that view is
// sorted and paged here.

const table = {
  rows: null, // the server's current page (RunOut), null before its first answer
  total: 0, // runs matching the filters, from X-Total-Count
  seq: 0, // the latest request: an older answer arriving late is dropped
  error: null,
};
const agents = new Map(); // agent id -> AgentOut (its host, and slot when the server has it)

function paramNames() {
  const names = new Set();
  for (const run of view.runs.values()) for (const key of Object.keys(flatten(run.params))) names.add(key);
  return [...names].sort();
}

// A run's agent: its host and, when the server reports one, which of the host's agents it is.
function agentLabel(run) {
  const agent = run.agent_id ? agents.get(run.agent_id) : null;
  if (!agent) return run.host || undefined;
  return agent.slot ? `${agent.host} · ${agent.slot}` : agent.host;
}

function columns() {
  const metric = metricOf(view.sweep.config);
  const cols = [
    { key: "name", sort: "name", title: "Run", get: (r) => r.name },
    { key: "state", sort: "state", title: "State", get: (r) => r.state },
  ];
  if (metric) cols.push({ key: "metric", sort: `summary.${metric.name}`, title: metric.name, get: (r) => r.summary[metric.name], num: true });
  for (const name of paramNames()) cols.push({ key: "p:" + name, sort: `params.${name}`, title: name, get: (r) => flatten(r.params)[name], num: true });
  cols.push(
    { key: "agent", sort: "host", title: "Agent", get: agentLabel },
    { key: "created_at", sort: "created_at", title: "Created", get: (r) => r.created_at },
    { key: "exit_code", sort: "exit_code", title: "Exit", get: (r) => (r.exit_code === null ? undefined : r.exit_code), num: true },
  );
  return cols;
}

// One collator for every comparison: localeCompare with options makes one per call, which was
// most of the time of sorting 5,000 runs for the first table.
const collator = new Intl.Collator(undefined, { numeric: true });

function compare(a, b) {
  const missing = (v) => v === null || v === undefined;
  if (missing(a) || missing(b)) return missing(a) - missing(b); // missing is the largest
  if (typeof a === "number" && typeof b === "number") return a - b;
  return collator.compare(fmt(a), fmt(b));
}

// The table from the runs the page holds: the brushed view, and the provisional page.
function localRuns(cols) {
  let runs = [...view.runs.values()];
  if (view.stateFilter) runs = runs.filter((r) => r.state === view.stateFilter);
  if (view.brushed) runs = runs.filter((r) => view.brushed.has(r.id));
  if (view.textFilter) {
    runs = runs.filter((r) => cols.some((c) => fmt(c.get(r)).toLowerCase().includes(view.textFilter)) || r.id.includes(view.textFilter));
  }
  const col = cols.find((c) => c.key === view.sort.key) || cols[0];
  // as the server: a missing value sorts above every value (last ascending, first descending)
  runs.sort((a, b) => view.sort.dir * compare(col.get(a), col.get(b)));
  return runs;
}

// What the table shows: [runs of this page, runs matching in all].
function currentPage(cols) {
  if (view.brushed || table.rows === null) {
    const runs = localRuns(cols);
    return [runs.slice(view.page * PAGE_SIZE, (view.page + 1) * PAGE_SIZE), runs.length];
  }
  // the stream's newer copy of a row when it has one
  return [table.rows.map((r) => view.runs.get(r.id) || r), table.total];
}

async function fetchPage(path) {
  // api() of common.js returns the body only; the page also needs the X-Total-Count header
  const response = await fetch(API + path, { headers: { "X-Hypersweep-Request": "dashboard" } });
  if (response.status === 401) {
    window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    throw new ApiError(401, "not logged in");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body && body.message ? body.message : `HTTP ${response.status}`);
  return { rows: body, total: Number(response.headers.get("X-Total-Count")) };
}

// Ask the server for the table's current page.
async function loadPage() {
  if (view.brushed) return drawTable();
  const col = columns().find((c) => c.key === view.sort.key) || columns()[0];
  const query = new URLSearchParams({
    offset: String(view.page * PAGE_SIZE),
    limit: String(PAGE_SIZE),
    sort: col.sort,
    order: view.sort.dir > 0 ? "asc" : "desc",
  });
  if (view.stateFilter) query.set("state", view.stateFilter);
  if (view.textFilter) query.set("filter", view.textFilter);
  const seq = ++table.seq;
  try {
    const page = await fetchPage(`/sweeps/${encodeURIComponent(sweepId)}/runs?${query}`);
    if (seq !== table.seq) return;
    const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
    if (view.page > pages - 1) {
      // the runs shrank under this page (a filter, a deleted run): show the last one
      view.page = pages - 1;
      return loadPage();
    }
    table.rows = page.rows;
    table.total = page.total;
    table.error = null;
  } catch (error) {
    if (seq !== table.seq) return;
    table.error = error.message;
  }
  drawTable();
}

const reloadPage = throttle(loadPage, 2000);

// A change of the table's sort, filters or page: drawn at once, then from the server.
function tableChanged() {
  table.seq += 1; // an answer to the previous question is stale now
  table.rows = null;
  drawTable();
  loadPage();
}

let textTimer = null;

function setTextFilter(text) {
  view.textFilter = text.toLowerCase();
  view.page = 0;
  clearTimeout(textTimer);
  // drawn at once from what the page holds; the server is asked once typing pauses
  table.rows = null;
  table.seq += 1;
  drawTable();
  textTimer = setTimeout(loadPage, 250);
}

function drawTable() {
  const cols = columns();
  const [shown, total] = currentPage(cols);
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  if (view.brushed || table.rows === null) view.page = Math.min(view.page, pages - 1);
  const head = el(
    "tr",
    {},
    cols.map((c) =>
      el(
        "th",
        {
          class: "sortable" + (view.sort.key === c.key ? (view.sort.dir > 0 ? " sorted-asc" : " sorted-desc") : ""),
          "data-key": c.key,
          onclick: () => {
            view.sort = { key: c.key, dir: view.sort.key === c.key ? -view.sort.dir : 1 };
            view.page = 0;
            tableChanged();
          },
        },
        c.title,
      ),
    ),
  );
  const rows = shown.map((run) =>
    el(
      "tr",
      { "data-run": run.id, "data-state": run.state },
      cols.map((c) => {
        const value = c.get(run);
        if (c.key === "name")
          return el(
            "td",
            {},
            el("a", { href: `/runs/${encodeURIComponent(run.id)}` }, run.name),
            run.retry_of ? el("span", { class: "reason", title: `re-run of ${run.retry_of}` }, ` attempt ${run.attempt}`) : null,
          );
        if (c.key === "state") {
          return el("td", {}, badge(run.state), run.stopped ? el("span", { class: "reason", title: run.stop_reason || "" }, stopNote(run)) : null);
        }
        if (c.key === "created_at") return el("td", {}, fmtTime(value));
        if (c.key === "agent") return el("td", { class: "agent", title: run.agent_id || "" }, fmt(value));
        return el("td", { class: typeof value === "number" ? "num" : null, title: fmt(value) }, fmt(value));
      }),
    ),
  );
  document.getElementById("runs").replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
  if (!shown.length) {
    document.querySelector("#runs tbody").append(el("tr", {}, el("td", { colspan: cols.length, class: "muted" }, view.runs.size ? "No run matches the filters." : "No runs yet.")));
  }
  const turn = (delta) => () => {
    view.page += delta;
    tableChanged();
  };
  document.getElementById("pager").replaceChildren(
    el("button", { type: "button", id: "page-prev", disabled: view.page === 0, onclick: turn(-1) }, "‹ prev"),
    el("span", { id: "page-info" }, `page ${view.page + 1} of ${pages} (${total} runs)`),
    el("button", { type: "button", id: "page-next", disabled: view.page >= pages - 1, onclick: turn(1) }, "next ›"),
    // replaceChildren would write a null as the text "null"
    ...(table.error ? [el("span", { class: "error" }, ` ${table.error}`)] : []),
  );
  document.getElementById("brush-note").textContent = view.brushed ? `(${view.brushed.size} runs inside the parallel coordinates' brushed ranges)` : "";
  refreshCurves(shown);
}

async function loadAgents() {
  try {
    const list = await api(`/sweeps/${encodeURIComponent(sweepId)}/agents`);
    agents.clear();
    for (const agent of list) agents.set(agent.id, agent);
  } catch (_) {
    return; // the column falls back to each run's host
  }
  drawTable();
}

const reloadAgents = throttle(loadAgents, 5000);

// -- charts -------------------------------------------------------------------------------------

function scoredRuns() {
  const metric = metricOf(view.sweep.config);
  if (!metric) return { metric: null, runs: [] };
  const runs = [...view.runs.values()].filter((r) => r.state === "finished" && finiteNumber(r.summary[metric.name]));
  return { metric, runs };
}

// Above this many finished runs the parallel coordinates draw the best ones by the metric, until
// "show all" is clicked: under software WebGL (no GPU) each line costs 0.1-0.3 ms of the page's
// main thread on top of ~1 s for the chart itself (5,000 runs: 1.5-2 s, 1,000: 1-1.2 s, on a
// loaded 2-core machine), and thousands of lines are one blur anyway.
const PARCOORDS_BEST = 1000;
let parcoordsAll = false;
let parcoordsRuns = []; // every finished run with a value of the metric, drawn or not
let parcoordsValues = []; // [axis][i]: the axis's value of parcoordsRuns[i]
// The parallel coordinates' WebGL canvases at the screen's pixel ratio (Plotly accepts 1 to 4).
const GL_PIXEL_RATIO = Math.min(4, Math.max(1, window.devicePixelRatio || 1));

// Whether WebGL is drawn in software (no GPU: SwiftShader, llvmpipe), asked once.
let softwareGL = null;

function isSoftwareGL() {
  if (softwareGL !== null) return softwareGL;
  softwareGL = false;
  try {
    const gl = document.createElement("canvas").getContext("webgl");
    if (gl) {
      const info = gl.getExtension("WEBGL_debug_renderer_info");
      const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
      softwareGL = /swiftshader|llvmpipe|softpipe|software/i.test(renderer);
      const lose = gl.getExtension("WEBGL_lose_context");
      if (lose) lose.loseContext();
    }
  } catch (_) {
    /* no WebGL: Plotly says so in the chart */
  }
  return softwareGL;
}

// Runs ``draw`` (a Plotly call on ``node``); in software WebGL, the WebGL canvases it makes in
// ``node`` have no multisampling (antialias), which Plotly always asks for the parallel
// coordinates' line layers. A software renderer pays for it on every line: at 5,000 runs it is
// about a quarter of the chart's drawing time, for edges a pixel wide that look the same
// among thousands of lines.
function withSoftwareGL(node, draw) {
  if (!isSoftwareGL()) return draw();
  const proto = HTMLCanvasElement.prototype;
  const getContext = proto.getContext;
  proto.getContext = function (type, attributes) {
    if (/webgl/.test(type) && node.contains(this)) attributes = { ...(attributes || {}), antialias: false };
    return getContext.call(this, type, attributes);
  };
  try {
    return draw();
  } finally {
    proto.getContext = getContext;
  }
}

const parcoordsLayout = () => ({ ...PLOT_LAYOUT, margin: { l: 60, r: 60, t: 50, b: 30 } });
// Plotly draws the WebGL layers at twice the layout's size by default (for image export); at
// the screen's own pixel ratio the lines are as sharp, and without a GPU (software WebGL) the
// chart of 5,000 runs is drawn in about half the time.
const parcoordsConfig = () => ({ ...PLOT_CONFIG, plotGlPixelRatio: GL_PIXEL_RATIO });

// The indexes of the runs to draw: all of them, or the best PARCOORDS_BEST by the metric, in
// creation order as the whole chart draws them (a later line is drawn over an earlier one).
function parcoordsShown(ys, goal) {
  const all = ys.map((_, i) => i);
  if (parcoordsAll || ys.length <= PARCOORDS_BEST) return all;
  const sign = goal === "maximize" ? -1 : 1;
  const best = all.sort((a, b) => sign * (ys[a] - ys[b]) || a - b).slice(0, PARCOORDS_BEST);
  return best.sort((a, b) => a - b);
}

function drawParcoordsNote(shown, total, metric) {
  const note = document.getElementById("parcoords-note");
  if (total <= PARCOORDS_BEST) {
    note.hidden = true;
    return note.replaceChildren();
  }
  const count = (n) => n.toLocaleString("en-US");
  const toggle = (all, text) =>
    el("button", { type: "button", id: "parcoords-toggle", onclick: () => { parcoordsAll = all; drawParcoords(); } }, text);
  note.hidden = false;
  if (shown < total) {
    note.dataset.best = String(shown);
    note.replaceChildren(
      `best ${count(shown)} of ${count(total)} finished runs by ${metric.name} (${metric.goal}); brushing selects among all of them `,
      toggle(true, "show all"),
    );
  } else {
    delete note.dataset.best;
    note.replaceChildren(`all ${count(total)} finished runs `, toggle(false, `show the best ${count(PARCOORDS_BEST)}`));
  }
}

function drawParcoords() {
  if (!chartsUp) return;
  const node = document.getElementById("parcoords");
  const { metric, runs } = scoredRuns();
  if (!metric || !runs.length) drawParcoordsNote(0, 0, metric);
  if (!metric) return emptyChart(node, "The sweep has no metric, so there is nothing to colour the lines by.");
  if (!runs.length) return emptyChart(node, `No finished run has a value of ${metric.name} yet; each one will appear here as a line.`);
  const flat = runs.map((r) => flatten(r.params));
  // every axis from every run, so that the best runs' chart and the whole one share their axes
  // and a brushed range means the same runs in both
  const axes = paramNames().map((name) => {
    const values = flat.map((p) => p[name]);
    if (values.every(finiteNumber)) return { label: name, values };
    // Categorical (or mixed, list, dict): one tick per distinct value, shown as text.
    const text = (v) => (v === undefined ? "(missing)" : fmt(v));
    const labels = [...new Set(values.map(text))].sort();
    const index = new Map(labels.map((label, i) => [label, i]));
    return { label: name, values: values.map((v) => index.get(text(v))), tickvals: labels.map((_, i) => i), ticktext: labels };
  });
  const ys = runs.map((r) => r.summary[metric.name]);
  axes.push({ label: metric.name, values: ys });
  const shown = parcoordsShown(ys, metric.goal);
  const some = shown.length < runs.length;
  const extent = (values) => {
    let [lo, hi] = [Infinity, -Infinity];
    for (const v of values) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    return [lo, hi];
  };
  // A brush drawn before this redraw (a live update, "show all") stays on its axis, unless the
  // axis's categories changed under it (its range is in their indexes).
  const ticks = (d) => JSON.stringify(d.ticktext || null);
  const before = new Map(((node.data && node.data[0] && node.data[0].dimensions) || []).filter((d) => d.constraintrange).map((d) => [d.label, d]));
  const dims = axes.map((axis) => {
    const dim = { ...axis, values: some ? shown.map((i) => axis.values[i]) : axis.values };
    if (some) {
      const [lo, hi] = extent(axis.tickvals || axis.values);
      if (lo < hi) dim.range = [lo, hi];
    }
    const old = before.get(axis.label);
    if (old && ticks(old) === ticks(axis)) dim.constraintrange = old.constraintrange;
    return dim;
  });
  const line = { color: some ? shown.map((i) => ys[i]) : ys, colorscale: "Viridis", reversescale: metric.goal === "minimize", showscale: true };
  if (some) {
    // the best runs' colours on the scale of all of them
    [line.cmin, line.cmax] = extent(ys);
  }
  parcoordsRuns = runs;
  parcoordsValues = axes.map((axis) => axis.values);
  clearEmptyChart(node);
  drawParcoordsNote(shown.length, runs.length, metric);
  withSoftwareGL(node, () =>
    Plotly.react(
      node,
      [{ type: "parcoords", line, dimensions: dims }],
      parcoordsLayout(),
      parcoordsConfig(),
    ),
  );
  if (!node.dataset.brushing) {
    node.dataset.brushing = "1";
    node.on("plotly_restyle", applyBrush);
  }
  if (view.brushed) {
    // runs added or changed since the brush: the table shows who is inside it now
    const brushed = brushedRuns();
    const same = brushed && brushed.size === view.brushed.size && [...brushed].every((id) => view.brushed.has(id));
    if (!same) {
      view.brushed = brushed;
      drawTable();
    }
  }
}

// Brushing an axis keeps only the runs inside every brushed range in the table: every finished
// run with a metric value, drawn or not (the best runs' chart draws some of them).
function applyBrush() {
  view.brushed = brushedRuns();
  view.page = 0;
  tableChanged();
}

// The ids of the runs inside every brushed range, or null when no axis is brushed.
function brushedRuns() {
  const node = document.getElementById("parcoords");
  const dims = (node.data && node.data[0] && node.data[0].dimensions) || [];
  if (!dims.some((d) => d.constraintrange)) return null;
  const inside = (value, range) => {
    const list = Array.isArray(range[0]) ? range : [range];
    return list.some(([lo, hi]) => value >= lo && value <= hi);
  };
  return new Set(
    parcoordsRuns.filter((_, i) => dims.every((d, k) => !d.constraintrange || inside(parcoordsValues[k][i], d.constraintrange))).map((r) => r.id),
  );
}

let scatterRuns = [];

function drawScatter() {
  if (!chartsUp) return;
  const node = document.getElementById("scatter");
  const metric = metricOf(view.sweep.config);
  if (!metric) return emptyChart(node, "The sweep has no metric to plot.");
  const runs = [...view.runs.values()].filter((r) => finiteNumber(r.summary[metric.name]));
  if (!runs.length) return emptyChart(node, `No run has reported ${metric.name} yet.`);
  runs.sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
  const better = metric.goal === "maximize" ? Math.max : Math.min;
  let best = null;
  const bestLine = runs.map((r) => (best = best === null ? r.summary[metric.name] : better(best, r.summary[metric.name])));
  clearEmptyChart(node);
  Plotly.react(
    node,
    [
      {
        type: "scatter", mode: "markers", name: "runs",
        x: runs.map((r) => r.created_at), y: runs.map((r) => r.summary[metric.name]),
        text: runs.map((r) => `${r.name} (${r.state}${r.stopped ? ", stopped" : ""})`),
        marker: { color: runs.map((r) => (r.stopped ? "#9a6700" : r.state === "finished" ? "#1a7f37" : "#0969da")), size: 8 },
      },
      { type: "scatter", mode: "lines", name: "best so far", x: runs.map((r) => r.created_at), y: bestLine, line: { shape: "hv", color: "#cf222e" } },
    ],
    { ...PLOT_LAYOUT, margin: { l: 55, r: 20, t: 30, b: 40 }, xaxis: { title: { text: "" } }, yaxis: { title: { text: metric.name } }, legend: { orientation: "h", y: 1.12 } },
    PLOT_CONFIG,
  );
  scatterRuns = runs;
  if (!node.dataset.clicks) {
    node.dataset.clicks = "1";
    node.on("plotly_click", (event) => {
      const point = event.points && event.points[0];
      if (point && point.curveNumber === 0) location.href = `/runs/${encodeURIComponent(scatterRuns[point.pointIndex].id)}`;
    });
  }
}

function historyKeys() {
  const keys = new Set();
  for (const run of view.runs.values()) {
    for (const [key, value] of Object.entries(run.summary)) if (finiteNumber(value) && !key.startsWith("_")) keys.add(key);
  }
  return [...keys].sort();
}

function drawKeySelect() {
  const select = document.getElementById("curve-key");
  const keys = historyKeys();
  const metric = metricOf(view.sweep.config);
  if (!view.curveKey) view.curveKey = metric && keys.includes(metric.name) ? metric.name : keys[0] || null;
  if (view.curveKey && !keys.includes(view.curveKey)) keys.push(view.curveKey);
  if (select.options.length === keys.length) return;
  select.replaceChildren(...keys.map((k) => el("option", { value: k, selected: k === view.curveKey }, k)));
}

function setCurveKey(key) {
  view.curveKey = key;
  view.curves.clear();
  drawTable();
}

let curveRunIds = [];
// Set once the first snapshot's charts are drawn (after the table has painted): until then the
// charts wait, and so do the table page's curves, which neither the table nor the charts need.
let chartsUp = false;

async function refreshCurves(shown) {
  curveRunIds = shown.slice(0, CURVE_RUNS).map((r) => r.id);
  await loadCurves();
}

async function loadCurves() {
  if (!chartsUp) return;
  const key = view.curveKey;
  if (!key) return drawCurves();
  const missing = curveRunIds.filter((id) => !view.curves.has(id));
  await Promise.all(
    missing.map(async (id) => {
      try {
        const rows = await api(`/runs/${encodeURIComponent(id)}/history?keys=${encodeURIComponent(key)}&samples=${CURVE_SAMPLES}`);
        if (key === view.curveKey) view.curves.set(id, rows.map((row) => [row.step, row.metrics[key]]));
      } catch (_) {
        /* a run that vanished has no curve */
      }
    }),
  );
  drawCurves();
}

function drawCurves() {
  if (!chartsUp) return;
  const node = document.getElementById("curves");
  const key = view.curveKey;
  if (!key) return emptyChart(node, "No run has logged a numeric value yet.");
  const traces = curveRunIds
    .filter((id) => view.curves.has(id) && view.curves.get(id).length)
    .map((id) => {
      const points = view.curves.get(id);
      return { type: lineType(points.length), mode: "lines", name: view.runs.get(id).name, x: points.map((p) => p[0]), y: points.map((p) => p[1]) };
    });
  if (!traces.length) return emptyChart(node, `No run on this table page has logged ${key}.`);
  clearEmptyChart(node);
  Plotly.react(node, traces, { ...PLOT_LAYOUT, xaxis: { title: { text: "step" } }, yaxis: { title: { text: key } }, showlegend: traces.length <= 12 }, PLOT_CONFIG);
}

async function drawImportance() {
  const node = document.getElementById("importance");
  let result;
  try {
    result = await api(`/sweeps/${encodeURIComponent(sweepId)}/importance`);
  } catch (error) {
    node.replaceChildren(el("p", { class: "error" }, error.message));
    return;
  }
  const parts = [];
  if (result.message) parts.push(el("p", { class: "muted", id: "importance-message" }, result.message));
  if (result.params.length) {
    const bar = (value, cls) => el("span", { class: `bar ${cls}`, style: `width:${Math.round(Math.abs(value || 0) * 60)}px` });
    const rows = [];
    for (const p of result.params) {
      rows.push(
        el(
          "tr",
          { "data-param": p.name },
          el("td", {}, p.name),
          el("td", { class: "num" }, p.importance === null ? "—" : fmt(p.importance), " ", bar(p.importance, "imp")),
          el("td", { class: "num" }, p.correlation === null ? "—" : fmt(p.correlation), " ", p.correlation === null ? null : bar(p.correlation, p.correlation >= 0 ? "pos" : "neg")),
        ),
      );
      for (const level of p.levels) {
        rows.push(
          el(
            "tr",
            { class: "level" },
            el("td", { class: "muted" }, `  ${p.name} = ${level.value}`),
            el("td", {}, ""),
            el("td", { class: "num" }, level.correlation === null ? "—" : fmt(level.correlation), " ", level.correlation === null ? null : bar(level.correlation, level.correlation >= 0 ? "pos" : "neg")),
          ),
        );
      }
    }
    parts.push(
      el("p", { class: "muted" }, `${result.runs_used} finished runs; importance from a random forest, correlation with ${result.metric}.`),
      el(
        "table",
        { class: "data importance" },
        el("thead", {}, el("tr", {}, el("th", {}, "Parameter"), el("th", {}, "Importance"), el("th", {}, "Correlation"))),
        el("tbody", {}, rows),
      ),
    );
  }
  node.replaceChildren(...parts);
}

// For bayes: what the model predicted for each point it chose, beside the value the run reached;
// runs still going are the model's forecast for the next points.
async function drawPredictions() {
  const node = document.getElementById("predictions");
  if (!node || !chartsUp) return;
  const message = document.getElementById("predictions-message");
  let result;
  try {
    result = await api(`/sweeps/${encodeURIComponent(sweepId)}/predictions?limit=200`);
  } catch (error) {
    message.textContent = error.message;
    return;
  }
  if (!result.points.length) {
    message.textContent = result.message || "";
    return emptyChart(node, "No prediction yet.");
  }
  const points = result.points;
  const next = points.filter((p) => !TERMINAL.has(p.state));
  message.textContent =
    `${result.runs_with_prediction} runs chosen by the model` +
    (next.length ? `; ${next.length} still running: the model's forecast for them is marked "next".` : ".");
  const label = (p) => `${p.name} (${p.state})<br>predicted ${fmt(p.predicted)} ± ${p.std === null ? "?" : fmt(p.std)}` + (p.actual === null ? "" : `<br>reached ${fmt(p.actual)}`);
  const trace = (subset, name, color) => ({
    type: "scatter", mode: "markers", name,
    x: subset.map((p) => p.created_at), y: subset.map((p) => p.predicted),
    error_y: { type: "data", array: subset.map((p) => p.std || 0), visible: true, color },
    marker: { color, size: 7, symbol: "diamond" },
    text: subset.map(label), hoverinfo: "text",
    customdata: subset.map((p) => p.run_id),
  });
  const done = points.filter((p) => TERMINAL.has(p.state));
  const reached = points.filter((p) => p.actual !== null);
  clearEmptyChart(node);
  Plotly.react(
    node,
    [
      trace(done, "predicted", "#8250df"),
      trace(next, "next (predicted)", "#bf3989"),
      {
        type: "scatter", mode: "markers", name: "reached",
        x: reached.map((p) => p.created_at), y: reached.map((p) => p.actual),
        marker: { color: "#1a7f37", size: 7 }, text: reached.map(label), hoverinfo: "text",
        customdata: reached.map((p) => p.run_id),
      },
    ],
    { ...PLOT_LAYOUT, margin: { l: 55, r: 20, t: 30, b: 40 }, yaxis: { title: { text: result.metric || "" } }, legend: { orientation: "h", y: 1.12 } },
    PLOT_CONFIG,
  );
  if (!node.dataset.clicks) {
    node.dataset.clicks = "1";
    node.on("plotly_click", (event) => {
      const point = event.points && event.points[0];
      if (point && point.customdata) location.href = `/runs/${encodeURIComponent(point.customdata)}`;
    });
  }
}

const drawCharts = throttle(() => {
  drawParcoords();
  drawScatter();
  drawKeySelect();
}, 1000);
const refreshImportance = throttle(drawImportance, 10000);
const refreshPredictions = throttle(drawPredictions, 3000);

// -- live updates -------------------------------------------------------------------------------

function onSnapshot(data) {
  const first = view.sweep === null;
  view.sweep = data.sweep;
  view.runs = new Map(data.runs.map((r) => [r.id, r]));
  if (first) layout();
  else drawHeader();
  view.curves.clear();
  drawKeySelect();
  if (chartsUp) {
    tableChanged();
    loadFromServer();
    return drawAllCharts();
  }
  // First the table from the snapshot; then, after a painted frame, the parallel coordinates
  // (seconds for thousands of runs under software WebGL) in a task of their own; then the
  // rest. The server's own page of the table, the agents and the importance (a random forest
  // over every finished run) are asked for only then: their work on the server would compete
  // with the browser's for the CPU while it draws (two cores here).
  table.seq += 1;
  table.rows = null;
  drawTable();
  if (chartsPending) return;
  chartsPending = true;
  afterPaint().then(() => {
    chartsUp = true;
    drawAllCharts(() => {
      loadPage();
      loadFromServer();
    });
  });
}

let chartsPending = false;

function loadFromServer() {
  loadAgents();
  drawImportance();
}

// The parallel coordinates now; the other charts, and then ``more``, after a painted frame.
function drawAllCharts(more) {
  drawParcoords();
  afterPaint().then(() => {
    drawScatter();
    drawPredictions();
    loadCurves();
    if (more) more();
  });
}

function onDelta(data) {
  if (data.sweep) {
    view.sweep = data.sweep;
    drawHeader();
  }
  let finished = false;
  let newAgent = false;
  let newRun = false;
  for (const run of data.runs) {
    const before = view.runs.get(run.id);
    if (!before) newRun = true;
    if (TERMINAL.has(run.state) && (!before || before.state !== run.state)) finished = true;
    if (run.agent_id && !agents.has(run.agent_id)) newAgent = true;
    view.runs.set(run.id, run);
  }
  if (newAgent) reloadAgents();
  for (const chunk of data.history) {
    const points = view.curves.get(chunk.run_id);
    if (!points) continue;
    for (const row of chunk.rows) {
      // a curve fetched while these rows were on their way holds them already
      const last = points.length ? points[points.length - 1][0] : -1;
      if (view.curveKey in row.metrics && row.step > last) points.push([row.step, row.metrics[view.curveKey]]);
    }
  }
  if (data.runs.length) {
    // rows on this page change in place now; the server says later whether runs moved
    drawTable();
    if (!view.brushed) reloadPage();
  } else if (data.history.length) drawCurves();
  drawCharts();
  if (finished) refreshImportance();
  if (finished || newRun) refreshPredictions();
}

async function start() {
  // The stream opens at once (plotly.min.js runs only after the table is drawn); the request
  // beside it only tells an unknown sweep (404) from other failures, which the stream cannot.
  const source = watchSweep(sweepId, { snapshot: onSnapshot, delta: onDelta });
  try {
    await api(`/sweeps/${sweepPath}`);
  } catch (error) {
    source.close();
    if (error.status === 404) return showNotFound("Sweep", error.message);
    return showError(error);
  }
}

start();
