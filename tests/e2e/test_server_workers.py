"""``hypersweep server --workers 2``: two server processes on one database hand every grid point
out once and stop runs as one process would (issue 7), on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from _pg import fresh_schema
from _servers import server_process
from hypersweep.client import ApiClient

pytestmark = pytest.mark.slow

PG_URL = os.environ.get("HYPERSWEEP_TEST_PG_URL")
TRAIN = """\
import hypersweep

hypersweep.init()
for step in range(3):
    hypersweep.log({"loss": hypersweep.config.x + hypersweep.config.y / (step + 1)})
"""


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL server, as a URL; dropped afterwards."""
    with fresh_schema("hs_workers") as url:
        yield url


def run_grid_with_agents(url: str, work: Path) -> None:
    (work / "train.py").write_text(TRAIN)
    config = {
        "program": "train.py",
        "command": ["${env}", sys.executable, "${program}", "${args}"],
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [1, 2, 3]}, "y": {"values": [1, 2, 3, 4]}},
    }
    env = {**os.environ, "HYPERSWEEP_AGENT_HEARTBEAT": "0.1"}
    with ApiClient(url) as api:
        sweep = api.create_sweep(config).id
        agents = [
            subprocess.Popen(
                [sys.executable, "-m", "hypersweep", "agent", sweep, "--server", url],
                cwd=work,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(3)
        ]
        try:
            codes = [agent.wait(timeout=240) for agent in agents]
        finally:
            for agent in agents:
                if agent.poll() is None:
                    agent.kill()
                    agent.wait()
        assert codes == [0, 0, 0]
        runs = api.list_runs(sweep)
        assert sorted((run.params["x"], run.params["y"]) for run in runs) == [
            (x, y) for x in (1, 2, 3) for y in (1, 2, 3, 4)
        ]
        assert {run.state.value for run in runs} == {"finished"}
        assert all(len(api.history(run.id)) == 3 for run in runs)
        assert api.get_sweep(sweep).state == "finished"


def test_two_workers_on_sqlite_hand_out_each_grid_point_once(tmp_path: Path) -> None:
    with server_process(tmp_path / "data", "--workers", "2") as url:
        run_grid_with_agents(url, tmp_path)


@pytest.mark.postgres
def test_two_workers_on_postgresql_hand_out_each_grid_point_once(
    tmp_path: Path, pg_database: str
) -> None:
    with server_process(None, "--db", pg_database, "--workers", "2") as url:
        run_grid_with_agents(url, tmp_path)
