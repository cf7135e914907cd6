"""Fault test (issue 8): ``kill -9`` the server five times while four agents' runs log without
pause, restarting it on the same port each time. No row is lost or stored twice, the agents
carry on, and the sweep ends with every grid point run once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from _servers import free_port
from hypersweep.client import ApiClient

pytestmark = pytest.mark.slow

ROWS = 150
TRAIN = f"""\
import time
import hypersweep

hypersweep.init()
for step in range({ROWS}):
    hypersweep.log({{"loss": hypersweep.config.x / (step + 1)}})
    time.sleep(0.02)
"""
_WAIT = 240.0  # seconds: only against hanging for ever


def server_args(port: int, data_dir: Path) -> list[str]:
    return ["--port", str(port), "--data-dir", str(data_dir)]


def start_server(port: int, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("a") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "hypersweep", "server", *server_args(port, data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + _WAIT
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).is_success:
                return server
        except httpx.TransportError:
            pass
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the server did not come back"
        time.sleep(0.05)


def test_five_server_kills_lose_no_row_and_store_none_twice(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    port, data, log = free_port(), tmp_path / "data", tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}"
    server = start_server(port, data, log)
    agents: list[subprocess.Popen[bytes]] = []
    try:
        config = {
            "program": "train.py",
            "command": ["${env}", sys.executable, "${program}", "${args}"],
            "method": "grid",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"values": list(range(1, 9))}},
        }
        with ApiClient(url) as api:
            sweep = api.create_sweep(config).id
        env = {**os.environ, "HYPERSWEEP_AGENT_HEARTBEAT": "0.2"}
        for i in range(4):
            with (tmp_path / f"agent{i}.log").open("w") as out:
                agents.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "hypersweep", "agent", sweep, "--server", url],
                        cwd=tmp_path,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        # the agents are up (an agent that finds no server at start exits, by design)
        deadline = time.monotonic() + _WAIT
        with ApiClient(url) as api:
            while len([r for r in api.list_runs(sweep) if r.state.value == "running"]) < 4:
                assert time.monotonic() < deadline, "the agents did not start their runs"
                time.sleep(0.1)
        for _ in range(5):
            time.sleep(1.0)  # runs are logging: batches are in flight when the server dies
            server.send_signal(signal.SIGKILL)
            server.wait()
            server = start_server(port, data, log)
        codes = [agent.wait(timeout=_WAIT) for agent in agents]
        outputs = "".join((tmp_path / f"agent{i}.log").read_text() for i in range(4))
        assert codes == [0, 0, 0, 0], outputs
        problems = [line for line in outputs.splitlines() if "hypersweep:" in line]
        with ApiClient(url) as api:
            runs = api.list_runs(sweep)
            assert sorted(run.params["x"] for run in runs) == list(range(1, 9)), outputs
            assert {run.state.value for run in runs} == {"finished"}, outputs
            for run in runs:
                steps = [row.step for row in api.history(run.id)]
                assert steps == list(range(ROWS)), (run.id, len(steps), problems)
            assert api.get_sweep(sweep).state == "finished"
    finally:
        for process in [*agents, server]:
            if process.poll() is None:
                process.kill()
                process.wait()
