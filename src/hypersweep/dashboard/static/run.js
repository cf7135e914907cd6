"use strict";
// The run page: state, parameters, summary, a chart per logged key and the output's tail, kept
// live by the sweep's server-sent events (and the output polled while the run is alive).

const OUTPUT_LINES = 200;
const OUTPUT_POLL_MS = 2000;
// Points per chart: a longer run's history comes downsampled by the server (evenly by step,
// first and last row kept), so a run of a million steps does not ship a million rows.
const HISTORY_SAMPLES = 2000;

const runId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
// sampled: the rows are the server's sample of a longer history (their count is not the run's)
const page = { run: null, rows: [], sweep: null, sampled: false };

function layout() {
  const run = page.run;
  document.title = `${run.name} · hypersweep`;
  setCrumbs(
    el("a", { href: "/" }, "sweeps"), "/",
    el("a", { href: `/sweeps/${encodeURIComponent(run.sweep_id)}` }, page.sweep ? sweepTitle(page.sweep) : run.sweep_id), "/",
    el("span", {}, run.name),
  );
  document.getElementById("main").replaceChildren(
    el("h1", {}, run.name, " ", el("span", { id: "run-state" })),
    el(
      "div",
      { class: "grid" },
      el("div", { class: "panel" }, el("h2", {}, "Run"), el("div", { id: "facts" })),
      el("div", { class: "panel" }, el("h2", {}, "Parameters"), el("div", { id: "params" })),
      el("div", { class: "panel" }, el("h2", {}, "Summary"), el("div", { id: "summary" })),
      el("div", { class: "panel", id: "search-info-panel", hidden: true }, el("h2", {}, "Why this point"), el("div", { id: "search-info" })),
    ),
    el("h2", {}, "History"),
    el("div", { class: "grid", id: "charts" }),
    el("h2", {}, "Output (last ", String(OUTPUT_LINES), " lines)"),
    el("pre", { class: "output", id: "output" }, ""),
  );
}

function keyValueTable(id, values) {
  const entries = Object.entries(values).sort(([a], [b]) => a.localeCompare(b));
  const node = document.getElementById(id);
  if (!entries.length) return node.replaceChildren(el("p", { class: "muted" }, "none"));
  node.replaceChildren(
    el(
      "table",
      { class: "data" },
      el("tbody", {}, entries.map(([key, value]) => el("tr", {}, el("th", {}, key), el("td", { class: typeof value === "number" ? "num" : null, title: fmt(value) }, fmt(value))))),
    ),
  );
}

function drawRun() {
  const run = page.run;
  document.getElementById("run-state").replaceChildren(badge(run.state));
  const fact = (label, value) => [el("dt", {}, label), el("dd", {}, value === null || value === undefined || value === "" ? "—" : value)];
  document.getElementById("facts").replaceChildren(
    el(
      "dl",
      { class: "facts" },
      fact("ID", el("code", {}, run.id)),
      fact("State", run.state),
      fact("Exit code", run.exit_code === null ? null : String(run.exit_code)),
      fact("Stopped", run.stopped ? (run.state === "finished" ? stopNote(run) : `yes: ${run.stop_reason || "by the sweep"}`) : "no"),
      fact("Host", run.host),
      fact(
        "Attempt",
        run.retry_of
          ? el("span", {}, `${run.attempt}, re-run of `, el("a", { href: `/runs/${encodeURIComponent(run.retry_of)}` }, run.retry_of))
          : String(run.attempt || 1),
      ),
      fact("Tags", (run.tags || []).join(", ")),
      fact("Group", run.group),
      fact("Job type", run.job_type),
      fact("Notes", run.notes),
      fact("Created", fmtTime(run.created_at)),
      fact("Started", fmtTime(run.started_at)),
      fact("Ended", fmtTime(run.ended_at)),
      fact("History rows", page.sampled ? `at least ${HISTORY_SAMPLES} (charts show ${page.rows.length} evenly spaced)` : String(page.rows.length)),
    ),
  );
  keyValueTable("params", flatten(run.params));
  keyValueTable("summary", run.summary);
}

// One chart per logged key (numbers only; other values are in the summary table).
function drawCharts() {
  const charts = document.getElementById("charts");
  const keys = new Set();
  const logged = new Set();
  for (const row of page.rows) {
    for (const [key, value] of Object.entries(row.metrics)) {
      logged.add(key);
      if (typeof value === "number") keys.add(key);
    }
  }
  // A key logged only as NaN or infinity (stored as null) gets no chart: say so, not nothing.
  const valueless = [...logged].filter((key) => !keys.has(key) && page.rows.some((row) => row.metrics[key] === null)).sort();
  const note = valueless.length
    ? el("p", { class: "muted", id: "no-finite" }, `${valueless.join(", ")}: logged only as NaN or infinity (shown as null), so no chart.`)
    : null;
  if (!keys.size) {
    charts.replaceChildren(el("p", { class: "muted", id: "no-history" }, "The run has logged no numeric value yet; charts appear when it does."), ...(note ? [note] : []));
    return;
  }
  document.getElementById("no-history")?.remove();
  document.getElementById("no-finite")?.remove();
  if (note) charts.prepend(note);
  const sorted = [...keys].sort();
  const nodes = sorted.map((key) => {
    const id = "chart-" + key.replace(/[^\w-]/g, "_");
    let node = document.getElementById(id);
    if (!node) {
      node = el("div", { class: "chart small", id, "data-key": key });
      charts.append(el("div", { class: "panel" }, el("h2", {}, key), node));
    }
    return node;
  });
  // Drawn once every panel is in place: a chart sizes itself to its panel as it is drawn.
  sorted.forEach((key, index) => {
    const points = page.rows.filter((row) => key in row.metrics);
    Plotly.react(
      nodes[index],
      [{ type: lineType(points.length), mode: points.length > 1 ? "lines" : "markers", x: points.map((r) => r.step), y: points.map((r) => r.metrics[key]), name: key }],
      { ...PLOT_LAYOUT, margin: { l: 55, r: 15, t: 10, b: 40 }, xaxis: { title: { text: "step" } } },
      PLOT_CONFIG,
    );
  });
}

const redrawCharts = throttle(drawCharts, 1000);

async function loadHistory() {
  page.rows = await api(`/runs/${encodeURIComponent(runId)}/history?samples=${HISTORY_SAMPLES}`);
  page.sampled = page.rows.length >= HISTORY_SAMPLES;
  drawCharts();
  drawRun();
}

let outputTimer = null;

async function loadOutput() {
  try {
    const out = await api(`/runs/${encodeURIComponent(runId)}/output?tail=${OUTPUT_LINES}`);
    const node = document.getElementById("output");
    const atBottom = node.scrollTop + node.clientHeight >= node.scrollHeight - 5;
    node.textContent = out.text || "(no output)";
    if (atBottom) node.scrollTop = node.scrollHeight;
  } catch (_) {
    /* shown again on the next poll */
  }
  clearTimeout(outputTimer);
  if (!TERMINAL.has(page.run.state)) outputTimer = setTimeout(loadOutput, OUTPUT_POLL_MS);
}

function onSnapshot(data) {
  const first = page.sweep === null;
  page.sweep = data.sweep;
  if (first) {
    setCrumbs(
      el("a", { href: "/" }, "sweeps"), "/",
      el("a", { href: `/sweeps/${encodeURIComponent(page.run.sweep_id)}` }, sweepTitle(page.sweep)), "/",
      el("span", {}, page.run.name),
    );
  }
  const run = data.runs.find((r) => r.id === runId);
  if (run) page.run = run;
  drawRun();
  // A reconnection may have missed rows: read the history again.
  loadHistory();
}

function onDelta(data) {
  const run = data.runs.find((r) => r.id === runId);
  if (run) {
    const wasAlive = !TERMINAL.has(page.run.state);
    page.run = run;
    drawRun();
    if (wasAlive) loadOutput();
  }
  for (const chunk of data.history) {
    if (chunk.run_id !== runId) continue;
    if (chunk.start === page.rows.length || page.sampled) {
      // a sample grows by the new rows as they come: the live end of the curve stays exact
      const last = page.rows.length ? page.rows[page.rows.length - 1].step : -Infinity;
      page.rows.push(...(page.sampled ? chunk.rows.filter((row) => row.step > last) : chunk.rows));
      redrawCharts();
      drawRun();
    } else {
      loadHistory();
    }
  }
}

// What the search recorded when it chose the parameters (bayes: the model's prediction).
const SEARCH_INFO_LABELS = {
  phase: "Phase",
  predicted_metric: "Predicted metric",
  predicted_value_std_dev: "Predicted std. dev.",
  expected_improvement: "Expected improvement",
  success_probability: "Chance to beat the best",
};

async function loadSearchInfo() {
  let result;
  try {
    result = await api(`/runs/${encodeURIComponent(runId)}/search-info`);
  } catch (_) {
    return;
  }
  const info = result.search_info || {};
  const shown = {};
  for (const [key, label] of Object.entries(SEARCH_INFO_LABELS)) if (key in info) shown[label] = info[key];
  if (Array.isArray(info.warnings) && info.warnings.length) shown.Warnings = info.warnings.join("; ");
  if (!Object.keys(shown).length) return;
  document.getElementById("search-info-panel").hidden = false;
  keyValueTable("search-info", shown);
}

async function start() {
  try {
    page.run = await api(`/runs/${encodeURIComponent(runId)}`);
  } catch (error) {
    if (error.status === 404) return showNotFound("Run", error.message);
    return showError(error);
  }
  layout();
  drawRun();
  loadOutput();
  loadSearchInfo();
  watchSweep(page.run.sweep_id, { snapshot: onSnapshot, delta: onDelta });
}

start();
