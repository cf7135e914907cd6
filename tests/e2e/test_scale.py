"""Many agents at once against ``hypersweep server --workers 2`` on PostgreSQL (issue 7).

The agents are simulated: threads, each with its own HTTP connection, doing over the API exactly
what ``hypersweep agent`` does (register, heartbeat, start the run it is given, log a row, report
the end, until ``exit``), so tens of them fit on a small machine. Half report a run's end with
``POST /runs/{run}/finish``, half in the next heartbeat's ``ended``, as the real agent does.

Then a real ``hypersweep agent --parallel 2`` / ``--gpus 0,1`` fleet: its agents register with
distinct slots, and ``hypersweep runs`` says which host and slot ran each run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from _pg import fresh_schema
from _servers import auth_headers, server_process
from hypersweep.cli import main
from hypersweep.protocol import API_PREFIX

pytestmark = pytest.mark.slow

PG_URL = os.environ.get("HYPERSWEEP_TEST_PG_URL")
IN_CI = os.environ.get("CI") == "true"
#: The issue's two minutes of 64 agents (the suite runs in parallel, so this costs the whole
#: suite far less); HYPERSWEEP_SCALE_SECONDS=20 shortens it for a quick local run.
RANDOM_SECONDS = float(os.environ.get("HYPERSWEEP_SCALE_SECONDS") or 120.0)
_WAIT = 240.0  # seconds: the bound for a sweep's agents to finish, far above what it takes
_RETRIES = 20


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL server, as a URL; dropped afterwards. One per
    module: each test makes its own sweep, and starting two server processes costs ~15 s."""
    with fresh_schema("hs_scale") as url:
        yield url


@pytest.fixture(scope="module")
def pg_server(pg_database: str) -> Iterator[str]:
    """Two server processes (``--workers 2``) on the fresh schema."""
    with server_process(None, "--db", pg_database, "--workers", "2") as url:
        yield url


# -- the simulated agent -----------------------------------------------------------------------


@dataclass
class SimAgent:
    """One agent's life over the API; what it was handed is kept for the checks."""

    url: str
    sweep_id: str
    index: int
    stop: threading.Event
    agent_id: str = ""
    runs: list[str] = field(default_factory=list)
    exit_reason: str | None = None
    retried: int = 0

    @property
    def host(self) -> str:
        return f"sim-{self.index // 8}"  # eight agents a host, as on an 8-GPU machine

    def call(self, http: httpx.Client, path: str, body: dict[str, Any]) -> Any:
        """POST, retried only when the server did nothing: 503 (a database error, rolled back;
        the real client retries it too) or a connection that was never made."""
        for _ in range(_RETRIES):
            try:
                response = http.post(path, json=body)
            except httpx.ConnectError:
                self.retried += 1
                time.sleep(0.2)
                continue
            if response.status_code == 503:
                self.retried += 1
                time.sleep(0.2)
                continue
            assert response.status_code < 300, f"POST {path}: {response.text}"
            return response.json()
        raise AssertionError(f"POST {path}: still failing after {_RETRIES} tries")

    def live(self) -> None:
        headers = auth_headers(self.url)
        with httpx.Client(base_url=self.url + API_PREFIX, headers=headers, timeout=120) as http:
            self.agent_id = self.call(
                http,
                f"/sweeps/{self.sweep_id}/agents",
                {"host": self.host, "pid": 100_000 + self.index, "slot": f"gpu {self.index % 8}"},
            )["id"]
            ended: list[dict[str, Any]] = []
            while True:
                reply = self.call(
                    http, f"/agents/{self.agent_id}/heartbeat", {"running": [], "ended": ended}
                )
                ended = []
                commands = reply["commands"]
                for command in commands:
                    if command["type"] == "exit":
                        self.exit_reason = command["reason"]
                        return
                    if command["type"] == "run":
                        ended += self.run(http, command)
                if not commands and not ended:
                    # nothing to do yet (a paused sweep): ask again soon, as the real agent does
                    self.stop.wait(0.2)

    def run(self, http: httpx.Client, command: dict[str, Any]) -> list[dict[str, Any]]:
        run_id = command["run_id"]
        self.runs.append(run_id)
        self.call(http, f"/runs/{run_id}/start", {"host": self.host, "agent_id": self.agent_id})
        loss = float(sum(v for v in command["params"].values() if isinstance(v, (int, float))))
        self.call(
            http, f"/runs/{run_id}/history", {"rows": [{"step": 0, "metrics": {"loss": loss}}]}
        )
        if self.index % 2:
            return [{"run_id": run_id, "exit_code": 0}]  # reported by the next heartbeat
        self.call(http, f"/runs/{run_id}/finish", {"exit_code": 0})
        return []


def create_sweep(url: str, config: dict[str, Any]) -> str:
    response = httpx.post(
        f"{url}{API_PREFIX}/sweeps", json={"config": config}, headers=auth_headers(url), timeout=60
    )
    assert response.status_code == 201, response.text
    sweep_id: str = response.json()["id"]
    return sweep_id


def get(url: str, path: str) -> Any:
    response = httpx.get(f"{url}{API_PREFIX}{path}", headers=auth_headers(url), timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def run_agents(
    url: str, sweep_id: str, count: int, *, stop_after: float | None = None
) -> list[SimAgent]:
    """Run ``count`` agents until each gets ``exit``; with ``stop_after``, stop the sweep (the
    user's ``stop``) after that many seconds first. Re-raises the first agent's error."""
    stop = threading.Event()
    agents = [SimAgent(url, sweep_id, index, stop) for index in range(count)]
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(agent.live) for agent in agents]
        try:
            if stop_after is not None:
                # the test's length, not a wait for something: the agents run meanwhile
                time.sleep(stop_after)
                for _ in range(_RETRIES):  # a 503 changed nothing: retried, as agents do
                    response = httpx.post(
                        f"{url}{API_PREFIX}/sweeps/{sweep_id}/state",
                        json={"action": "stop"},
                        headers=auth_headers(url),
                        timeout=60,
                    )
                    if response.status_code != 503:
                        break
                    time.sleep(0.2)
                assert response.status_code == 200, response.text
            for future in futures:
                future.result(timeout=_WAIT)
        finally:
            stop.set()
    return agents


def check_each_run_handed_out_once(url: str, sweep_id: str, agents: list[SimAgent]) -> list[Any]:
    """Every stored run went to exactly one agent, the one the store names, and finished."""
    runs = get(url, f"/sweeps/{sweep_id}/runs")
    handed = [run_id for agent in agents for run_id in agent.runs]
    assert len(handed) == len(set(handed)), "a run was handed to two agents"
    assert sorted(handed) == sorted(run["id"] for run in runs)
    owner = {run_id: agent.agent_id for agent in agents for run_id in agent.runs}
    assert {run["id"]: run["agent_id"] for run in runs} == owner
    assert {run["state"] for run in runs} == {"finished"}
    assert all(agent.exit_reason for agent in agents)
    return list(runs)


def spread(agents: list[SimAgent]) -> str:
    counts = sorted(len(agent.runs) for agent in agents)
    retried = sum(agent.retried for agent in agents)
    return f"runs per agent {counts[0]}..{counts[-1]}, {retried} retried requests"


# -- the tests ---------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_a_200_point_grid_with_32_agents_on_two_workers_runs_each_point_once(
    pg_server: str,
) -> None:
    xs, ys = list(range(20)), list(range(10))
    config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": xs}, "y": {"values": ys}},
    }
    sweep_id = create_sweep(pg_server, config)
    started = time.monotonic()
    agents = run_agents(pg_server, sweep_id, 32)
    runs = check_each_run_handed_out_once(pg_server, sweep_id, agents)
    points = sorted((run["params"]["x"], run["params"]["y"]) for run in runs)
    assert points == [(x, y) for x in xs for y in ys]
    assert get(pg_server, f"/sweeps/{sweep_id}")["state"] == "finished"
    print(f"200-point grid: {time.monotonic() - started:.1f} s, {spread(agents)}")


@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_run_cap_50_with_32_agents_on_two_workers_makes_exactly_50_runs(pg_server: str) -> None:
    config = {
        "method": "random",
        "run_cap": 50,
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
    sweep_id = create_sweep(pg_server, config)
    started = time.monotonic()
    agents = run_agents(pg_server, sweep_id, 32)
    runs = check_each_run_handed_out_once(pg_server, sweep_id, agents)
    assert len(runs) == 50
    assert get(pg_server, f"/sweeps/{sweep_id}")["state"] == "finished"
    print(f"run_cap 50: {time.monotonic() - started:.1f} s, {spread(agents)}")


@pytest.mark.postgres
@pytest.mark.timeout(RANDOM_SECONDS + 600)
def test_a_random_sweep_with_64_agents_never_hands_a_run_out_twice(pg_server: str) -> None:
    """64 agents for RANDOM_SECONDS (the issue's two minutes)."""
    config = {
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {
            "x": {"min": 0.0, "max": 1.0},
            "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
        },
    }
    sweep_id = create_sweep(pg_server, config)
    agents = run_agents(pg_server, sweep_id, 64, stop_after=RANDOM_SECONDS)
    runs = check_each_run_handed_out_once(pg_server, sweep_id, agents)
    assert len(runs) > 64  # every agent could have had one; most had many
    params = [(run["params"]["x"], run["params"]["lr"]) for run in runs]
    assert len(set(params)) == len(params), "two runs share their parameters"
    print(f"random, {RANDOM_SECONDS:g} s: {len(runs)} runs, {spread(agents)}")


# -- slots of a real fleet ---------------------------------------------------------------------

PROGRAM = """\
import os
print("cuda", os.environ.get("CUDA_VISIBLE_DEVICES", "none"))
"""


def stop_fleet(fleet: subprocess.Popen[str]) -> None:
    """Its slots run in their own sessions: SIGTERM to the fleet passes on to each (three
    times: spec §7.8's tiers), and only then is the fleet itself killed."""
    for _ in range(3):
        if fleet.poll() is not None:
            return
        fleet.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            fleet.communicate(timeout=5)
    if fleet.poll() is None:
        fleet.kill()
        fleet.communicate()


@pytest.mark.parametrize(
    ("args", "slots"),
    # --gpus labels its slots "gpu 0", "gpu 1" by the same code; test_agent.py runs it
    [(["--parallel", "2"], ["slot 1/2", "slot 2/2"])],
    ids=["parallel"],
)
def test_a_fleets_agents_register_distinct_slots_shown_by_runs(
    tmp_path: Path, args: list[str], slots: list[str]
) -> None:
    (tmp_path / "show.py").write_text(PROGRAM)
    config = {
        "program": "show.py",
        "command": ["${env}", sys.executable, "${program}", "${args}"],
        "method": "grid",
        "parameters": {"x": {"values": [1, 2]}},
    }
    env = {**os.environ, "HYPERSWEEP_AGENT_HEARTBEAT": "0.2"}
    with server_process(tmp_path / "data") as url:
        sweep_id = create_sweep(url, config)
        argv = [sys.executable, "-m", "hypersweep", "agent", sweep_id, "--server", url]
        fleet = subprocess.Popen(
            [*argv, *args, "--count", "1"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            output, _ = fleet.communicate(timeout=_WAIT)
        finally:
            stop_fleet(fleet)
        assert fleet.returncode == 0, output
        agents = get(url, f"/sweeps/{sweep_id}/agents")
        assert sorted(agent["slot"] for agent in agents) == slots
        assert len({agent["pid"] for agent in agents}) == 2
        for slot in slots:
            assert f", {slot}) for sweep" in output  # each slot's start line names it
        runs = get(url, f"/sweeps/{sweep_id}/runs")
        slot_of = {agent["id"]: agent["slot"] for agent in agents}
        assert sorted(slot_of[run["agent_id"]] for run in runs) == slots  # one run each
        if args[0] == "--gpus":  # the slot's label is the GPU its program sees
            for run in runs:
                text = get(url, f"/runs/{run['id']}/output")["text"]
                assert f"cuda {slot_of[run['agent_id']].removeprefix('gpu ')}" in text
        table = CliRunner().invoke(main, ["runs", sweep_id, "--server", url])
        assert table.exit_code == 0, table.output
        for run in runs:
            line = next(line for line in table.stdout.splitlines() if run["id"] in line)
            assert re.search(rf"{re.escape(run['host'])} \({slot_of[run['agent_id']]}\)", line)
        rows = CliRunner().invoke(main, ["runs", sweep_id, "--json", "--server", url])
        assert sorted(row["slot"] for row in json.loads(rows.stdout)) == slots
        for bad in ("x" * 65, "gpu\x000"):
            refused = httpx.post(
                f"{url}{API_PREFIX}/sweeps/{sweep_id}/agents",
                json={"host": "h", "pid": 1, "slot": bad},
                headers=auth_headers(url),
                timeout=60,
            )
            assert refused.status_code == 422, refused.text
            assert "slot" in refused.text
