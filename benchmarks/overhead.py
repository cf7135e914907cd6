"""The agent's per-run overhead and the server's history ingest rate (run by hand, never in tests).

Per-run overhead, measured on the server's clock with a real agent process and real runs:

- launch: from the moment the server hands a run to the agent (the heartbeat that assigns it)
  to the run's first logged row arriving at the server. It includes starting a fresh Python,
  ``import hypersweep``, ``init()`` and the first batch, so its floor is a fresh
  ``python -c "import hypersweep"``, measured here too; the ratio is launch / floor.
- by hand: the same program started directly (no agent), from its start to its first row:
  what a run costs before the agent adds anything.
- launch to the training code: from the same moment to the child's first ``log()`` call (the
  row's ``_timestamp``, the child's clock on the same machine): what the training code waits
  before it starts, since the first row's delivery happens in the run's sender thread.
- turnaround: from the child's exit (stamped by the child itself, last thing before exiting)
  to the server handing the same agent its next run: the agent noticing the exit, reporting
  it, and asking again. Also shown as a ratio to the floor.

Ingest: 8 concurrent runs log ROWS rows each as fast as ``log()`` allows; rows/s is all rows
over the time from the first batch to the last arriving at the server.

    .venv/bin/python benchmarks/overhead.py --runs 15 --floor 15 --rows 2000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from hypersweep.client import ApiClient
from hypersweep.server import EmbeddedServer
from hypersweep.store import MakeParams, RunRecord, SqlStore

CHILD = textwrap.dedent(
    """
    import os, sys, time
    import hypersweep

    hypersweep.init()
    rows = int(hypersweep.config.rows)
    for step in range(rows):
        hypersweep.log({"loss": 1.0 / (step + 1)})
    hypersweep.finish()
    with open(os.path.join(sys.argv[1], os.environ["WANDB_RUN_ID"]), "w") as f:
        f.write(repr(time.time()))
    """
)


class TimedStore(SqlStore):
    """A SqlStore that stamps (wall clock) when runs are assigned and when history arrives."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.lock = threading.Lock()
        self.assigned: dict[str, tuple[float, str | None]] = {}  # run -> (time, agent)
        self.first_row: dict[str, float] = {}
        self.first_log: dict[str, float] = {}
        self.batches: list[tuple[float, int]] = []  # (time, rows)

    def assign_run(
        self, sweep_id: str, agent_id: str | None, make_params: MakeParams, now: datetime
    ) -> RunRecord | None:
        run = super().assign_run(sweep_id, agent_id, make_params, now)
        if run is not None:
            with self.lock:
                self.assigned[run.id] = (time.time(), agent_id)
        return run

    def append_history(
        self,
        run_id: str,
        rows: Sequence[tuple[int, Mapping[str, Any]]],
        *,
        batch: int | None = None,
    ) -> bool:
        stored = super().append_history(run_id, rows, batch=batch)
        stamp = time.time()
        with self.lock:
            self.first_row.setdefault(run_id, stamp)
            if rows and "_timestamp" in rows[0][1]:  # when the child called log(), its clock
                self.first_log.setdefault(run_id, float(rows[0][1]["_timestamp"]))
            self.batches.append((stamp, len(rows)))
        return stored


def floor(n: int) -> float:
    """Median seconds of a fresh ``python -c "import hypersweep"``."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import hypersweep"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sweep_config(child: Path, runs: int, rows: int) -> dict[str, Any]:
    return {
        "method": "random",
        "run_cap": runs,
        "program": str(child),
        "command": [sys.executable, "${program}", str(child.parent / "exits")],
        "parameters": {"rows": {"value": rows}, "x": {"min": 0.0, "max": 1.0}},
    }


def agents(url: str, sweep_id: str, count: int, cwd: Path, each: int | None) -> None:
    """Run ``count`` agents to completion (their output to agents.log in ``cwd``)."""
    argv = [sys.executable, "-m", "hypersweep", "agent", sweep_id, "--server", url]
    if each is not None:
        argv += ["--count", str(each)]
    env = {**os.environ, "HYPERSWEEP_SERVER": url, "OPENBLAS_NUM_THREADS": "1"}
    with (cwd / "agents.log").open("ab") as log:
        procs = [
            subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
            for _ in range(count)
        ]
        for proc in procs:
            if proc.wait() != 0:
                raise SystemExit(f"an agent exited with {proc.returncode}; see {cwd}/agents.log")


def per_run(work: Path, runs: int) -> tuple[list[float], list[float], list[float]]:
    store, child = setup(work, "runs.db")
    with EmbeddedServer(store) as server, ApiClient(server.url) as client:
        sweep = client.create_sweep(sweep_config(child, runs, rows=1))
        agents(server.url, sweep.id, 1, work, each=runs)
    launch = [
        store.first_row[r] - t for r, (t, _) in store.assigned.items() if r in store.first_row
    ]
    to_log = [
        store.first_log[r] - t for r, (t, _) in store.assigned.items() if r in store.first_log
    ]
    order = sorted(store.assigned.items(), key=lambda item: item[1][0])
    turnaround = []
    for (run, _), (_, (next_time, _)) in pairwise(order):
        exit_file = work / "exits" / run
        if exit_file.exists():
            turnaround.append(next_time - float(exit_file.read_text()))
    store.close()
    return launch, to_log, turnaround


def launch_by_hand(
    client: ApiClient, store: TimedStore, sweep_id: str, work: Path, child: Path, index: int
) -> subprocess.Popen[bytes]:
    """Start one run the way an agent does (spec §7.2), without an agent: ask for a run,
    write its parameter file, set the variables, start the program."""
    agent = client.register_agent(sweep_id, "bench", index)
    (command,) = client.heartbeat(agent.id, []).commands
    assert command.type == "run"
    params = work / f"config-{command.run_id}.yaml"
    params.write_text(yaml.safe_dump({k: {"value": v} for k, v in command.params.items()}))
    env = {
        **os.environ,
        "HYPERSWEEP_SERVER": client.url,
        "WANDB_SWEEP_ID": sweep_id,
        "WANDB_RUN_ID": command.run_id,
        "WANDB_SWEEP_PARAM_PATH": str(params),
    }
    with store.lock:  # from here on the clock is the program's
        store.assigned[command.run_id] = (time.time(), None)
    return subprocess.Popen([sys.executable, str(child), str(work / "exits")], env=env, cwd=work)


def by_hand(work: Path, runs: int) -> list[float]:
    """Launch (program start -> first row at the server) with no agent: the run's own cost."""
    store, child = setup(work, "by_hand.db")
    with EmbeddedServer(store) as server, ApiClient(server.url) as client:
        sweep = client.create_sweep(sweep_config(child, runs, rows=1))
        for index in range(runs):
            if launch_by_hand(client, store, sweep.id, work, child, index).wait() != 0:
                raise SystemExit("a run started by hand failed")
    store.close()
    return [store.first_row[r] - t for r, (t, _) in store.assigned.items() if r in store.first_row]


def ingest(work: Path, runs: int, rows: int) -> tuple[int, float]:
    """``runs`` concurrent runs logging ``rows`` rows each, started by hand so the number is
    the server's and the client library's, not the agent's."""
    store, child = setup(work, "ingest.db")
    with EmbeddedServer(store) as server, ApiClient(server.url) as client:
        sweep = client.create_sweep(sweep_config(child, runs, rows=rows))
        children = [
            launch_by_hand(client, store, sweep.id, work, child, index) for index in range(runs)
        ]
        for process in children:
            if process.wait() != 0:
                raise SystemExit(f"a logging run exited with {process.returncode}")
    total = sum(n for _, n in store.batches)
    span = store.batches[-1][0] - store.batches[0][0]
    store.close()
    return total, span


def setup(work: Path, db: str) -> tuple[TimedStore, Path]:
    (work / "exits").mkdir(exist_ok=True)
    child = work / "child.py"
    child.write_text(CHILD)
    return TimedStore(f"sqlite:///{work / db}"), child


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs for the per-run overhead")
    parser.add_argument("--floor", type=int, default=15, help="fresh imports for the floor")
    parser.add_argument("--rows", type=int, default=2000, help="rows per run for ingest")
    parser.add_argument("--ingest-runs", type=int, default=8)
    args = parser.parse_args()
    base = floor(args.floor)
    with tempfile.TemporaryDirectory() as tmp:
        launch, to_log, turnaround = per_run(Path(tmp), args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        direct = by_hand(Path(tmp), args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        total, span = ingest(Path(tmp), args.ingest_runs, args.rows)
    launch_s, turn_s = statistics.median(launch), statistics.median(turnaround)
    log_s = statistics.median(to_log)
    direct_s = statistics.median(direct)
    print(f"floor (python -c 'import hypersweep'), median of {args.floor}: {base * 1000:.0f} ms")
    print(
        f"the same run started by hand (no agent; start -> first row), median of {len(direct)}: "
        f"{direct_s * 1000:.0f} ms = {direct_s / base:.2f}x the floor"
    )
    print(
        f"launch (run handed out -> first row at server), median of {len(launch)}: "
        f"{launch_s * 1000:.0f} ms = {launch_s / base:.2f}x the floor"
    )
    print(
        f"launch to the training code (run handed out -> the child's first log() call), median "
        f"of {len(to_log)}: {log_s * 1000:.0f} ms = {log_s / base:.2f}x the floor"
    )
    print(
        f"turnaround (child exit -> next run handed out), median of {len(turnaround)}: "
        f"{turn_s * 1000:.0f} ms = {turn_s / base:.2f}x the floor"
    )
    print(
        f"ingest: {total} rows from {args.ingest_runs} concurrent runs in {span:.2f} s = "
        f"{total / span:,.0f} rows/s"
    )
    print(f"date: {datetime.now().date()}; sqlite store; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
