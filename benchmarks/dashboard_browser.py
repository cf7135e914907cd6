"""The sweep page in a real browser at scale (run by hand, never in tests).

RUNS finished runs (default 5,000; four parameters, STEPS history rows of ``loss`` each, default
400, so 2,000,000 rows; fixed seed) are loaded into a hypersweep SQLite data dir through the
store (``load_hypersweep`` of ``benchmarks/dashboard.py``, as ``POST /sweeps/{id}/runs`` would,
without the HTTP round trips). ``--data-dir`` keeps it; with ``--reuse`` a later measurement
uses the loaded sweep instead of loading again. Then ``hypersweep server --no-auth`` is started
on a free loopback port and Debian's Chromium (``/usr/bin/chromium``, headless, driven by
Playwright for Python) opens ``/sweeps/{id}`` REPS times, each in a fresh browser context
(cold: empty cache) and then once more in the same context (warm: a new tab, cached assets).
For each load:

- **Table drawn**: ms from navigation start (``performance.timeOrigin``) until the first row
  ``#runs tbody tr[data-run]`` exists, checked on every animation frame by an init script.
- **Parallel coordinates drawn**: ms until ``#parcoords.js-plotly-plot`` exists and its
  trace's first dimension holds the lines the page means to draw: one per finished run, or,
  when the page says it draws the best runs (``#parcoords-note[data-best]``, above 1,000
  finished runs), the best 1,000 (the report says which).
- **Bytes until both are drawn**, from the DevTools protocol (``Network.dataReceived`` /
  ``loadingFinished`` per request, up to the moment measured, so the long-lived event stream
  counts only what had arrived): static assets (HTML, CSS, JS incl. the gzipped
  ``plotly.min.js``) and API data (``/api/v1/...`` incl. the ``snapshot`` event; of which the
  table page's curves, ``/runs/{id}/history``, which the page fetches alongside), on the wire
  (encoded, with headers; the still open stream counts its data, the API being uncompressed)
  and decoded; and the number of requests. Checked against 5 MB both as 10^6 and 2^20 bytes.
- **Where the time goes**: per request, when it was sent, answered and done (ms from navigation
  start); when ``window.Plotly`` was set (``plotly.min.js`` parsed and run), DOMContentLoaded,
  the ``snapshot`` event's arrival in the page and its handler's duration, with its
  ``JSON.parse`` and each ``Plotly.react`` timed, and the page's long tasks.
- **Server**: CPU seconds the server process spent during the load, its RSS after it, and the
  machine's load average at the end of each load (the machine may be shared).

``--diagnose`` adds the parallel coordinates alone on a blank page (1, RUNS/10 and RUNS lines,
and the WebGL renderer; then RUNS/5 lines with the WebGL contexts made and the ``readPixels``
calls the draw waited in) and the functions with the most own time in a CPU profile of one more
cold load. ``--override PATH=FILE`` serves FILE for PATH (say ``/static/sweep.js``) to try a
change of the page without touching the package (routes turn the browser cache off);
``--server-src DIR`` runs the server (and so its pages) from another copy of ``src/`` (say the
code before a change, copied to /tmp), for A/B runs minutes apart on a machine whose speed
varies.
``--optuna`` loads the same runs into an Optuna study (``load_optuna`` of ``dashboard.py``, run
by ``--optuna-python``, a virtualenv with ``optuna optuna-dashboard``) and measures
optuna-dashboard's study page alike, cold only: it has no runs table and no parallel
coordinates, so it waits for its history plot (a point per trial) and its intermediate values
plot (a line per trial).

    .venv/bin/python benchmarks/dashboard_browser.py --runs 500 --steps 40 --reps 2  # a try
    .venv/bin/python benchmarks/dashboard_browser.py --reuse --diagnose --optuna \\
        --out benchmarks/dashboard-browser-results.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard import (  # the benchmarks dir is on the path only now
    API,
    cpu_seconds,
    free_port,
    load_hypersweep,
    load_optuna,
    make_runs,
    process,
    rss_mb,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
MARKER = "dashboard_browser.json"  # in --data-dir: what was loaded there, and the sweep's id

# Runs in the page before its own scripts: marks the moments measured, on every animation frame.
INIT_SCRIPT = """
(() => {
  const b = (window.__bench = { table: null, chart: null, done: null, plotly: null, dcl: null,
    snapshotAt: null, snapshotDone: null, longTasks: [] });
  const expected = %(expected)d;
  const check = () => {
    const now = performance.now();
    try {
      if (b.table === null && (%(table)s)) b.table = now;
    } catch (_) {}
    try {
      if (b.chart === null && (%(chart)s)) b.chart = now;
    } catch (_) {}
    if (b.table !== null && b.chart !== null) {
      b.done = Math.max(b.table, b.chart);
      try {
        b.lines = document.getElementById("parcoords").data[0].dimensions[0].values.length;
      } catch (_) {}
    }
    else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
  document.addEventListener("DOMContentLoaded", () => { b.dcl = performance.now(); });
  // plotly.min.js has run once it sets window.Plotly; each Plotly.react call is timed
  b.plots = [];
  let plotly;
  Object.defineProperty(window, "Plotly", {
    configurable: true,
    get: () => plotly,
    set: (value) => {
      if (b.plotly === null) b.plotly = performance.now();
      plotly = value;
      if (value && value.react && !value.react.__bench) {
        const react = value.react;
        value.react = function (node, data, ...rest) {
          const t0 = performance.now();
          try { return react.call(this, node, data, ...rest); }
          finally {
            const kind = data && data[0] && data[0].type;
            const took = Math.round(performance.now() - t0);
            b.plots.push([(node && node.id) || "?", kind || "?", Math.round(t0), took]);
          }
        };
        value.react.__bench = true;
      }
    },
  });
  // JSON.parse of big bodies (the snapshot)
  const parse = JSON.parse;
  b.parses = [];
  JSON.parse = function (text, ...rest) {
    const t0 = performance.now();
    try { return parse.call(this, text, ...rest); }
    finally {
      if (typeof text === "string" && text.length > 100000)
        b.parses.push([text.length, Math.round(t0), Math.round(performance.now() - t0)]);
    }
  };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries())
        b.longTasks.push([Math.round(e.startTime), Math.round(e.duration)]);
    }).observe({ type: "longtask", buffered: true });
  } catch (_) {}
  if (window.EventSource) {
    const add = EventSource.prototype.addEventListener;
    EventSource.prototype.addEventListener = function (type, listener, options) {
      if (type !== "snapshot") return add.call(this, type, listener, options);
      return add.call(this, type, (event) => {
        if (b.snapshotAt === null) b.snapshotAt = performance.now();
        try { return listener(event); }
        finally { if (b.snapshotDone === null) b.snapshotDone = performance.now(); }
      }, options);
    };
  }
})();
"""


@dataclass
class Page:
    """A dashboard page to load, and what "drawn" means on it (JS expressions)."""

    url: str
    base: str  # the server's origin
    api: str  # path prefix of its data requests
    table: str  # the runs table (or its stand-in) is drawn
    chart: str  # the chart is drawn
    expected: int  # finished runs: points the chart must hold
    overrides: dict[str, Path] = field(default_factory=dict)  # path -> file served instead


def _serve(body: bytes, content_type: str) -> Any:
    def serve(route: Any) -> None:
        route.fulfill(status=200, body=body, content_type=content_type)

    return serve


def new_context(browser: Any, spec: Page) -> Any:
    """A fresh browser context (empty cache), with --override's files served in its pages."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    for path, file in spec.overrides.items():
        body = file.read_bytes()
        kind = {".html": "text/html", ".css": "text/css"}.get(file.suffix, "text/javascript")

        context.route(spec.base + path, _serve(body, kind + "; charset=utf-8"))
    return context


# the first row of the runs table; the parallel coordinates with a line per finished run, or
# the best PARCOORDS_BEST when the page says it draws the best ones
PARCOORDS_BEST = 1000
HS_TABLE = 'document.querySelector("#runs tbody tr[data-run]")'
HS_CHART = (
    'document.querySelector("#parcoords.js-plotly-plot") && '
    'document.getElementById("parcoords").data[0].dimensions[0].values.length === '
    '(document.querySelector("#parcoords-note[data-best]") ? '
    f"Math.min(expected, {PARCOORDS_BEST}) : expected)"
)
# optuna-dashboard 0.21's study page has neither a runs table nor parallel coordinates (it has
# no parallel coordinate plot at all; its trials are a list on another page): its stand-ins are
# the history plot holding a point per trial and the intermediate values plot, a line per trial
OP_TABLE = (
    'document.querySelector("#plot-history.js-plotly-plot") && '
    'document.getElementById("plot-history").data.some((t) => (t.x || []).length === expected)'
)
OP_CHART = (
    'document.querySelector("#graph-intermediate-values.js-plotly-plot") && '
    'document.getElementById("graph-intermediate-values").data.length >= expected'
)


# -- data ---------------------------------------------------------------------------------------


class Progress(list):  # type: ignore[type-arg]
    """The runs, printing how far ``load_hypersweep`` (which iterates them once) has got."""

    def __iter__(self) -> Iterator[Any]:
        started = time.perf_counter()
        every = max(1, len(self) // 20)
        for index, item in enumerate(super().__iter__()):
            if index and index % every == 0:
                elapsed = time.perf_counter() - started
                print(
                    f"  {index:,}/{len(self):,} runs loaded, {elapsed:,.0f} s, "
                    f"load average {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            yield item


def prepare(args: argparse.Namespace) -> tuple[str, float | None]:
    """The loaded sweep's id, and the seconds the load took (None when reused)."""
    data_dir: Path = args.data_dir
    marker = data_dir / MARKER
    wanted = {"runs": args.runs, "steps": args.steps, "seed": args.seed}
    if marker.exists():
        loaded = json.loads(marker.read_text())
        if args.reuse and {k: loaded.get(k) for k in wanted} == wanted:
            print(f"reusing {data_dir} (sweep {loaded['sweep_id']})", flush=True)
            return str(loaded["sweep_id"]), None
        if args.reuse:
            raise SystemExit(f"{data_dir} holds {loaded}, not {wanted}; drop --reuse to reload")
        shutil.rmtree(data_dir)  # ours (it has our marker): loaded anew below
    elif data_dir.exists() and any(data_dir.iterdir()):
        raise SystemExit(f"{data_dir} is not empty and was not made by this script")
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"making {args.runs:,} runs x {args.steps} steps ...", flush=True)
    runs = Progress(make_runs(args.runs, args.steps, args.seed))
    print(f"loading them into {data_dir} through the store ...", flush=True)
    sweep_id, seconds = load_hypersweep(data_dir, runs)
    print(f"  loaded in {seconds:,.1f} s", flush=True)
    marker.write_text(json.dumps({**wanted, "sweep_id": sweep_id, "load_seconds": seconds}))
    return sweep_id, seconds


def prepare_optuna(args: argparse.Namespace) -> tuple[str, int, float | None]:
    """The Optuna storage URL and study (the same runs) in --data-dir, loaded once."""
    marker = args.data_dir / MARKER
    loaded = json.loads(marker.read_text())
    storage = f"sqlite:///{args.data_dir / 'optuna.db'}"
    if "optuna_study_id" in loaded:
        return storage, int(loaded["optuna_study_id"]), None
    print(f"loading the same runs into Optuna ({args.optuna_python}) ...", flush=True)
    runs = make_runs(args.runs, args.steps, args.seed)
    study_id, seconds = load_optuna(args.optuna_python, storage, runs, args.data_dir)
    (args.data_dir / "runs.json").unlink()  # load_optuna's hand-over file
    print(f"  loaded in {seconds:,.1f} s", flush=True)
    marker.write_text(
        json.dumps({**loaded, "optuna_study_id": study_id, "optuna_seconds": seconds})
    )
    return storage, study_id, seconds


# -- measurement --------------------------------------------------------------------------------


@dataclass
class Request:
    url: str
    sent: float  # CDP monotonic seconds
    mime: str = ""
    status: int = 0
    from_cache: bool = False
    answered: float | None = None
    finished: float | None = None
    finished_encoded: int = 0  # loadingFinished: every byte received, headers included
    headers_bytes: int = 0
    compressed: bool = False  # a Content-Encoding: what arrives is not what the page reads
    chunks: list[tuple[float, int, int]] = field(default_factory=list)  # time, decoded, encoded


class Network:
    """Every request of one page, from the DevTools protocol's Network domain."""

    def __init__(self) -> None:
        self.requests: dict[str, Request] = {}
        self.document: tuple[float, float] | None = None  # (monotonic, wall) of the navigation

    def attach(self, cdp: Any) -> None:
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._answered)
        cdp.on("Network.dataReceived", self._data)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.requestServedFromCache", self._cached)
        cdp.send("Network.enable")

    def _sent(self, e: dict[str, Any]) -> None:
        if e.get("type") == "Document" and self.document is None:
            self.document = (e["timestamp"], e["wallTime"])
        self.requests[e["requestId"]] = Request(e["request"]["url"], e["timestamp"])

    def _answered(self, e: dict[str, Any]) -> None:
        if req := self.requests.get(e["requestId"]):
            response = e["response"]
            req.mime, req.status = response["mimeType"], response["status"]
            timing = response.get("timing")
            # the headers' arrival; the event's own timestamp can come after the first bytes
            req.answered = (
                timing["requestTime"] + timing["receiveHeadersEnd"] / 1000
                if timing
                else e["timestamp"]
            )
            req.from_cache = req.from_cache or bool(response.get("fromDiskCache"))
            req.headers_bytes = int(response.get("encodedDataLength") or 0)
            headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
            req.compressed = headers.get("content-encoding", "identity") != "identity"

    def _data(self, e: dict[str, Any]) -> None:
        if req := self.requests.get(e["requestId"]):
            req.chunks.append((e["timestamp"], e["dataLength"], e["encodedDataLength"]))

    def _finished(self, e: dict[str, Any]) -> None:
        if req := self.requests.get(e["requestId"]):
            req.finished, req.finished_encoded = e["timestamp"], int(e["encodedDataLength"])

    def _cached(self, e: dict[str, Any]) -> None:
        if req := self.requests.get(e["requestId"]):
            req.from_cache = True

    def to_mono(self, time_origin_ms: float, page_ms: float) -> float:
        """A page time (ms from ``performance.timeOrigin``) on the protocol's monotonic clock."""
        assert self.document is not None
        mono, wall = self.document
        return mono + ((time_origin_ms + page_ms) / 1000 - wall)


@dataclass
class Bytes:
    requests: int = 0
    cached: int = 0
    encoded: int = 0
    decoded: int = 0


@dataclass
class Load:
    """One page load; times in ms from navigation start."""

    table: float
    chart: float
    done: float
    static: Bytes
    api: Bytes  # every API request, curves included
    curves: Bytes  # of which the curves of the table's page (not needed for the figure)
    server_cpu: float
    server_rss: float
    loadavg: float  # the machine's 1-minute load average at the end of the load
    marks: dict[str, Any]
    timeline: list[tuple[str, float, float | None, float | None, int, bool]]  # url, sent, ..
    # "show all" clicked after the load: ms until the frame with every line, and the lines
    show_all: tuple[float, int] | None = None

    @property
    def encoded(self) -> int:
        return self.static.encoded + self.api.encoded

    @property
    def decoded(self) -> int:
        return self.static.decoded + self.api.decoded


def account(
    net: Network, cutoff: float, base: str, api_prefix: str
) -> tuple[Bytes, Bytes, Bytes, list[Any]]:
    """Bytes and requests up to ``cutoff`` (monotonic): static assets, API data, the curves."""
    static, api, curves, timeline = Bytes(), Bytes(), Bytes(), []
    origin = net.document[0] if net.document else 0.0
    for req in sorted(net.requests.values(), key=lambda r: r.sent):
        if req.sent > cutoff or not req.url.startswith(base):
            continue
        path = req.url[len(base) :]
        sides = [api] if path.startswith(api_prefix) else [static]
        if "/history?" in path:
            sides.append(curves)
        chunks = [c for c in req.chunks if c[0] <= cutoff]
        decoded = sum(c[1] for c in chunks)
        if req.finished is not None and req.finished <= cutoff:
            # on the wire, headers included. A response can be all in the browser while the
            # page (busy) has not read it yet: then no dataReceived has come for it
            encoded = max(req.finished_encoded, sum(c[2] for c in chunks))
            if not req.compressed:
                decoded = max(decoded, req.finished_encoded - req.headers_bytes)
        else:
            answered = req.answered is not None and req.answered <= cutoff
            # still open (the event stream): the chunks' encodedDataLength proved unreliable
            # there (now 0, now more than the data), so an uncompressed body (no
            # Content-Encoding: the API's) counts its data, chunk framing left out
            if req.compressed:
                body = sum(c[2] for c in chunks)
            else:
                body = sum(c[1] for c in chunks)
            encoded = (req.headers_bytes if answered else 0) + body
        for side in sides:
            side.requests += 1
            side.cached += req.from_cache
            side.encoded += encoded
            side.decoded += decoded

        def ms(t: float | None) -> float | None:
            return None if t is None or t > cutoff else round((t - origin) * 1000, 1)

        last = req.finished if req.finished is not None and req.finished <= cutoff else None
        if last is None and chunks:
            last = chunks[-1][0]  # the last byte received before the cutoff
        timeline.append((path, ms(req.sent), ms(req.answered), ms(last), decoded, req.from_cache))
    return static, api, curves, timeline


# Clicks the parallel coordinates' "show all" (there when they draw the best runs only) and
# times it until the frame after the redraw; [ms, lines drawn], or null without the button.
SHOW_ALL = """
async () => {
  const button = document.querySelector("#parcoords-note[data-best] #parcoords-toggle");
  if (!button) return null;
  const t0 = performance.now();
  button.click();
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  const lines = document.getElementById("parcoords").data[0].dimensions[0].values.length;
  return [performance.now() - t0, lines];
}
"""


def load_page(context: Any, spec: Page, server_pid: int, timeout: float) -> Load:
    page = context.new_page()
    net = Network()
    net.attach(context.new_cdp_session(page))
    cpu0 = cpu_seconds(server_pid)
    page.goto(spec.url, wait_until="commit", timeout=timeout * 1000)
    page.wait_for_function(
        "window.__bench && window.__bench.done !== null", timeout=timeout * 1000, polling=100
    )
    cpu = cpu_seconds(server_pid) - cpu0
    marks = page.evaluate("({...window.__bench, timeOrigin: performance.timeOrigin})")
    time.sleep(0.3)  # the protocol's last events for the moment measured reach Python
    cutoff = net.to_mono(marks["timeOrigin"], marks["done"])
    static, api, curves, timeline = account(net, cutoff, spec.base, spec.api)
    # the page keeps working after (the curves, the importance): not part of the figure
    shown = page.evaluate(SHOW_ALL)
    page.close()
    return Load(
        table=marks["table"],
        chart=marks["chart"],
        done=marks["done"],
        static=static,
        api=api,
        curves=curves,
        server_cpu=cpu,
        server_rss=rss_mb(server_pid),
        loadavg=os.getloadavg()[0],
        marks=marks,
        timeline=timeline,
        show_all=None if shown is None else (float(shown[0]), int(shown[1])),
    )


def measure(
    browser: Any, spec: Page, pid: int, reps: int, timeout: float, warm_too: bool = True
) -> tuple[list[Load], list[Load]]:
    script = INIT_SCRIPT % {"expected": spec.expected, "table": spec.table, "chart": spec.chart}
    cold: list[Load] = []
    warm: list[Load] = []
    for rep in range(reps):
        context = new_context(browser, spec)
        context.add_init_script(script)
        try:
            for target, name in ((cold, "cold"), (warm, "warm"))[: 2 if warm_too else 1]:
                load = load_page(context, spec, pid, timeout)
                target.append(load)
                print(
                    f"  {rep + 1}/{reps} {name}: table {load.table:,.0f} ms, chart "
                    f"{load.chart:,.0f} ms, {_mb(load.encoded)} on the wire "
                    f"({_mb(load.decoded)} decoded), server CPU {load.server_cpu:.2f} s, "
                    f"load average {load.loadavg:.1f}"
                    + (
                        f"; show all: {load.show_all[0]:,.0f} ms for {load.show_all[1]:,} lines"
                        if load.show_all
                        else ""
                    ),
                    flush=True,
                )
        finally:
            context.close()
    return cold, warm


PARCOORDS_ALONE = """
async ([n, page]) => {
  const node = document.createElement("div");
  node.style.width = "1300px";
  node.style.height = "450px";
  document.body.append(node);
  const r = () => Array.from({ length: n }, () => Math.random());
  const dims = ["a", "b", "c", "d", "e"].map((label) => ({ label, values: r() }));
  // as the sweep page draws it: WebGL at the screen's pixel ratio (1 here) instead of Plotly's
  // default 2, and no multisampling (the page's choice in software WebGL)
  const config = page ? { plotGlPixelRatio: 1 } : {};
  // and where the draw waits: the WebGL contexts it makes, and each readPixels (regl's read,
  // where the page waits for the renderer) of 5 ms or more, in call order
  const getContext = HTMLCanvasElement.prototype.getContext;
  const readPixels = WebGLRenderingContext.prototype.readPixels;
  let contexts = 0;
  const waits = [];
  HTMLCanvasElement.prototype.getContext = function (type, attributes) {
    if (/webgl/.test(type)) {
      contexts += 1;
      if (page) attributes = { ...(attributes || {}), antialias: false };
    }
    return getContext.call(this, type, attributes);
  };
  WebGLRenderingContext.prototype.readPixels = function (...args) {
    const t0 = performance.now();
    const out = readPixels.apply(this, args);
    const took = performance.now() - t0;
    if (took >= 5) waits.push(Math.round(took));
    return out;
  };
  try {
    const t0 = performance.now();
    const trace = { type: "parcoords", line: { color: r(), showscale: true }, dimensions: dims };
    Plotly.react(node, [trace], {}, config);
    const sync = performance.now() - t0;
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    const framed = performance.now() - t0;
    return [sync, framed, contexts, waits];
  } finally {
    HTMLCanvasElement.prototype.getContext = getContext;
    WebGLRenderingContext.prototype.readPixels = readPixels;
    Plotly.purge(node);
    node.remove();
  }
}
"""


def diagnose(browser: Any, spec: Page, runs: int) -> list[str]:
    """Where a load's main-thread time goes: parcoords alone, and a CPU profile of one load."""
    lines = [
        "Parcoords alone (a blank page with plotly.min.js, five axes, random values; Plotly's "
        "defaults unless said):",
        "",
    ]
    context = new_context(browser, spec)
    try:
        page = context.new_page()
        page.goto(spec.base + "/static/app.css")
        page.add_script_tag(url=spec.base + "/static/plotly.min.js")
        renderer = page.evaluate(
            """() => { const gl = document.createElement("canvas").getContext("webgl");
            const info = gl && gl.getExtension("WEBGL_debug_renderer_info");
            if (!gl) return "none";
            return info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : "webgl"; }"""
        )
        lines.append(f"WebGL renderer: `{renderer}`.  ")
        plain = [(n, False) for n in (1, 1, runs // 10, runs, runs)]
        for n, as_page in [
            *plain,
            (runs, True),
            (runs, True),
        ]:
            sync, framed, _, _ = page.evaluate(PARCOORDS_ALONE, [n, as_page])
            how = ""
            if as_page:
                how = " as the page draws them (`plotGlPixelRatio` 1, no multisampling)"
            lines.append(
                f"{n:,} lines{how}: `Plotly.react` {sync:,.0f} ms, to the second frame after it "
                f"{framed:,.0f} ms.  "
            )
        traced = max(1, runs // 5)
        sync, _, contexts, waited = page.evaluate(PARCOORDS_ALONE, [traced, True])
        waits = ", ".join(f"{ms:,} ms" for ms in waited) or "none"
        lines.append(
            f"{traced:,} lines as the page draws them, WebGL traced: `Plotly.react` "
            f"{sync:,.0f} ms, {contexts} WebGL contexts, `readPixels` waits of 5 ms or more in "
            f"call order: {waits}.  "
        )
        page.close()
    finally:
        context.close()

    context = new_context(browser, spec)
    context.add_init_script(
        INIT_SCRIPT % {"expected": spec.expected, "table": spec.table, "chart": spec.chart}
    )
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 1000})
        cdp.send("Profiler.start")
        page.goto(spec.url, wait_until="commit")
        page.wait_for_function("window.__bench && window.__bench.done !== null", polling=100)
        profile = cdp.send("Profiler.stop")["profile"]
        done = page.evaluate("window.__bench.done")
        page.close()
    finally:
        context.close()
    own: dict[str, float] = {}
    nodes = {node["id"]: node for node in profile["nodes"]}
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[sample]["callFrame"]
        name = frame["functionName"] or "(anonymous)"
        if frame["url"]:
            name += f" {frame['url'].rsplit('/', 1)[-1]}:{frame['lineNumber'] + 1}"
        own[name] = own.get(name, 0.0) + delta / 1000
    total = sum(own.values())
    lines += [
        "",
        f"CPU profile of one more cold load (drawn at {done:,.0f} ms; the profile runs until "
        f"the wait for it returns, {total:,.0f} ms sampled): functions by own time:",
        "",
        "| Function | Own time |",
        "|---|---:|",
    ]
    for name, ms in sorted(own.items(), key=lambda item: -item[1])[:8]:
        lines.append(f"| `{name}` | {ms:,.0f} ms |")
    return lines


# -- report -------------------------------------------------------------------------------------


def _mb(size: float) -> str:
    return f"{size / 1024:,.1f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:,.2f} MiB"


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} / {max(values):,.0f} ms"


def _target(median: float, worst: float) -> str:
    mb, mib = 5_000_000, 5 * 1024 * 1024
    return (
        f"median {median:,.0f} bytes ({median / 1e6:,.2f} MB = {median / mib * 5:,.2f} MiB), max "
        f"{worst:,.0f} bytes: under 5 MB (10^6 bytes) **{'yes' if worst < mb else 'no'}**, "
        f"under 5 MiB **{'yes' if worst < mib else 'no'}**"
    )


def table_rows(name: str, loads: list[Load]) -> list[str]:
    def med(f: Any) -> float:
        return float(statistics.median(f(x) for x in loads))

    return [
        f"| {name} | {_ms([x.table for x in loads])} | {_ms([x.chart for x in loads])} "
        f"| {_ms([x.done for x in loads])} "
        f"| {_mb(med(lambda x: x.static.encoded))} / {_mb(med(lambda x: x.static.decoded))} "
        f"| {_mb(med(lambda x: x.api.encoded))} / {_mb(med(lambda x: x.api.decoded))} "
        f"| {_mb(med(lambda x: x.curves.encoded))} ({med(lambda x: x.curves.requests):.0f}) "
        f"| {_mb(med(lambda x: x.encoded))} "
        f"| {med(lambda x: x.static.requests):.0f} + {med(lambda x: x.api.requests):.0f} "
        f"({med(lambda x: x.static.cached + x.api.cached):.0f} cached) "
        f"| {med(lambda x: x.server_cpu):.2f} s | {max(x.server_rss for x in loads):,.0f} MB "
        f"| {min(x.loadavg for x in loads):.1f}-{max(x.loadavg for x in loads):.1f} |"
    ]


def breakdown(load: Load) -> list[str]:
    m = load.marks
    lines = [
        "| Request | Sent | Answered | Last byte (before drawn) | Decoded | Cached |",
        "|---|---:|---:|---:|---:|---|",
    ]

    def f(v: float | None) -> str:
        return "—" if v is None else f"{v:,.0f} ms"

    # the curves (one request a run) and repeated requests (optuna-dashboard's 10 s poll) are
    # folded into one row each
    groups: dict[str, list[Any]] = {}
    for row in load.timeline:
        key = "/api/v1/runs/ID/history?..." if "/history?" in row[0] else row[0]
        groups.setdefault(key, []).append(row)
    for key, rows in groups.items():
        sent = rows[0][1]
        answers = [r[2] for r in rows if r[2] is not None]
        lasts = [r[3] for r in rows if r[3] is not None]
        name = f"`{key}`"
        if len(rows) > 1:
            name = f"{len(rows)} x {name} ({len(answers)} answered before drawn)"
        lines.append(
            f"| {name} | {f(sent)} | {f(min(answers) if answers else None)} "
            f"| {f(max(lasts) if lasts else None)} | {_mb(sum(r[4] for r in rows))} "
            f"| {'yes' if any(r[5] for r in rows) else ''} |"
        )

    def g(key: str) -> str:
        return "—" if m.get(key) is None else f"{m[key]:,.0f} ms"

    plots = ", ".join(f"`#{n}` ({k}) {d:,} ms at {t:,}" for n, k, t, d in m.get("plots", []))
    parses = ", ".join(f"{_mb(size)} in {d:,} ms at {t:,}" for size, t, d in m.get("parses", []))
    long_tasks = ", ".join(f"{d:,} ms at {s:,}" for s, d in m.get("longTasks", []) if d >= 50)
    page = [f"DOMContentLoaded at {g('dcl')}"]
    if m.get("plotly") is not None:
        page.insert(0, f"`window.Plotly` set (plotly.min.js parsed and run) at {g('plotly')}")
    if m.get("snapshotAt") is not None:
        page.append(
            f"the `snapshot` event delivered at {g('snapshotAt')}, its handler (JSON.parse, "
            f"layout, table) done at {g('snapshotDone')}"
        )
    page.append(
        f"drawn (checked each animation frame): table at {g('table')}, chart at {g('chart')}"
    )
    lines += [
        "",
        "In the page: " + "; ".join(page) + ".  ",
        f"JSON.parse of bodies over 100 kB: {parses or 'none'}.  ",
        f"Plotly.react calls (synchronous part): {plots or 'none'}.  ",
        f"Long tasks (50 ms or more): {long_tasks or 'none'}.",
    ]
    return lines


def phases(load: Load) -> list[tuple[str, float | None, float | None]]:
    """(step, ms from navigation start when it ended, ms it took) of one load.

    The page preloads plotly.min.js, draws the table in the ``snapshot`` handler, then runs
    plotly.min.js and draws the parallel coordinates after a painted frame (before 2026-11-29
    15:10 UTC it ran plotly.min.js ``async``, as soon as it arrived), so each step's duration is
    measured from its own start, never from the step above it.
    """
    m = load.marks

    def span(match: Any) -> tuple[float | None, float | None]:
        """(sent, last byte before drawn) of the first request whose path matches."""
        for url, sent, _, last, _, _ in load.timeline:
            if match(url):
                return sent, last
        return None, None

    def took(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else b - a

    plotly = span(lambda url: url.startswith("/static/plotly"))
    sweep = span(lambda url: url.startswith(API) and url.count("/") == 4)
    events = span(lambda url: url.endswith("/events"))
    parse = float(sum(d for *_, d in m.get("parses", [])))
    snapshot = m.get("snapshotAt")
    # the last Plotly.react of the parallel coordinates before they were drawn
    calls = [(t, d) for n, k, t, d in m.get("plots", []) if k == "parcoords" and t <= m["done"]]
    chart = calls[-1] if calls else None

    def end(call: tuple[float, float] | None) -> float | None:
        return None if call is None else call[0] + call[1]

    return [
        ("plotly.min.js downloaded (last byte)", plotly[1], took(*plotly)),
        (
            "plotly.min.js parsed and run (`window.Plotly` set; from its last byte, so with the "
            "wait for the table when the page runs it after the table)",
            m.get("plotly"),
            took(plotly[1], m.get("plotly")),
        ),
        ("DOMContentLoaded (common.js, sweep.js run)", m.get("dcl"), None),
        ("`GET /api/v1/sweeps/ID`", sweep[1], took(*sweep)),
        ("event stream: sent to the whole snapshot received", events[1], took(*events)),
        ("`snapshot` event delivered to the page", snapshot, None),
        ("  its handler: JSON.parse of the snapshot", None, parse),
        (
            "  its handler done (JSON.parse, layout, table)",
            m.get("snapshotDone"),
            took(snapshot, m.get("snapshotDone")),
        ),
        (
            "table drawn (first frame with a row; from the handler's end)",
            m.get("table"),
            took(m.get("snapshotDone"), m.get("table")),
        ),
        (
            f"`Plotly.react` parcoords ({load.marks.get('lines') or 0:,} lines)",
            end(chart),
            None if chart is None else chart[1],
        ),
        (
            "parcoords drawn (next frame; from that call's end)",
            m.get("chart"),
            took(end(chart), m.get("chart")),
        ),
        ("both drawn", m.get("done"), None),
    ]


def _lines(loads: list[Load]) -> str:
    """The parallel coordinates' line counts of the loads, when drawn (one figure if equal)."""
    counts = sorted({int(x.marks.get("lines") or 0) for x in loads})
    return " / ".join(f"{n:,}" for n in counts)


def median_load(loads: list[Load]) -> Load:
    """The load whose time until drawn is the median (the lower one of an even count)."""
    return sorted(loads, key=lambda x: x.done)[(len(loads) - 1) // 2]


def phase_table(cold: list[Load], warm: list[Load]) -> list[str]:
    one, two = median_load(cold), median_load(warm)
    lines = [
        "| Step | Ends at, cold | Takes, cold | Ends at, warm | Takes, warm |",
        "|---|---:|---:|---:|---:|",
    ]

    def f(value: float | None) -> str:
        return "" if value is None else f"{value:,.0f} ms"

    for (name, at, took), (_, at2, took2) in zip(phases(one), phases(two), strict=True):
        lines.append(f"| {name} | {f(at)} | {f(took)} | {f(at2)} | {f(took2)} |")
    return lines


def _show_all_line(loads: list[Load]) -> list[str]:
    clicks = [x.show_all for x in loads if x.show_all]
    if not clicks:
        return []
    times = [ms for ms, _ in clicks]
    return [
        f'- "show all" clicked after each load, until the frame with {clicks[0][1]:,} lines: '
        f"median {statistics.median(times):,.0f} ms, max {max(times):,.0f} ms "
        f"({len(clicks)} clicks)."
    ]


def report(
    args: argparse.Namespace,
    load_seconds: float | None,
    cold: list[Load],
    warm: list[Load],
    loadavg_before: tuple[float, float, float],
    diagnostics: list[str],
    optuna: tuple[float | None, list[Load]] | None,
) -> str:
    after = os.getloadavg()
    header = (
        "| Load | Table drawn (median / max) | Parcoords drawn | Both | Static (wire / decoded) "
        "| API data (wire / decoded) | of which curves (requests) | Total on the wire "
        "| Requests static + API | Server CPU | Server RSS | Load average (1 min) |"
    )
    done = statistics.median(x.done for x in cold)
    sent = statistics.median(x.encoded for x in cold)
    worst = max(x.encoded for x in cold)
    needed = statistics.median(x.encoded - x.curves.encoded for x in cold)
    needed_worst = max(x.encoded - x.curves.encoded for x in cold)
    slowest = max(cold, key=lambda x: x.done)
    lines = [
        f"Command: `{shlex.join(['.venv/bin/python', *sys.argv])}`  ",
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores (shared "
        f"machine), load average before {' '.join(f'{x:.2f}' for x in loadavg_before)}, after "
        f"{' '.join(f'{x:.2f}' for x in after)}; {args.runs:,} finished runs x {args.steps} "
        f"history rows of `loss` ({args.runs * args.steps:,} rows), data dir {args.data_dir}"
        + (f" (loaded through the store in {load_seconds:,.0f} s)" if load_seconds else " (reused)")
        + f"; Chromium {args.chromium_version}, headless, software rendering; "
        f"{args.reps} load(s), each in a fresh context (cold) and then again in it (warm)"
        + (f"; server and pages from {args.server_src}" if args.server_src else "")
        + ".",
        "",
        header,
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
        *table_rows("cold", cold),
        *table_rows("warm", warm),
        "",
        f"- Under 2 s (cold, median until both are drawn): **{'yes' if done < 2000 else 'no'}** "
        f"({done / 1000:,.2f} s; max {max(x.done for x in cold) / 1000:,.2f} s; warm median "
        f"{statistics.median(x.done for x in warm) / 1000:,.2f} s).",
        f"- Parallel coordinates drawn with {_lines(cold + warm)} lines, of {args.runs:,} "
        "finished runs.",
        *_show_all_line(cold + warm),
        f"- Under 5 MB sent (cold, on the wire, everything received until drawn): "
        f"{_target(sent, worst)}.",
        f"- The same without the curves of the table's page (history requests sent before "
        f"drawn: median {statistics.median(x.curves.requests for x in cold):.0f}; neither table "
        f"nor parcoords needs them): "
        f"{_target(needed, needed_worst)}.",
        "",
        "Where the time goes: the median cold load and the median warm load (ms from navigation "
        "start; load average at their end "
        f"{median_load(cold).loadavg:.1f} and {median_load(warm).loadavg:.1f}):",
        "",
        *phase_table(cold, warm),
        "",
        f"The slowest cold load ({slowest.done:,.0f} ms, load average {slowest.loadavg:.1f} at its "
        "end), request by request (ms from navigation "
        "start, up to the moment both were drawn):",
        "",
        *breakdown(slowest),
    ]
    if diagnostics:
        lines += ["", *diagnostics]
    if optuna:
        op_seconds, op = optuna
        op_done = statistics.median(x.done for x in op)
        op_sent = statistics.median(x.encoded for x in op)
        lines += [
            "",
            f"optuna-dashboard ({args.optuna_version}), the same runs as an Optuna study"
            + (f" (loaded in {op_seconds:,.0f} s)" if op_seconds else "")
            + f", its study page `/dashboard/studies/ID`, {len(op)} cold load(s). It has no runs "
            "table and no parallel coordinates: the first column is its history plot holding "
            "a point per trial, the second its intermediate values plot holding a line per "
            "trial (the page's two plots of every trial).",
            "",
            header.replace("Table drawn", "History plot").replace("Parcoords drawn", "Curves"),
            "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
            *table_rows("cold", op),
            "",
            f"optuna-dashboard / hypersweep, cold medians: time until drawn "
            f"{op_done / done:,.1f}x ({op_done / 1000:,.1f} s vs {done / 1000:,.2f} s), bytes "
            f"on the wire {op_sent / sent:,.1f}x ({_mb(op_sent)} vs {_mb(sent)}).",
            "",
            f"Its slowest load ({max(x.done for x in op):,.0f} ms), request by request:",
            "",
            *breakdown(max(op, key=lambda x: x.done)),
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="kept after; default /dev/shm/hs-browser-bench-RUNSxSTEPS (reloaded unless --reuse)",
    )
    parser.add_argument("--reuse", action="store_true", help="use the sweep loaded there before")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per page load")
    parser.add_argument("--out", type=Path, help="write the Markdown report here too")
    parser.add_argument(
        "--diagnose", action="store_true", help="also time parcoords alone and profile a load"
    )
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="PATH=FILE",
        help="serve FILE for PATH (e.g. /static/sweep.js=/tmp/sweep.js): try a change of the "
        "page without touching the package (routes turn the browser cache off: warm = cold)",
    )
    parser.add_argument(
        "--server-src",
        type=Path,
        help="run the server from this copy of src/ (PYTHONPATH), e.g. the code before a change",
    )
    parser.add_argument("--optuna", action="store_true", help="also measure optuna-dashboard")
    parser.add_argument("--optuna-python", default="/work/bench-venv/bin/python")
    parser.add_argument("--optuna-reps", type=int, default=1, help="cold loads only")
    parser.add_argument("--optuna-timeout", type=float, default=1200.0)
    args = parser.parse_args()
    if args.data_dir is None:
        args.data_dir = Path(f"/dev/shm/hs-browser-bench-{args.runs}x{args.steps}")

    from playwright.sync_api import sync_playwright

    sweep_id, load_seconds = prepare(args)
    if args.optuna:
        storage, study_id, optuna_seconds = prepare_optuna(args)
    loadavg_before = os.getloadavg()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "hypersweep", "server", "--port", str(port), "--no-auth"]
    argv += ["--log-level", "warning", "--data-dir", str(args.data_dir)]
    log = args.data_dir / "server.log"
    if args.server_src:
        # the server process inherits it; nothing else started here imports hypersweep
        os.environ["PYTHONPATH"] = str(args.server_src.resolve())
    with process(argv, base + API + "/health", log) as proc, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        args.chromium_version = browser.version
        try:
            spec = Page(f"{base}/sweeps/{sweep_id}", base, API + "/", HS_TABLE, HS_CHART, args.runs)
            for item in args.override:
                path, _, file = item.partition("=")
                spec.overrides[path] = Path(file)
            print(f"measuring {spec.url} ...", flush=True)
            cold, warm = measure(browser, spec, proc.pid, args.reps, args.timeout)
            diagnostics = diagnose(browser, spec, args.runs) if args.diagnose else []
        finally:
            browser.close()
    optuna = None
    if args.optuna:
        optuna = (optuna_seconds, measure_optuna(args, storage, study_id))
    text = report(args, load_seconds, cold, warm, loadavg_before, diagnostics, optuna)
    print(text)
    if args.out:
        args.out.write_text(text)


def measure_optuna(args: argparse.Namespace, storage: str, study_id: int) -> list[Load]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    dashboard = str(Path(args.optuna_python).parent / "optuna-dashboard")
    argv = [dashboard, storage, "--port", str(port), "--host", "127.0.0.1"]
    version = subprocess.run(
        [args.optuna_python, "-c", "import optuna_dashboard; print(optuna_dashboard.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    args.optuna_version = version.stdout.strip() or "version unknown"
    log = args.data_dir / "optuna-dashboard.log"
    with process(argv, base + "/api/meta", log) as proc, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            spec = Page(
                f"{base}/dashboard/studies/{study_id}", base, "/api/", OP_TABLE, OP_CHART, args.runs
            )
            print(f"measuring {spec.url} ...", flush=True)
            cold, _ = measure(
                browser, spec, proc.pid, args.optuna_reps, args.optuna_timeout, warm_too=False
            )
        finally:
            browser.close()
    return cold


if __name__ == "__main__":
    main()
