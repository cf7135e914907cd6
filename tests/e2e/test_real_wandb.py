"""An unmodified script that imports the real ``wandb`` runs under ``hypersweep agent``.

``examples/wandb_unmodified/train.py`` is written as W&B's docs write one; it gets its
parameters as from W&B's agent (spec §7.2), runs offline, and the agent brings its history and
summary to the server while it runs, where they drive the bayes search and hyperband.

Needs the real wandb package (the ``wandb-bridge`` dependency group); skipped without it.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from _servers import server_process
from hypersweep.agent._wandb_bridge import wandb_reader
from hypersweep.client import ApiClient

pytestmark = [
    pytest.mark.slow,
    pytest.mark.wandb,
    pytest.mark.skipif(
        wandb_reader() is None,
        reason="the real wandb package (>=0.31) is not installed; pip install 'wandb>=0.31'",
    ),
]

EXAMPLE = Path(__file__).parents[2] / "examples" / "wandb_unmodified" / "train.py"
_WAIT = 240.0  # seconds: the bound for the whole sweep on a loaded 2-core machine
AGENT = (sys.executable, "-m", "hypersweep", "agent")
EPOCHS = 12  # sweep.yaml's
RUNS = 10


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with server_process(tmp_path / "server") as url:
        yield url


def sweep_config() -> dict[str, Any]:
    """The example's sweep.yaml (bayes over lr, hyperband with bands 3 and 9), run from here."""
    config: dict[str, Any] = yaml.safe_load((EXAMPLE.parent / "sweep.yaml").read_text())
    assert config["method"] == "bayes" and config["early_terminate"]["type"] == "hyperband"
    config["program"] = str(EXAMPLE)
    # this interpreter: the one that has wandb installed; the script ignores its arguments
    config["command"] = ["${env}", sys.executable, "${program}", "${args}"]
    return config


@pytest.mark.timeout(300)
def test_an_unmodified_wandb_script_drives_bayes_and_hyperband(server: str, tmp_path: Path) -> None:
    with ApiClient(server) as api:
        sweep = api.create_sweep(sweep_config(), project="realwandb").id
        log = tmp_path / "agent.log"
        env = {**os.environ, "HYPERSWEEP_AGENT_HEARTBEAT": "0.5", "WANDB_AGENT_KILL_DELAY": "10"}
        env.pop("WANDB_MODE", None)
        live_rows: list[tuple[str, int]] = []  # (run, rows) seen while the run was running
        done = threading.Event()

        def watch() -> None:
            # rows that reach the server while their run is still running: the live path
            while not done.wait(0.3):
                for run in api.list_runs(sweep):
                    if run.state == "running":
                        rows = len(api.history(run.id))
                        if rows:
                            live_rows.append((run.id, rows))

        with log.open("w") as out:
            agent = subprocess.Popen(
                [*AGENT, sweep, "--server", server, "--count", str(RUNS)],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            try:
                code = agent.wait(timeout=_WAIT)
            finally:
                done.set()
                if agent.poll() is None:
                    os.killpg(agent.pid, signal.SIGKILL)
                    agent.wait()
                watcher.join(timeout=30)
        output = log.read_text()
        assert code == 0, output
        runs = api.list_runs(sweep)
        assert len(runs) == RUNS, output
        assert {run.params["epochs"] for run in runs} == {EPOCHS}

        for run in runs:
            history = api.history(run.id)
            steps = [row.step for row in history]
            assert steps == list(range(len(steps))) and steps, (run.id, steps, output)
            floor = abs(math.log10(run.params["lr"]) + 2)
            losses = [row.metrics["loss"] for row in history]
            assert losses == pytest.approx([floor + 2 / (step + 1) for step in steps])
            assert run.summary["loss"] == pytest.approx(losses[-1])
            if run.stopped:
                assert run.stop_reason
            else:  # finished: the summary the script set at its end arrived too
                assert run.state == "finished", (run.id, run.state, output)
                assert len(steps) == EPOCHS
                assert run.summary["final_loss"] == pytest.approx(losses[-1])

        # rows reached the server while a run went on, not only at its end: a run that ran
        # all its epochs was seen running with some of them
        finished = {run.id for run in runs if not run.stopped}
        assert any(0 < rows < EPOCHS for run_id, rows in live_rows if run_id in finished), (
            f"no history arrived while a run was running: {live_rows}\n{output}"
        )
        stopped = [run for run in runs if run.stopped]
        assert stopped, f"hyperband stopped no run:\n{output}"
        # the stop reached the program before its end: it logged fewer epochs
        assert any(len(api.history(run.id)) < EPOCHS for run in stopped), output
        # what the bayes search reads: every run's summary holds its metric
        assert all(isinstance(run.summary.get("loss"), float) for run in runs)
