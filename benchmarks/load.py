"""Many simulated agents against a real server on loopback (run by hand, never in tests).

For each store (SQLite with one server process; PostgreSQL with one and with two) and each
number of agents M, a fresh database and a fresh ``hypersweep server`` process, one random
sweep, and M simulated agents (``benchmarks/_load_agent.py``) that register, heartbeat, take
runs, start them, log history in batches of ROWS rows every PERIOD seconds (BATCHES batches
per run), finish them and ask for the next, for DURATION seconds. Reported: heartbeats per
second and their latency, the assignment latency (the round trip of the heartbeat that brings a
run; also without each agent's first, the start-up burst of the whole fleet asking at one
instant), history rows per second stored (the server acknowledged them), runs completed per second,
errors (transport failures and 4xx/5xx answers), and from the server's own list of runs
afterwards: duplicate assignments (a run handed out twice, a run recorded for another agent
than the one that got it, two runs with the same parameters) and lost ones (a run the server
assigned that no agent received, or one an agent received that the server does not have), and
runs not ``finished`` at the end. Server CPU is read from /proc for the window.

Agents are not one process each: M = 256 Python processes would take most of the two cores
just to exist. They are PROCS processes (8 by default) of M / PROCS asyncio agents each, every
agent with its own connection, speaking the raw HTTP API through httpx (not the client
library, whose threads and models cost more than the server work being measured). Each agent's
run is serial as in a real run (the next batch waits for the previous answer, then for the
period's tick), so an overloaded server slows the offered load instead of queueing it.

Side by side, completed runs per second with a trivial objective: hypersweep agents whose runs
log one batch of one row and finish at once (heartbeat -> start -> history -> finish: the four
requests of a real sweep run), against Optuna workers, one process each, looping
``study.optimize`` (RandomSampler, one float and one log-float, return x*x) on RDBStorage over
the same PostgreSQL server, each in a fresh database. Both use random search, so what is
compared is the cost of handing out and recording a trial, not the sampler. Optuna runs from a
separate virtualenv (``--optuna-python``; ``pip install optuna psycopg2-binary``); without it the
Optuna rows are skipped and named in the output.

``--server-timing`` also times the hand-outs inside the server (``_timed_server.py``, a pure
ASGI middleware around the app): on one machine the agents' own figures include the time their
processes, short of CPU when the whole fleet starts at once, took to send a request and to read
its answer; the server's figures do not.

``--nodelay`` starts the server with TCP_NODELAY on its listening socket (see
``NODELAY_LAUNCHER``): as shipped, every request after the first on a kept-alive connection
waits about 40 ms for a delayed ACK, which this separates from the server's own costs.

    .venv/bin/python benchmarks/load.py --out /tmp/load-as-shipped.md
    .venv/bin/python benchmarks/load.py --nodelay --skip-optuna --out /tmp/load-nodelay.md
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
AGENT = HERE / "_load_agent.py"
TIMED_SERVER = HERE / "_timed_server.py"
API = "/api/v1"

SWEEP = {
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "x": {"min": 0.0, "max": 1.0},
        "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
    },
}


def auth() -> tuple[list[str], dict[str, str]]:
    """The server's auth flags and the requests' headers: the one place to change for keys.

    With HYPERSWEEP_API_KEY set the server runs with authentication and every request (the
    agents read the same variable) carries the key; otherwise ``--no-auth`` on loopback."""
    key = os.environ.get("HYPERSWEEP_API_KEY")
    if key:
        return [], {"Authorization": f"Bearer {key}"}
    return ["--no-auth"], {}


@dataclass(frozen=True)
class StoreKind:
    name: str
    postgres: bool
    workers: int


STORES = {
    "sqlite": StoreKind("SQLite, 1 process", False, 1),
    "pg1": StoreKind("PostgreSQL, 1 process", True, 1),
    "pg2": StoreKind("PostgreSQL, 2 processes", True, 2),
}


# -- databases, servers, processes --------------------------------------------------------------


@contextlib.contextmanager
def pg_database(base: str, tag: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one configuration (dropped after): its SQLAlchemy URL."""
    import psycopg

    name = f"hs_load_{tag}_{os.getpid()}"
    admin = base.replace("+psycopg", "", 1) + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def database(
    kind: StoreKind, args: argparse.Namespace, work: Path, tag: str
) -> Iterator[list[str]]:
    """The server's store arguments for a fresh database."""
    if not kind.postgres:
        yield ["--data-dir", str(work / tag)]
        return
    with pg_database(args.pg, tag) as url:
        yield ["--db", url]


# ``--nodelay``: the server with TCP_NODELAY on its listening socket (accepted sockets inherit
# it on Linux). hypersweep's ``bind()`` makes the socket without ``IPPROTO_TCP``, so asyncio does
# not recognise accepted connections as TCP and leaves Nagle's algorithm on: a keep-alive
# request's answer (headers and body are two writes) then waits for the client's delayed ACK,
# about 40 ms. This launcher stands in for the one-line fix in ``server/_embedded.py``.
NODELAY_LAUNCHER = textwrap.dedent(
    """
    import socket, sys
    from hypersweep.server import _embedded, _workers

    plain = _embedded.bind

    def bind(host, port):
        sock = plain(host, port)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    _embedded.bind = _workers.bind = bind
    from hypersweep.cli import main

    sys.argv[0] = "hypersweep"
    main()
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]

    def cpu_seconds(self) -> float:
        """CPU time of the server and its worker processes so far."""
        return sum(_cpu(pid) for pid in _tree(self.process.pid))


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def _cpu(pid: int) -> float:
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(
    store_args: list[str],
    workers: int,
    work: Path,
    tag: str,
    nodelay: bool,
    timing: Path | None = None,
) -> Iterator[Server]:
    port = free_port()
    flags, headers = auth()
    launcher = ["-c", NODELAY_LAUNCHER] if nodelay else ["-m", "hypersweep"]
    env = None
    if timing is not None:  # --server-timing
        launcher = [str(TIMED_SERVER)]
        env = {**os.environ, "HYPERSWEEP_BENCH_TIMING": str(timing)}
    argv = [sys.executable, *launcher, "server", "--port", str(port)]
    argv += ["--log-level", "warning", *flags, *store_args]
    if workers > 1:
        argv += ["--workers", str(workers)]
    url = f"http://127.0.0.1:{port}"
    log = work / f"server-{tag}.log"
    with server_process(argv, url, log, env=env, headers=headers) as process:
        yield Server(url, process)


@contextlib.contextmanager
def server_process(
    argv: list[str],
    url: str,
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``hypersweep server`` started from ``argv``, once its ``/health`` at ``url`` answers;
    its output goes to ``log_path``. At the end it gets SIGINT, then SIGKILL after 30 s."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise SystemExit(f"the server exited with {process.returncode}:\n{tail}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + API + "/health", headers=headers).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server did not answer within 120 s; see {log_path}")
                time.sleep(0.2)  # a polled start-up: the server process has no readiness pipe
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


LOADAVG: list[float] = []  # the machine's 1-minute load average at the end of each window


def run_group(
    argvs: Sequence[list[str]], duration: float, work: Path, srv: Server | None
) -> tuple[list[dict[str, Any]], float]:
    """Start the processes, wait for each to print ``ready``, give them one start time, and
    collect the JSON each prints last. Returns the results and the server's CPU seconds in
    the window."""
    with (work / "workers.log").open("ab") as log:
        procs = [
            subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
            )
            for argv in argvs
        ]
        try:
            for proc in procs:
                assert proc.stdout is not None and proc.stdin is not None
                line = proc.stdout.readline()
                if line.strip() != "ready":
                    log.flush()
                    tail = Path(log.name).read_text(errors="replace")[-800:]
                    raise SystemExit(f"a worker failed before starting ({line!r}): {tail}")
            start = time.monotonic() + 0.5
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(f"go {start!r}\n")
                proc.stdin.close()
            time.sleep(max(0.0, start - time.monotonic()))
            cpu = srv.cpu_seconds() if srv else 0.0
            time.sleep(max(0.0, start + duration - time.monotonic()))
            cpu = (srv.cpu_seconds() - cpu) if srv else 0.0
            LOADAVG.append(os.getloadavg()[0])
            results = []
            for proc in procs:
                assert proc.stdout is not None
                out = proc.stdout.read().strip().splitlines()
                if proc.wait(timeout=300) != 0 or not out:
                    raise SystemExit(f"a worker exited with {proc.returncode}; see {log.name}")
                results.append(json.loads(out[-1]))
            return results, cpu
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


# -- hypersweep ----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Outcome:
    system: str
    store: str
    agents: int
    mode: str
    duration: float
    heartbeats: int
    heartbeat_ms: list[float]
    assign_ms: list[float]
    rows: int
    history_ms: list[float]
    completed: int
    errors: int
    error_samples: list[str]
    duplicates: int
    lost: int
    unfinished: int
    runs: int
    server_cpu: float
    agents_cpu: float
    loadavg: float = 0.0
    later_assign_ms: list[float] = field(default_factory=list)  # agents' first ones left out
    inside: ServerView = field(default_factory=lambda: ServerView())

    def rate(self, count: int) -> float:
        return count / self.duration


@dataclass
class ServerView:
    """Hand-outs timed inside the server (``--server-timing``): from a heartbeat's arrival to
    its answer, and the fleet's first hand-outs (one per agent): from the first one's arrival
    to the last one's, and to the last one's answer."""

    assign_ms: list[float] = field(default_factory=list)
    first_spread_ms: float = float("nan")
    first_answered_ms: float = float("nan")
    later_ms: list[float] = field(default_factory=list)  # after the fleet's first hand-outs


def server_view(folder: Path, start: float, end: float, agents: int) -> ServerView:
    notes = [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    handed = sorted(
        (arrival, ms)
        for arrival, ms, endpoint, run in notes
        if endpoint == "heartbeat" and run and start <= arrival <= end
    )
    if not handed:
        return ServerView()
    first = handed[:agents]
    answered = max(arrival + ms / 1000 for arrival, ms in first)
    return ServerView(
        [ms for _, ms in handed],
        (first[-1][0] - first[0][0]) * 1000,
        (answered - first[0][0]) * 1000,
        [ms for _, ms in handed[agents:]],
    )


def split(total: int, parts: int) -> list[int]:
    parts = min(parts, total)
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def hypersweep_load(
    kind: StoreKind, agents: int, mode: str, args: argparse.Namespace, work: Path
) -> Outcome:
    tag = f"{'pg' if kind.postgres else 'sqlite'}{kind.workers}_{mode}_{agents}"
    _, headers = auth()
    timing = work / f"timing-{tag}" if args.server_timing else None
    if timing is not None:
        timing.mkdir()
    with (
        database(kind, args, work, tag) as store_args,
        server(store_args, kind.workers, work, tag, args.nodelay, timing) as srv,
        httpx.Client(base_url=srv.url + API, headers=headers, timeout=60) as client,
    ):
        created = client.post("/sweeps", json={"config": SWEEP, "project": "load"})
        created.raise_for_status()
        sweep = created.json()["id"]
        argvs = [
            [
                sys.executable,
                str(AGENT),
                "--url",
                srv.url,
                "--sweep",
                sweep,
                "--agents",
                str(n),
                "--index",
                str(i),
                "--duration",
                str(args.duration),
                "--mode",
                mode,
                "--batches",
                str(args.batches),
                "--rows",
                str(args.rows),
                "--period",
                str(args.period),
                "--heartbeat",
                str(args.heartbeat),
            ]
            for i, n in enumerate(split(agents, args.procs))
        ]
        results, cpu = run_group(argvs, args.duration, work, srv)
        listed = client.get(f"/sweeps/{sweep}/runs")
        listed.raise_for_status()
        runs = listed.json()
    received = [tuple(pair) for r in results for pair in r["received"]]
    duplicates, lost, unfinished = check(received, runs)
    end = min(r["end"] for r in results)
    inside = server_view(timing, end - args.duration, end, agents) if timing else ServerView()
    return Outcome(
        system="hypersweep",
        store=kind.name,
        agents=agents,
        mode=mode,
        duration=args.duration,
        heartbeats=sum(r["heartbeats"] for r in results),
        heartbeat_ms=[v for r in results for v in r["heartbeat_ms"]],
        assign_ms=[v for r in results for v in r["assign_ms"]],
        later_assign_ms=[v for r in results for v in r["later_assign_ms"]],
        inside=inside,
        rows=sum(r["history_rows"] for r in results),
        history_ms=[v for r in results for v in r["history_ms"]],
        completed=sum(r["completed"] for r in results),
        errors=sum(r["errors"] for r in results),
        error_samples=[s for r in results for s in r["error_samples"]][:5],
        duplicates=duplicates,
        lost=lost,
        unfinished=unfinished,
        runs=len(runs),
        server_cpu=cpu,
        agents_cpu=sum(r["cpu_s"] for r in results),
        loadavg=LOADAVG[-1],
    )


def check(received: Sequence[tuple[str, ...]], runs: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Duplicate and lost assignments, and runs not finished, from the agents' view and the
    server's list of runs."""
    by_id = {run["id"]: run for run in runs}
    handed = Counter(run for _, run in received)
    duplicates = sum(n - 1 for n in handed.values() if n > 1)
    duplicates += sum(
        1 for agent, run in received if run in by_id and by_id[run]["agent_id"] != agent
    )
    params = Counter(json.dumps(run["params"], sort_keys=True) for run in runs)
    duplicates += sum(n - 1 for n in params.values() if n > 1)
    assigned = {run["id"] for run in runs if run["agent_id"] is not None}
    lost = len(assigned - set(handed)) + len(set(handed) - set(by_id))
    unfinished = sum(1 for run in runs if run["state"] != "finished")
    return duplicates, lost, unfinished


# -- Optuna --------------------------------------------------------------------------------------

OPTUNA_WORKER = textwrap.dedent(
    """
    import json, sys, time
    import optuna
    from sqlalchemy.pool import NullPool

    url, name, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # No pool: a connection per session, so an idle worker holds none. With its default pool
    # a worker holds up to two, and 64 workers pass PostgreSQL's default max_connections (100).
    for attempt in range(10):  # workers starting together race on PostgreSQL; try again
        try:
            storage = optuna.storages.RDBStorage(url, engine_kwargs={"poolclass": NullPool})
            study = optuna.load_study(
                study_name=name, storage=storage, sampler=optuna.samplers.RandomSampler()
            )
            break
        except Exception:
            if attempt == 9:
                raise
            time.sleep(min(1 + attempt, 5))
    print("ready", flush=True)
    start = float(sys.stdin.readline().split()[1])
    end = start + duration
    time.sleep(max(0.0, start - time.monotonic()))
    done, errors, samples = [0], 0, []

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        return x * x

    def count(study, trial):
        if time.monotonic() <= end:
            done[0] += 1

    cpu = time.process_time()
    while time.monotonic() < end:
        try:
            study.optimize(objective, timeout=end - time.monotonic(), callbacks=[count])
        except Exception as exc:  # a storage error ends optimize(); count it and go on
            errors += 1
            samples.append(f"{type(exc).__name__}: {exc}"[:200])
    print(json.dumps({"completed": done[0], "errors": errors, "error_samples": samples[:3],
                      "cpu_s": time.process_time() - cpu}), flush=True)
    """
)


def optuna_load(workers: int, args: argparse.Namespace, work: Path) -> Outcome:
    script = work / "optuna_worker.py"
    script.write_text(OPTUNA_WORKER)
    with pg_database(args.pg, f"optuna_{workers}") as url:
        url = url.replace("+psycopg/", "+psycopg2/", 1).replace("+psycopg:", "+psycopg2:", 1)
        create = f"import optuna; optuna.create_study(study_name='load', storage={url!r})"
        subprocess.run([args.optuna_python, "-c", create], check=True, capture_output=True)
        argvs = [
            [args.optuna_python, str(script), url, "load", str(args.duration)]
            for _ in range(workers)
        ]
        results, _ = run_group(argvs, args.duration, work, None)
        count = (
            "import optuna; "
            f"print(len(optuna.load_study(study_name='load', storage={url!r}).trials))"
        )
        trials = int(
            subprocess.run(
                [args.optuna_python, "-c", count], check=True, capture_output=True, text=True
            ).stdout
        )
    return Outcome(
        system="Optuna RDBStorage",
        store="PostgreSQL",
        agents=workers,
        mode="trivial",
        duration=args.duration,
        heartbeats=0,
        heartbeat_ms=[],
        assign_ms=[],
        rows=0,
        history_ms=[],
        completed=sum(r["completed"] for r in results),
        errors=sum(r["errors"] for r in results),
        error_samples=[s for r in results for s in r["error_samples"]][:5],
        duplicates=0,
        lost=0,
        unfinished=0,
        runs=trials,
        server_cpu=0.0,
        agents_cpu=sum(r["cpu_s"] for r in results),
        loadavg=LOADAVG[-1],
    )


# -- report --------------------------------------------------------------------------------------


def fmt(value: float, digits: int = 0) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def load_table(outcomes: list[Outcome], args: argparse.Namespace) -> list[str]:
    lines = [
        "| store | agents | heartbeats/s | heartbeat p50 / p99 ms | assignment p50 / p99 ms "
        "| history rows/s (offered at most) | batch p50 / p99 ms | runs completed/s | errors "
        "| duplicate | lost | not finished | server CPU | agents' CPU | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    offered = args.rows / args.period
    for o in outcomes:
        lines.append(
            f"| {o.store} | {o.agents} | {fmt(o.rate(o.heartbeats))} "
            f"| {fmt(pct(o.heartbeat_ms, 0.5), 1)} / {fmt(pct(o.heartbeat_ms, 0.99), 1)} "
            f"| {fmt(pct(o.assign_ms, 0.5), 1)} / {fmt(pct(o.assign_ms, 0.99), 1)} "
            f"| {fmt(o.rate(o.rows))} ({fmt(offered * o.agents)}) "
            f"| {fmt(pct(o.history_ms, 0.5), 1)} / {fmt(pct(o.history_ms, 0.99), 1)} "
            f"| {fmt(o.rate(o.completed), 1)} | {o.errors} | {o.duplicates} | {o.lost} "
            f"| {o.unfinished} of {o.runs} | {o.server_cpu / o.duration:.2f} cores "
            f"| {o.agents_cpu / o.duration:.2f} cores | {o.loadavg:.1f} |"
        )
    return lines


def server_table(outcomes: list[Outcome]) -> list[str]:
    lines = [
        "| store | agents | mode | assignment inside the server p50 / p99 / max ms "
        "| after the fleet's first p50 / p99 / max ms "
        "| the fleet's first hand-outs arrived over | and were all answered after |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        view = o.inside
        if not view.assign_ms:
            continue
        later = view.later_ms or [float("nan")]
        lines.append(
            f"| {o.store} | {o.agents} | {o.mode} | {fmt(pct(view.assign_ms, 0.5), 1)} / "
            f"{fmt(pct(view.assign_ms, 0.99), 1)} / {fmt(max(view.assign_ms), 1)} "
            f"| {fmt(pct(later, 0.5), 1)} / {fmt(pct(later, 0.99), 1)} / {fmt(max(later), 1)} "
            f"| {fmt(view.first_spread_ms, 1)} ms | {fmt(view.first_answered_ms, 1)} ms |"
        )
    return lines


def trivial_table(outcomes: list[Outcome]) -> list[str]:
    lines = [
        "| system | store | workers | completed runs/s | assignment p50 / p99 ms | errors "
        "| duplicate | lost | server CPU | workers' CPU | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        server_cpu = (
            f"{o.server_cpu / o.duration:.2f} cores"
            if o.system == "hypersweep"
            else "(PostgreSQL only)"
        )
        lines.append(
            f"| {o.system} | {o.store} | {o.agents} | {fmt(o.rate(o.completed), 1)} "
            f"| {fmt(pct(o.assign_ms, 0.5), 1)} / {fmt(pct(o.assign_ms, 0.99), 1)} | {o.errors} "
            f"| {o.duplicates} | {o.lost} | {server_cpu} | {o.agents_cpu / o.duration:.2f} cores "
            f"| {o.loadavg:.1f} |"
        )
    return lines


def _inside_line(outcome: Outcome) -> list[str]:
    """The same hand-outs timed inside the server, when ``--server-timing`` timed them."""
    view = outcome.inside
    if not view.assign_ms:
        return []
    later = view.later_ms or [float("nan")]
    return [
        f"  (inside the server: p99 {fmt(pct(view.assign_ms, 0.99), 1)} ms, after the fleet's "
        f"first hand-outs {fmt(pct(later, 0.99), 1)} ms; the rest of the agents' figure is "
        "their own processes waiting to send and to read)"
    ]


def verdict(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def targets(load: list[Outcome], trivial: list[Outcome]) -> list[str]:
    lines: list[str] = []

    def find(
        items: list[Outcome], store: str, agents: int, system: str = "hypersweep"
    ) -> Outcome | None:
        return next(
            (o for o in items if o.store == store and o.agents == agents and o.system == system),
            None,
        )

    sqlite64 = find(load, STORES["sqlite"].name, 64)
    if sqlite64:
        p99 = pct(sqlite64.assign_ms, 0.99)
        rows = sqlite64.rate(sqlite64.rows)
        lines += [
            f"- 64 agents on SQLite, 0 errors: {sqlite64.errors} errors: "
            f"{verdict(sqlite64.errors == 0)}",
            f"- 64 agents on SQLite, assignment p99 under 100 ms: {fmt(p99, 1)} ms "
            f"= {p99 / 100:.2f}x the limit: {verdict(p99 < 100)}",
            "  (without each agent's first hand-out, the fleet's start-up burst: p50 / p99 "
            f"{fmt(pct(sqlite64.later_assign_ms, 0.5), 1)} / "
            f"{fmt(pct(sqlite64.later_assign_ms, 0.99), 1)} ms over "
            f"{len(sqlite64.later_assign_ms)} hand-outs; all: {len(sqlite64.assign_ms)})",
            *_inside_line(sqlite64),
            f"- 64 agents on SQLite, at least 20,000 history rows/s: {fmt(rows)} rows/s "
            f"= {rows / 20000:.2f}x the target: {verdict(rows >= 20000)}",
        ]
    for agents in sorted({o.agents for o in load}):
        one, two = find(load, STORES["pg1"].name, agents), find(load, STORES["pg2"].name, agents)
        if one and two:
            pairs = {
                "history rows/s": (two.rate(two.rows), one.rate(one.rows)),
                "heartbeats/s": (two.rate(two.heartbeats), one.rate(one.heartbeats)),
                "runs completed/s": (two.rate(two.completed), one.rate(one.completed)),
            }
            ratios = {name: a / b if b else float("nan") for name, (a, b) in pairs.items()}
            shown = ", ".join(
                f"{name} {ratio:.2f}x" if b else f"{name} {a:.1f} vs none in 1 process"
                for (name, ratio), (a, b) in zip(ratios.items(), pairs.values(), strict=True)
            )
            lines.append(
                f"- {agents} agents, PostgreSQL 2 processes / 1 process at least 1.5x: {shown}: "
                f"{verdict(ratios['history rows/s'] >= 1.5)} (judged on history rows/s)"
            )
    for agents in sorted({o.agents for o in trivial}):
        optuna = find(trivial, "PostgreSQL", agents, "Optuna RDBStorage")
        for key in ("pg1", "pg2"):
            ours = find(trivial, STORES[key].name, agents)
            if optuna and ours:
                ratio = ours.rate(ours.completed) / max(optuna.rate(optuna.completed), 1e-9)
                target = f": {verdict(ratio >= 3)}" if agents == 64 else " (the target is at 64)"
                lines.append(
                    f"- {agents} workers, hypersweep {ours.store} / Optuna RDBStorage, completed "
                    f"runs/s at least 3x: {ours.rate(ours.completed):.1f} / "
                    f"{optuna.rate(optuna.completed):.1f} = {ratio:.2f}x{target}"
                )
    bad = [o for o in load + trivial if o.duplicates or o.lost]
    lines.append(
        "- duplicate or lost assignments 0 everywhere: "
        + (
            verdict(True)
            if not bad
            else verdict(False) + " in " + ", ".join(f"{o.store} {o.agents}" for o in bad)
        )
    )
    return lines


def attempt(
    failed: list[str], name: str, measure: Callable[..., Outcome], *params: Any
) -> Outcome | None:
    """One configuration; a failure is recorded and the others still run."""
    try:
        return measure(*params)
    except (SystemExit, Exception) as exc:  # a benchmark reports it and goes on
        failed.append(f"{name}: {type(exc).__name__}: {str(exc)[-500:]}")
        print(f"FAILED {failed[-1]}", flush=True)
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="16,64,256", help="numbers of agents, comma separated")
    parser.add_argument("--stores", default="sqlite,pg1,pg2", help=f"of {', '.join(STORES)}")
    parser.add_argument(
        "--duration", type=float, default=30.0, help="seconds measured per configuration"
    )
    parser.add_argument("--procs", type=int, default=8, help="processes the agents are spread over")
    parser.add_argument("--batches", type=int, default=20, help="history batches per run")
    parser.add_argument("--rows", type=int, default=50, help="rows per history batch")
    parser.add_argument("--period", type=float, default=0.1, help="seconds between a run's batches")
    parser.add_argument(
        "--heartbeat", type=float, default=1.0, help="seconds between a busy agent's heartbeats"
    )
    parser.add_argument(
        "--trivial", default="16,64", help="workers for the trivial-objective comparison"
    )
    parser.add_argument("--trivial-stores", default="sqlite,pg1,pg2")
    parser.add_argument(
        "--pg",
        default="postgresql+psycopg://postgres@127.0.0.1:5432",
        help="PostgreSQL server URL, no database",
    )
    parser.add_argument("--optuna-python", default="/work/bench-venv/bin/python")
    parser.add_argument(
        "--nodelay",
        action="store_true",
        help="start the server with TCP_NODELAY on its socket (the proposed fix; see above)",
    )
    parser.add_argument(
        "--server-timing",
        action="store_true",
        help="also time hand-outs inside the server (benchmarks/_timed_server.py)",
    )
    parser.add_argument("--skip-optuna", action="store_true", help="leave out the Optuna rows")
    parser.add_argument("--out", type=Path, help="also write the results as Markdown here")
    args = parser.parse_args()
    numbers = [int(n) for n in args.agents.split(",") if n]
    trivial_numbers = [int(n) for n in args.trivial.split(",") if n]
    kinds = [STORES[name] for name in args.stores.split(",") if name]
    trivial_kinds = [STORES[name] for name in args.trivial_stores.split(",") if name]
    skipped: list[str] = []
    failed: list[str] = []
    load: list[Outcome] = []
    trivial: list[Outcome] = []
    started = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="hs-load-") as tmp:
        work = Path(tmp)
        for kind in kinds:
            for agents in numbers:
                name = f"{kind.name}, {agents} agents"
                outcome = attempt(failed, name, hypersweep_load, kind, agents, "long", args, work)
                if outcome:
                    load.append(outcome)
                    print(*load_table([outcome], args)[2:], flush=True)
        for agents in trivial_numbers:
            for kind in trivial_kinds:
                name = f"trivial, {kind.name}, {agents} agents"
                outcome = attempt(
                    failed, name, hypersweep_load, kind, agents, "trivial", args, work
                )
                if outcome:
                    trivial.append(outcome)
                    print(*trivial_table([outcome])[2:], flush=True)
            if args.skip_optuna:
                pass
            elif Path(args.optuna_python).exists():
                name = f"Optuna, {agents} workers"
                outcome = attempt(failed, name, optuna_load, agents, args, work)
                if outcome:
                    trivial.append(outcome)
                    print(*trivial_table([outcome])[2:], flush=True)
            elif "Optuna" not in skipped:
                skipped.append("Optuna")
        errors = [
            f"{o.system} {o.store} {o.agents}: {s}" for o in load + trivial for s in o.error_samples
        ]
    command = shlex.join([".venv/bin/python", "benchmarks/load.py", *sys.argv[1:]])
    text = [
        f"## Load: many agents on one server ({started.date()})",
        "",
        f"`{command}`, started {started:%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores shared by "
        f"server, PostgreSQL and the simulated agents ({args.procs} processes); "
        f"{args.duration:g} s measured per configuration; runs of {args.batches} batches of "
        f"{args.rows} rows every {args.period * 1000:g} ms, a heartbeat every {args.heartbeat:g} s "
        f"while a run is alive; server "
        + ("with TCP_NODELAY on its socket (--nodelay)." if args.nodelay else "as shipped."),
        "",
        *load_table(load, args),
        "",
        "Completed runs per second, trivial objective (hypersweep: heartbeat, start, one row, "
        "finish; Optuna: ask, one objective call, tell; random search on both):",
        "",
        *trivial_table(trivial),
        "",
        *(
            [
                "Hand-outs timed inside the server (--server-timing; the agents' figures above "
                "include the time their own processes took to send and read):",
                "",
                *server_table(load + trivial),
                "",
            ]
            if args.server_timing
            else []
        ),
        "Against the issue's targets:",
        "",
        *targets(load, trivial),
    ]
    if skipped:
        text += ["", f"Skipped (not installed at {args.optuna_python}): {', '.join(skipped)}."]
    if failed:
        text += ["", "Configurations that failed (no figures):", "", *(f"- {f}" for f in failed)]
    if errors:
        text += ["", "First errors:", "", *(f"- {e}" for e in errors[:10])]
    print("\n".join(text))
    if args.out:
        args.out.write_text("\n".join(text) + "\n")


if __name__ == "__main__":
    main()
