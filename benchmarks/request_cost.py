"""Server CPU per request, by kind of request (run by hand, never in tests).

``benchmarks/load.py`` measures what many agents get from a busy server; this measures what
each kind of request costs the server, which is what limits a busy one. A real ``hypersweep
server`` is started on a free loopback port, on SQLite in a temporary data dir, or with
``--pg BASE`` on a fresh PostgreSQL database of that server (created and dropped for each rep,
by ``pg_database`` of ``benchmarks/load.py``). One client sends each kind of request N times in
a row; the server's CPU time (user + system, from ``/proc``, the server process and its
children) over those N requests, divided by N, is the cost of one. With one client and no
concurrency the figure is the work per request, free of queueing. It is repeated ``--reps``
times and the median reported.

Kinds, in the order sent:

- **hand-out cycle**: an idle agent's heartbeat that hands out a run, the run's ``start`` and
  its ``finish`` (three requests; the sweep grows by one run per cycle);
- **busy heartbeat**: the heartbeat of an agent whose run is alive (no command back);
- **history batch**: ``POST /runs/{id}/history`` with ``--rows`` rows of two metrics, numbered;
- **health**: ``GET /health``, the framework's floor (no store access).

``--auth`` runs the server with authentication, as shipped (every request then carries the
admin key the server records for itself; without it ``--no-auth``). ``--server-src PATH`` runs
the server with ``PYTHONPATH=PATH``: another copy of ``src/`` (the code before a change), for
A/B runs minutes apart on a machine whose speed varies.

    .venv/bin/python benchmarks/request_cost.py
    .venv/bin/python benchmarks/request_cost.py --pg postgresql+psycopg://postgres@127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from load import Server, free_port, pg_database, server_process

from hypersweep.credentials import load_key

API = "/api/v1"
CONFIG = {
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"lr": {"min": 0.0001, "max": 0.1, "distribution": "log_uniform_values"}},
}


@contextlib.contextmanager
def server(
    args: argparse.Namespace, data_dir: str, db: str | None
) -> Iterator[tuple[Server, dict[str, str]]]:
    """The server, and the headers every request needs (its admin key with ``--auth``)."""
    port = free_port()
    store = ["--db", db] if db else ["--data-dir", data_dir]
    argv = [sys.executable, "-m", "hypersweep", "server", "--port", str(port)]
    argv += ["--log-level", "warning", *store, *([] if args.auth else ["--no-auth"])]
    env = dict(os.environ)
    # with --auth the server records its admin key there, and this process reads it back
    env["HYPERSWEEP_CREDENTIALS"] = str(Path(data_dir) / "credentials.json")
    if args.server_src:
        env["PYTHONPATH"] = args.server_src
    url = f"http://127.0.0.1:{port}"
    log_path = Path(data_dir) / "server.log"
    with server_process(argv, url, log_path, env=env) as process:
        headers = {}
        if args.auth:
            with _environ("HYPERSWEEP_CREDENTIALS", env["HYPERSWEEP_CREDENTIALS"]):
                key = load_key(url)
            if key is None:
                raise SystemExit(f"the server recorded no admin key; see {log_path}")
            headers["Authorization"] = f"Bearer {key}"
        yield Server(url, process), headers


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


class Client:
    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=url + API, headers=headers, timeout=60)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.http.post(path, json=body)
        if response.status_code >= 400:
            raise SystemExit(f"POST {path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json()

    def hand_out(self, agent: str) -> str:
        commands = self.post(f"/agents/{agent}/heartbeat", {"running": []})["commands"]
        runs = [command["run_id"] for command in commands if command["type"] == "run"]
        if not runs:
            raise SystemExit(f"the heartbeat handed out no run: {commands}")
        return str(runs[0])


def measure(srv: Server, count: int, send: Callable[[int], object]) -> float:
    """Server CPU ms per call of ``send(i)``, i = 0 .. count-1."""
    before = srv.cpu_seconds()
    for index in range(count):
        send(index)
    return (srv.cpu_seconds() - before) / count * 1000


def one_rep(args: argparse.Namespace) -> dict[str, float]:
    with contextlib.ExitStack() as stack:
        data_dir = stack.enter_context(tempfile.TemporaryDirectory())
        db = stack.enter_context(pg_database(args.pg, "cost")) if args.pg else None
        return measure_all(args, *stack.enter_context(server(args, data_dir, db)))


def measure_all(args: argparse.Namespace, srv: Server, headers: dict[str, str]) -> dict[str, float]:
    client = Client(srv.url, headers)
    sweep = client.post("/sweeps", {"config": CONFIG, "project": "request-cost"})["id"]
    agent = client.post(f"/sweeps/{sweep}/agents", {"host": "bench", "pid": 1})["id"]
    n = args.requests
    costs: dict[str, float] = {}

    def cycle(_: int) -> None:
        run = client.hand_out(agent)
        client.post(f"/runs/{run}/start", {"host": "bench", "agent_id": agent})
        client.post(f"/runs/{run}/finish", {"exit_code": 0})

    costs["hand-out cycle (3 requests)"] = measure(srv, n, cycle)
    run = client.hand_out(agent)
    client.post(f"/runs/{run}/start", {"host": "bench", "agent_id": agent})
    costs["busy heartbeat"] = measure(
        srv, n, lambda _: client.post(f"/agents/{agent}/heartbeat", {"running": [run]})
    )

    def batch(index: int) -> None:
        first = index * args.rows
        rows = [
            {"step": step, "metrics": {"loss": 1.0 / (step + 1), "acc": step * 1e-4}}
            for step in range(first, first + args.rows)
        ]
        client.post(f"/runs/{run}/history", {"rows": rows, "batch": index + 1})

    costs[f"history batch of {args.rows} rows"] = measure(srv, n, batch)
    costs["health"] = measure(srv, n, lambda _: client.http.get("/health").raise_for_status())
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg", help="a PostgreSQL server's SQLAlchemy URL without a database (as in load.py)"
    )
    parser.add_argument("--requests", type=int, default=500, help="of each kind, per rep")
    parser.add_argument("--rows", type=int, default=50, help="rows per history batch")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--server-src", help="run the server from this copy of src/")
    parser.add_argument(
        "--auth",
        action="store_true",
        help="the server as shipped, with authentication: every request sends its admin key",
    )
    args = parser.parse_args()
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    reps = [one_rep(args) for _ in range(args.reps)]
    store = ("PostgreSQL" if args.pg else "SQLite") + (", authentication on" if args.auth else "")
    command = shlex.join([".venv/bin/python", "benchmarks/request_cost.py", *sys.argv[1:]])
    print(
        f"`{command}`, started {started}; {store}; {args.requests} requests of each kind per "
        f"rep, {args.reps} reps; load average at the end {os.getloadavg()[0]:.1f}.\n"
    )
    print("| request | server CPU per request, median (min-max of reps) |")
    print("|---|---|")
    for kind in reps[0]:
        values = [rep[kind] for rep in reps]
        print(
            f"| {kind} | {statistics.median(values):.2f} ms ({min(values):.2f}-{max(values):.2f}) |"
        )


if __name__ == "__main__":
    main()
