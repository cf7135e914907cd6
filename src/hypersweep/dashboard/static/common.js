"use strict";
// Helpers shared by the three pages. Everything they show comes from the public /api/v1 API.

const API = "/api/v1";
const TERMINAL = new Set(["finished", "failed", "crashed", "killed", "preempted"]);

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options) {
  // The header marks the request as the dashboard's own: the server refuses cookie-authenticated
  // writes without it, which a cross-site page cannot add.
  const opts = { ...(options || {}) };
  opts.headers = { ...(opts.headers || {}), "X-Hypersweep-Request": "dashboard" };
  const response = await fetch(API + path, opts);
  if (response.status === 401) {
    // the session expired or was revoked: back to the login page, then here again
    window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    throw new ApiError(401, "not logged in");
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (_) {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.message ? body.message : `HTTP ${response.status}`;
    throw new ApiError(response.status, message);
  }
  return body;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// A value as text: numbers compactly, null (how the API sends NaN and infinity) as "NaN/null",
// lists and dicts as JSON, so nothing is dropped.
function fmt(value) {
  if (value === undefined) return "";
  if (value === null) return "null";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(4);
    return String(Number(value.toPrecision(6)));
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function fmtTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

function finiteNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

// Why a run was stopped. A run the rule flagged as its program was already ending (judged at
// its last iteration) finished before the order reached it: its results are whole.
function stopNote(run) {
  const why = run.stop_reason || "by the sweep";
  return run.state === "finished" ? `flagged to stop, but it finished first: ${why}` : `stopped: ${why}`;
}

function badge(state) {
  return el("span", { class: `badge state-${state}` }, state);
}

// {"opt": {"lr": 1}} -> {"opt.lr": 1}, as the sweep config names nested parameters.
function flatten(params, prefix) {
  const out = {};
  for (const [key, value] of Object.entries(params || {})) {
    const name = (prefix || "") + key;
    if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
      Object.assign(out, flatten(value, name + "."));
    } else {
      out[name] = value;
    }
  }
  return out;
}

function metricOf(config) {
  const metric = config && config.metric;
  if (!metric || typeof metric.name !== "string") return null;
  return { name: metric.name, goal: metric.goal === "maximize" ? "maximize" : "minimize" };
}

function sweepTitle(sweep) {
  return sweep.name || sweep.id;
}

function setCrumbs(...parts) {
  const crumbs = document.getElementById("crumbs");
  crumbs.replaceChildren(...parts.map((part) => (typeof part === "string" ? el("span", {}, part) : part)));
}

function setLive(on) {
  const live = document.getElementById("live");
  live.className = "live " + (on ? "on" : "off");
  live.textContent = on ? "live" : "reconnecting";
}

// The page for an unknown id: says what was not found and links back, never a blank page.
function showNotFound(what, message) {
  document.title = `Not found · hypersweep`;
  document.getElementById("main").replaceChildren(
    el(
      "div",
      { class: "notfound", id: "not-found" },
      el("h1", {}, `${what} not found`),
      el("p", {}, message),
      el("p", {}, el("a", { href: "/" }, "← Back to all sweeps")),
    ),
  );
}

function showError(error) {
  let node = document.getElementById("page-error");
  if (!node) {
    node = el("p", { class: "error", id: "page-error" });
    document.getElementById("main").prepend(node);
  }
  node.textContent = String(error.message || error);
}

// A small YAML writer for the sweep config (plain dicts, lists and scalars).
function toYaml(value, indent) {
  const pad = "  ".repeat(indent || 0);
  const scalar = (v) => {
    if (v === null) return "null";
    if (typeof v === "string") {
      return /^[\w.\-/]+$/.test(v) && !/^(true|false|null|yes|no|on|off|[-+.\d].*)$/i.test(v)
        ? v
        : JSON.stringify(v);
    }
    return String(v);
  };
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    if (value.every((item) => item === null || typeof item !== "object")) {
      return "[" + value.map(scalar).join(", ") + "]";
    }
    return value
      .map((item) => `\n${pad}- ` + toYaml(item, (indent || 0) + 1).replace(/^\n\s*/, ""))
      .join("");
  }
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (!keys.length) return "{}";
    return keys
      .map((key) => {
        const item = value[key];
        const nested = item && typeof item === "object" && !(Array.isArray(item) && item.every((i) => i === null || typeof i !== "object"));
        const text = toYaml(item, (indent || 0) + 1);
        return `\n${pad}${key}:` + (nested && text !== "{}" && text !== "[]" ? text : " " + text);
      })
      .join("");
  }
  return scalar(value);
}

// The sweep's server-sent events; handlers get the parsed snapshot and deltas. The browser's
// EventSource reconnects by itself, and each reconnection starts with a fresh snapshot.
function watchSweep(sweepId, handlers) {
  const source = new EventSource(`${API}/sweeps/${encodeURIComponent(sweepId)}/events`);
  source.addEventListener("open", () => setLive(true));
  source.addEventListener("error", () => setLive(false));
  source.addEventListener("snapshot", (event) => handlers.snapshot(JSON.parse(event.data)));
  source.addEventListener("delta", (event) => handlers.delta(JSON.parse(event.data)));
  source.addEventListener("gone", () => source.close());
  return source;
}

// Run ``fn`` at most once per ``ms``; calls in between are folded into one trailing call.
function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      fn();
    }, wait);
  };
}

// WebGL only where SVG would be slow: small charts stay crisp and need no GPU.
function lineType(points) {
  return points > 2000 ? "scattergl" : "scatter";
}

// Plotly, run on first call. The sweep page only preloads plotly.min.js (it downloads beside the
// page's data) and runs it after its table is drawn: running it is one task of 1-2 s on a busy
// machine, and the event stream's snapshot, arriving meanwhile, would wait for it to end.
let plotlyLoading = null;

function loadPlotly() {
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve) => {
      if (window.Plotly) return resolve();
      let tag = document.querySelector('script[src="/static/plotly.min.js"]');
      if (!tag) {
        tag = el("script", { src: "/static/plotly.min.js" });
        document.head.append(tag);
      }
      tag.addEventListener("load", () => resolve());
    });
  }
  return plotlyLoading;
}

// Resolves once the page has painted a frame and then Plotly is there: the table shows before
// the charts' long tasks (Plotly's own run first) start.
function afterPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))).then(loadPlotly);
}

const PLOT_CONFIG = { displaylogo: false, responsive: true };
const PLOT_LAYOUT = { margin: { l: 55, r: 20, t: 30, b: 45 }, font: { size: 12 } };

// Drops emptyChart's sentence before a chart is drawn in ``node``. Only the sentence: emptying
// the node of a chart drawn before would leave Plotly.react drawing into elements no longer on
// the page (a blank chart at the first live update).
function clearEmptyChart(node) {
  for (const child of node.querySelectorAll(":scope > .empty-chart")) child.remove();
}

function emptyChart(node, sentence) {
  if (window.Plotly) Plotly.purge(node);
  // purge drops the chart's event handlers; forget that they were attached
  for (const key of Object.keys(node.dataset)) delete node.dataset[key];
  node.replaceChildren(el("p", { class: "muted empty-chart" }, sentence));
}
