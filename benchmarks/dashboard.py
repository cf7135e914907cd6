"""The live dashboard at scale, side by side with optuna-dashboard (run by hand, never in tests).

The same RUNS finished runs (default 5,000; four parameters, STEPS history rows of ``loss``
each, fixed seed) are loaded into a fresh hypersweep SQLite store (through the store, as
``POST /sweeps/{id}/runs`` would, without the HTTP round trips) and into a fresh Optuna RDB
SQLite study (trials with intermediate values, ``study.add_trials``). Then each dashboard
server is started as its own process and measured through the requests its sweep / study page
makes:

- **First answer**: what the page needs before it can draw. hypersweep: the first event of
  ``GET /sweeps/{id}/events`` (the ``snapshot``: every run's parameters and summary, no
  history), ``GET /sweeps/{id}/importance``, one table page (``GET /sweeps/{id}/runs?limit=50
  &sort=summary.loss``) and the metric curves of that page (50 x ``GET /runs/{id}/history
  ?keys=loss&samples=500``). optuna-dashboard: ``GET /api/studies/{id}?after=0`` (every trial
  with its intermediate values) and ``GET /api/studies/{id}/param_importances``, the two calls
  of its study page. Cold (the first request after start) and warm (the next one).
- **Server RSS** after those answers (the server process and its children, from /proc).
- **One update**: a new run finishing. hypersweep: the run is posted while a page's event
  stream is open; reported are the ``delta`` event's size and the time from the POST's answer
  to the delta's arrival, and the server CPU one open stream costs per second of quiet (each
  stream reads the store every second). optuna-dashboard: a trial is added; its page polls
  ``GET /api/studies/{id}?after=N`` every 10 s and the server re-reads every trial of the study
  when its cache (10 s for a study of 500 trials or more) has expired; reported are the time
  and size of one such poll (cache expired) and the delay until the page's poll shows the trial.

Optuna and optuna-dashboard run from their own virtualenv (``--optuna-python``; ``pip install
optuna optuna-dashboard``). Both servers run on loopback without authentication.

    .venv/bin/python benchmarks/dashboard.py --out benchmarks/dashboard-results.md
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

API = "/api/v1"
OPTIMIZERS = ["adam", "sgd", "rmsprop"]
BATCH_SIZES = [16, 32, 64, 128]
CONFIG: dict[str, Any] = {
    "name": "dashboard-bench",
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "lr": {"min": 0.0001, "max": 0.1, "distribution": "log_uniform_values"},
        "dropout": {"min": 0.0, "max": 0.5},
        "optimizer": {"values": OPTIMIZERS},
        "batch_size": {"values": BATCH_SIZES},
    },
}
PAGE = 50  # the dashboard's table page, and so its number of curves
SAMPLES = 500  # points per curve the dashboard asks for

# Runs inside the Optuna virtualenv: one study with the runs of ``data.json`` as trials. The
# first run goes in through Optuna's own ``add_trial``; the rest are written in one SQLite
# transaction in the very rows Optuna wrote for it (``add_trials`` commits each trial apart, over
# an hour for 5,000 trials on a loaded 2-core machine), and Optuna reads them all back as a check.
OPTUNA_LOADER = textwrap.dedent(
    """
    import datetime, json, sqlite3, sys, time
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.distributions import distribution_to_json
    from optuna.trial import create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage_url, data_path, study_name = sys.argv[1:4]
    runs = json.load(open(data_path))
    dists = {
        "lr": FloatDistribution(1e-4, 1e-1, log=True),
        "dropout": FloatDistribution(0.0, 0.5),
        "optimizer": CategoricalDistribution(%(optimizers)r),
        "batch_size": CategoricalDistribution(%(batch_sizes)r),
    }
    study = optuna.create_study(
        storage=storage_url, study_name=study_name, direction="minimize", load_if_exists=True
    )
    started = time.perf_counter()
    first, rest = runs[0], runs[1:]
    before = len(study.trials)
    study.add_trial(create_trial(
        params=first["params"], distributions=dists, value=first["losses"][-1],
        intermediate_values=dict(enumerate(first["losses"])),
    ))
    if rest:
        db = sqlite3.connect(storage_url[len("sqlite:///"):])
        with db:
            number = db.execute(
                "SELECT MAX(number) FROM trials WHERE study_id = ?", (study._study_id,)
            ).fetchone()[0]
            now = datetime.datetime.now().isoformat(sep=" ")
            for run in rest:
                number += 1
                trial_id = db.execute(
                    "INSERT INTO trials (number, study_id, state, datetime_start, "
                    "datetime_complete) VALUES (?, ?, 'COMPLETE', ?, ?)",
                    (number, study._study_id, now, now),
                ).lastrowid
                db.executemany(
                    "INSERT INTO trial_params (trial_id, param_name, param_value, "
                    "distribution_json) VALUES (?, ?, ?, ?)",
                    [(trial_id, name, dist.to_internal_repr(run["params"][name]),
                      distribution_to_json(dist)) for name, dist in dists.items()],
                )
                db.execute(
                    "INSERT INTO trial_values (trial_id, objective, value, value_type) "
                    "VALUES (?, 0, ?, 'FINITE')", (trial_id, run["losses"][-1]),
                )
                db.executemany(
                    "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, "
                    "intermediate_value_type) VALUES (?, ?, ?, 'FINITE')",
                    [(trial_id, step, value) for step, value in enumerate(run["losses"])],
                )
        db.close()
    seconds = time.perf_counter() - started
    trials = optuna.load_study(study_name=study_name, storage=storage_url).trials
    assert len(trials) == before + len(runs), (len(trials), before, len(runs))
    last = trials[-1]
    assert last.params == runs[-1]["params"], (last.params, runs[-1]["params"])
    assert len(last.intermediate_values) == len(runs[-1]["losses"])
    print(json.dumps({"study_id": study._study_id, "seconds": seconds}))
    """
) % {"optimizers": OPTIMIZERS, "batch_sizes": BATCH_SIZES}


def make_runs(count: int, steps: int, seed: int) -> list[dict[str, Any]]:
    """Runs whose loss falls with the step, faster for a good lr and optimizer."""
    rng = random.Random(seed)
    runs = []
    for _ in range(count):
        lr, dropout = 10 ** rng.uniform(-4, -1), rng.uniform(0.0, 0.5)
        optimizer = rng.choice(OPTIMIZERS)
        params = {
            "lr": lr,
            "dropout": dropout,
            "optimizer": optimizer,
            "batch_size": rng.choice(BATCH_SIZES),
        }
        rate = 0.02 + 0.5 * abs(math.log10(lr) + 2.5) ** -1 / 10
        rate *= {"adam": 1.0, "sgd": 0.6, "rmsprop": 0.8}[optimizer]
        floor = 0.05 + dropout / 5
        losses = [
            floor + 2.0 * math.exp(-rate * step) + rng.gauss(0, 0.01) for step in range(steps)
        ]
        runs.append({"params": params, "losses": losses})
    return runs


# -- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                text = (entry / "stat").read_text()
                parents[int(entry.name)] = int(text[text.rindex(")") + 2 :].split()[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def rss_mb(root: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    for pid in _children(root):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def cpu_seconds(root: int) -> float:
    total = 0.0
    for pid in _children(root):
        with contextlib.suppress(OSError):
            text = Path(f"/proc/{pid}/stat").read_text()
            fields = text[text.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


@contextlib.contextmanager
def process(argv: Sequence[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, up once ``ready_url`` answers 200; stopped (by its own id) after."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(
                    f"{argv[0]} exited with {proc.returncode}: {log.read_text()[-2000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"{shlex.join(argv)} did not answer in 120 s; see {log}")
            time.sleep(0.2)  # a polled start-up: neither server has a readiness pipe
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# -- measurements -------------------------------------------------------------------------------


@dataclass
class Fetch:
    seconds: float
    size: int  # bytes of the body as sent (JSON; neither server compresses these)
    body: Any = None


def fetch(client: httpx.Client, url: str) -> Fetch:
    started = time.perf_counter()
    response = client.get(url)
    seconds = time.perf_counter() - started
    response.raise_for_status()
    return Fetch(seconds, len(response.content), response.json())


@dataclass
class Side:
    """One dashboard's figures; None where a figure does not apply."""

    load_seconds: float = 0.0
    first: dict[str, Fetch] = field(default_factory=dict)  # cold, request -> figure
    warm: dict[str, Fetch] = field(default_factory=dict)
    rss_mb: float = 0.0
    update_seconds: float = 0.0  # from the new run's end to the page seeing it
    update_bytes: int = 0
    poll_seconds: float = 0.0  # server time of one poll / stream tick
    idle_cpu: float | None = None  # server CPU seconds per second, one page open, nothing new


def read_event(lines: Iterator[str]) -> tuple[str, str]:
    """The next server-sent event (name, data), skipping comment lines."""
    name, data = "", ""
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data = line[len("data: ") :]
        elif line == "" and name:
            return name, data
    raise SystemExit("the event stream ended")


def load_hypersweep(data_dir: Path, runs: list[dict[str, Any]]) -> tuple[str, float]:
    from hypersweep.controller import Controller, create_sweep
    from hypersweep.store import open_store

    started = time.perf_counter()
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with open_store(data_dir) as store:
        sweep, _ = create_sweep(store, CONFIG, now, project="bench")
        control = Controller(store)
        for index, run in enumerate(runs):
            losses = run["losses"]
            control.import_run(
                sweep.id,
                now + timedelta(seconds=index),
                params=run["params"],
                name=f"run-{index:05d}",
                history=[(step, {"loss": loss}) for step, loss in enumerate(losses)],
                summary={"loss": losses[-1]},
                exit_code=0,
            )
    return sweep.id, time.perf_counter() - started


def measure_hypersweep(
    data_dir: Path, sweep_id: str, steps: int, work: Path, idle_window: float
) -> Side:
    side = Side()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "hypersweep", "server", "--port", str(port), "--no-auth"]
    argv += ["--log-level", "warning", "--data-dir", str(data_dir)]
    with process(argv, url + API + "/health", work / "hypersweep.log") as proc:
        base = f"{url}{API}/sweeps/{sweep_id}"
        with httpx.Client(timeout=300) as client:
            for target in (side.first, side.warm):
                started = time.perf_counter()
                with client.stream("GET", base + "/events") as stream:
                    name, data = read_event(stream.iter_lines())
                assert name == "snapshot", name
                target["events snapshot"] = Fetch(time.perf_counter() - started, len(data))
                target["importance"] = fetch(client, base + "/importance")
                page_url = f"{base}/runs?limit={PAGE}&sort=summary.loss"
                target["runs page (50)"] = fetch(client, page_url)
                page = target["runs page (50)"].body
                curves = [
                    fetch(
                        client, f"{url}{API}/runs/{run['id']}/history?keys=loss&samples={SAMPLES}"
                    )
                    for run in page
                ]
                target[f"curves ({PAGE} x samples={SAMPLES})"] = Fetch(
                    sum(c.seconds for c in curves), sum(c.size for c in curves)
                )
                target["agents"] = fetch(client, base + "/agents")
            side.rss_mb = rss_mb(proc.pid)

            # one page open, nothing happening: what its stream costs the server
            with client.stream("GET", base + "/events") as stream:
                lines = stream.iter_lines()
                read_event(lines)
                cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
                time.sleep(idle_window)
                side.idle_cpu = (cpu_seconds(proc.pid) - cpu0) / (time.perf_counter() - wall0)
                new = {
                    "name": "run-new",
                    "params": {"lr": 0.003, "dropout": 0.1, "optimizer": "adam", "batch_size": 32},
                    "history": [
                        {"step": s, "metrics": {"loss": 1 / (s + 1)}} for s in range(steps)
                    ],
                    "summary": {"loss": 1 / steps},
                    "exit_code": 0,
                }
                client.post(base + "/runs", json=new).raise_for_status()
                ended = time.perf_counter()
                while True:
                    name, data = read_event(lines)
                    if name == "delta" and "run-new" in data:
                        side.update_seconds = time.perf_counter() - ended
                        side.update_bytes = len(data)
                        break
    return side


def load_optuna(
    python: str, storage: str, runs: list[dict[str, Any]], work: Path
) -> tuple[int, float]:
    data = work / "runs.json"
    data.write_text(json.dumps(runs))
    started = time.perf_counter()
    out = subprocess.run(
        [python, "-c", OPTUNA_LOADER, storage, str(data), "bench"],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    study_id = int(json.loads(out.stdout.strip().splitlines()[-1])["study_id"])
    return study_id, seconds


def measure_optuna(
    python: str, storage: str, study_id: int, steps: int, work: Path, poll_every: float
) -> Side:
    side = Side()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    dashboard = str(Path(python).parent / "optuna-dashboard")
    argv = [dashboard, storage, "--port", str(port), "--host", "127.0.0.1"]
    with process(argv, url + "/api/meta", work / "optuna-dashboard.log") as proc:
        base = f"{url}/api/studies/{study_id}"
        with httpx.Client(timeout=600) as client:
            for target in (side.first, side.warm):
                target["study detail (after=0)"] = fetch(client, base + "?after=0")
                target["param_importances"] = fetch(client, base + "/param_importances")
            side.rss_mb = rss_mb(proc.pid)
            count = len(side.warm["study detail (after=0)"].body["trials"])
            one = {"lr": 0.003, "dropout": 0.1, "optimizer": "adam", "batch_size": 32}
            losses = [1 / (s + 1) for s in range(steps)]
            add = work / "one.json"
            add.write_text(json.dumps([{"params": one, "losses": losses}]))
            subprocess.run(
                [python, "-c", OPTUNA_LOADER, storage, str(add), "bench"],
                check=True,
                capture_output=True,
            )
            ended = time.perf_counter()
            # the page's poll: now, then every poll_every seconds, until the trial is there
            while True:
                poll = fetch(client, f"{base}?after={count}")
                if poll.body["trials"]:
                    side.update_seconds = time.perf_counter() - ended
                    side.update_bytes = poll.size
                    break
                time.sleep(poll_every)
            # one poll once the trials cache has expired: the server re-reads every trial
            time.sleep(10.5)
            side.poll_seconds = fetch(client, f"{base}?after={count + 1}").seconds
    return side


# -- report -------------------------------------------------------------------------------------


def _kb(size: int) -> str:
    return f"{size / 1024:,.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:,.2f} MB"


def _ratio(a: float, b: float) -> str:
    if a <= 0 or b <= 0:
        return "—"
    return f"{b / a:,.1f}x"


def report(args: argparse.Namespace, hs: Side, op: Side) -> str:
    def total(side: Side, which: str) -> Fetch:
        figures = getattr(side, which).values()
        return Fetch(sum(f.seconds for f in figures), sum(f.size for f in figures))

    lines = [
        f"# Dashboard at scale: hypersweep vs optuna-dashboard ({args.runs:,} runs)",
        "",
        f"Command: `{shlex.join(['.venv/bin/python', *sys.argv])}`  ",
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores, "
        f"load average at the end {os.getloadavg()[0]:.1f} (a shared machine); "
        f"{args.runs:,} finished runs x {args.steps} history steps, 4 parameters; both "
        f"databases in {args.tmp} (so neither pays for disk syncs).",
        "",
        "## Requests of the sweep / study page",
        "",
        "| Server | Request | Cold | Size | Warm |",
        "|---|---|---:|---:|---:|",
    ]
    for name, side in (("hypersweep", hs), ("optuna-dashboard", op)):
        for request, cold in side.first.items():
            warm = side.warm[request]
            lines.append(
                f"| {name} | {request} | {cold.seconds * 1000:,.0f} ms | {_kb(cold.size)} "
                f"| {warm.seconds * 1000:,.0f} ms |"
            )
    hs_first, op_first = total(hs, "first"), total(op, "first")
    hs_warm, op_warm = total(hs, "warm"), total(op, "warm")
    lines += [
        "",
        "## Side by side",
        "",
        "| | hypersweep | optuna-dashboard | optuna / hypersweep |",
        "|---|---:|---:|---:|",
        f"| Load {args.runs:,} runs (not compared: Optuna's rows are bulk-written) "
        f"| {hs.load_seconds:,.1f} s | {op.load_seconds:,.1f} s | — |",
        f"| First answer, cold (all requests) | {hs_first.seconds:,.2f} s "
        f"| {op_first.seconds:,.2f} s | {_ratio(hs_first.seconds, op_first.seconds)} |",
        f"| First answer, warm | {hs_warm.seconds:,.2f} s | {op_warm.seconds:,.2f} s "
        f"| {_ratio(hs_warm.seconds, op_warm.seconds)} |",
        f"| First answer, bytes | {_kb(hs_first.size)} | {_kb(op_first.size)} "
        f"| {_ratio(hs_first.size, op_first.size)} |",
        f"| Server RSS after the first answers | {hs.rss_mb:,.0f} MB | {op.rss_mb:,.0f} MB "
        f"| {_ratio(hs.rss_mb, op.rss_mb)} |",
        f"| A run finishes: delay until the page has it | {hs.update_seconds:,.2f} s "
        f"| {op.update_seconds:,.2f} s | {_ratio(hs.update_seconds, op.update_seconds)} |",
        f"| A run finishes: bytes to the page | {_kb(hs.update_bytes)} | {_kb(op.update_bytes)} "
        f"| {_ratio(hs.update_bytes, op.update_bytes)} |",
        f"| Server cost of watching (per page) | {hs.idle_cpu or 0:,.3f} CPU-s per s "
        f"(a store read every second) | {op.poll_seconds:,.2f} s per poll, every 10 s "
        f"| {_ratio(hs.idle_cpu or 0, op.poll_seconds / 10)} |",
        "",
        "hypersweep's first answer is the event snapshot (parameters and summaries of every run, "
        "no history), the importance, one table page of "
        f"{PAGE} runs and those runs' curves (`samples={SAMPLES}`; with {args.steps} steps "
        "a run has fewer rows than that, so nothing is dropped). optuna-dashboard's study page "
        "reads every trial with every intermediate value, then the importances. hypersweep's "
        "update is the `delta` event holding the new run and its history rows; "
        "optuna-dashboard's is the page's next 10 s poll, answered from a trials cache that the "
        "server refreshes (re-reading all trials) when it is 10 s old. The last row compares "
        "server CPU per second of one open page: hypersweep's stream reads every run from the "
        "store each second; optuna-dashboard's poll reads them every 10 s (the poll's wall "
        "time, over 10).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--optuna-python", default="/work/bench-venv/bin/python")
    parser.add_argument("--idle-window", type=float, default=10.0, help="seconds of quiet measured")
    parser.add_argument("--poll-every", type=float, default=10.0, help="optuna-dashboard's poll")
    parser.add_argument("--out", type=Path, help="write the Markdown report here too")
    parser.add_argument("--tmp", default="/dev/shm", help="where both databases go")
    args = parser.parse_args()

    runs = make_runs(args.runs, args.steps, args.seed)
    with tempfile.TemporaryDirectory(prefix="hs-dash-bench-", dir=args.tmp) as tmp:
        work = Path(tmp)
        print(f"loading {args.runs} runs into hypersweep ...", flush=True)
        sweep_id, hs_load = load_hypersweep(work / "hs", runs)
        print(f"  {hs_load:.1f} s; loading into Optuna ...", flush=True)
        storage = f"sqlite:///{work / 'optuna.db'}"
        study_id, op_load = load_optuna(args.optuna_python, storage, runs, work)
        print(f"  {op_load:.1f} s; measuring hypersweep ...", flush=True)
        hs = measure_hypersweep(work / "hs", sweep_id, args.steps, work, args.idle_window)
        hs.load_seconds = hs_load
        print("measuring optuna-dashboard ...", flush=True)
        op = measure_optuna(
            args.optuna_python, storage, study_id, args.steps, work, args.poll_every
        )
        op.load_seconds = op_load
    text = report(args, hs, op)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
