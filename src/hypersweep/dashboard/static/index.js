"use strict";
// The projects and sweeps page: every sweep with its state, method, metric, runs and best value.

const REFRESH_MS = 5000;

function runCounts(counts) {
  const parts = Object.entries(counts || {})
    .filter(([, count]) => count > 0)
    .map(([state, count]) => el("span", { class: `state-${state}` }, `${count} ${state}`));
  return parts.length ? el("span", { class: "counts" }, parts) : el("span", { class: "muted" }, "no runs");
}

function sweepRow(sweep) {
  const metric = metricOf(sweep.config);
  const link = `/sweeps/${encodeURIComponent(sweep.id)}`;
  return el(
    "tr",
    { "data-sweep": sweep.id },
    el("td", {}, el("a", { href: link }, sweepTitle(sweep))),
    el("td", {}, el("code", {}, sweep.id)),
    el("td", {}, badge(sweep.state)),
    el("td", {}, String(sweep.config.method || "")),
    el("td", {}, metric ? `${metric.name} (${metric.goal})` : el("span", { class: "muted" }, "none")),
    el("td", {}, runCounts(sweep.run_counts)),
    el(
      "td",
      { class: "num" },
      sweep.best
        ? el("a", { href: `/runs/${encodeURIComponent(sweep.best.run_id)}` }, fmt(sweep.best.value))
        : "",
    ),
    el("td", {}, fmtTime(sweep.created_at)),
  );
}

function render(sweeps) {
  const main = document.getElementById("main");
  const byProject = new Map();
  for (const sweep of sweeps) {
    if (!byProject.has(sweep.project)) byProject.set(sweep.project, []);
    byProject.get(sweep.project).push(sweep);
  }
  const sections = [el("h1", {}, "Projects and sweeps")];
  if (!sweeps.length) {
    sections.push(
      el("p", { class: "muted" }, "No sweeps yet. Create one with `hypersweep sweep config.yaml`."),
    );
  }
  for (const [project, items] of [...byProject.entries()].sort()) {
    items.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    sections.push(
      el("h2", {}, `Project ${project}`),
      el(
        "div",
        { class: "scroll" },
        el(
          "table",
          { class: "data sweeps", "data-project": project },
          el(
            "thead",
            {},
            el("tr", {}, ["Sweep", "ID", "State", "Method", "Metric", "Runs", "Best", "Created"].map((h) => el("th", {}, h))),
          ),
          el("tbody", {}, items.map(sweepRow)),
        ),
      ),
    );
  }
  main.replaceChildren(...sections);
}

async function refresh() {
  try {
    render(await api("/sweeps"));
    setLive(true);
  } catch (error) {
    setLive(false);
    showError(error);
  }
}

setCrumbs("sweeps");
refresh();
setInterval(refresh, REFRESH_MS);
