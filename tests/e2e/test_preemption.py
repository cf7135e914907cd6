"""Preemption as a cluster does it: a real server, a real ``hypersweep agent`` process and a
real program, ended by a SIGTERM that the agent did not send (spot reclaim, Slurm, Kubernetes).

Waits are bounded by generous timeouts (a loaded 2-core machine), never asserted on, except the
agent's exit after SIGTERM, which must come within the kill delay plus a margin.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from _servers import server_process
from hypersweep.client import ApiClient

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

_WAIT = 120.0  # seconds: the bound for anything to happen, far above what it takes
_KILL_DELAY = 5.0  # the agents' WANDB_AGENT_KILL_DELAY
_MARGIN = 20.0  # seconds an agent may take beyond the kill delay on a loaded machine

#: Holds the run of x == hold the first time (until the test's SIGTERM), writing its PID for
#: the test; every other run (and the hold's re-run) logs its loss and finishes.
PROGRAM = """\
import os, pathlib, signal, sys, time
import hypersweep

hypersweep.init()
x = hypersweep.config.x
if hypersweep.config.get("ignore_term"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
held = pathlib.Path(f"held-{x}")
if x == hypersweep.config.get("hold") and not held.exists():
    held.touch()
    pathlib.Path(f"pid-{x}.tmp").write_text(str(os.getpid()))
    os.replace(f"pid-{x}.tmp", f"pid-{x}")  # whole, or not there
    time.sleep(_WAIT)
    sys.exit(3)  # only if no SIGTERM came
hypersweep.log({"loss": float(x)})
""".replace("_WAIT", str(_WAIT))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # on loopback without API keys: this is about agents, not access control
    with server_process(tmp_path_factory.mktemp("server"), "--no-auth") as url:
        yield url


@pytest.fixture
def api(server: str) -> Iterator[ApiClient]:
    with ApiClient(server) as client:
        yield client


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "prog.py").write_text(PROGRAM)
    return tmp_path


class Agent:
    """One ``python -m hypersweep agent`` process; SIGKILLed (its group) at the end if alive."""

    def __init__(self, server: str, sweep: str, cwd: Path) -> None:
        env = {
            **os.environ,
            "HYPERSWEEP_AGENT_HEARTBEAT": "0.2",
            "WANDB_AGENT_KILL_DELAY": f"{_KILL_DELAY:g}",
        }
        self.log = cwd / f"agent-{time.monotonic_ns()}.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hypersweep", "agent", sweep, "--server", server],
            cwd=cwd,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait(self, timeout: float = _WAIT) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the agent did not exit:\n{self.output()}") from None

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text()

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._log_file.close()


@pytest.fixture
def agents(server: str, workdir: Path) -> Iterator[Callable[[str], Agent]]:
    started: list[Agent] = []

    def start(sweep: str) -> Agent:
        agent = Agent(server, sweep, workdir)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.close()


def config(parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "program": "prog.py",
        "command": ["${env}", sys.executable, "${program}"],
        "metric": {"name": "loss", "goal": "minimize"},
        "method": "grid",
        "parameters": parameters,
        **extra,
    }


def held_pid(workdir: Path, x: int, agent: Agent) -> int:
    """The PID of the held program of x, once it is written."""
    path = workdir / f"pid-{x}"
    deadline = time.monotonic() + _WAIT
    while not path.exists():
        if agent.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the held run never started:\n{agent.output()}")
        time.sleep(0.1)
    return int(path.read_text())


def points(api: ApiClient, sweep: str) -> list[tuple[Any, str, int]]:
    return sorted((run.params["x"], run.state, run.attempt) for run in api.list_runs(sweep))


def test_a_program_sigtermed_from_outside_is_preempted_and_run_again(
    api: ApiClient, agents: Callable[[str], Agent], workdir: Path
) -> None:
    sweep = api.create_sweep(config({"x": {"values": [1, 2]}, "hold": {"value": 1}})).id
    agent = agents(sweep)
    os.kill(held_pid(workdir, 1, agent), signal.SIGTERM)  # the agent did not send it
    assert agent.wait() == 0, agent.output()  # it went on: the re-run, then x=2
    assert points(api, sweep) == [(1, "finished", 2), (1, "preempted", 1), (2, "finished", 1)]
    (preempted,) = [run for run in api.list_runs(sweep) if run.state == "preempted"]
    assert preempted.exit_code == -signal.SIGTERM
    assert preempted.stop_reason is not None
    assert "SIGTERM from outside the agent" in preempted.stop_reason
    (rerun,) = [run for run in api.list_runs(sweep) if run.attempt == 2]
    assert rerun.retry_of == preempted.id
    assert "preempted: its program got SIGTERM" in api.output(preempted.id)
    assert api.get_sweep(sweep).state == "finished"


def test_sigterm_to_the_agent_preempts_its_run_and_it_exits_143_after_the_kill_delay(
    api: ApiClient, agents: Callable[[str], Agent], workdir: Path
) -> None:
    # the program ignores SIGTERM: the agent must SIGKILL it at the kill delay, then exit
    params = {"x": {"values": [1]}, "hold": {"value": 1}, "ignore_term": {"value": True}}
    sweep = api.create_sweep(config(params)).id
    agent = agents(sweep)
    held_pid(workdir, 1, agent)
    sent = time.monotonic()
    agent.process.send_signal(signal.SIGTERM)
    code = agent.wait(timeout=_KILL_DELAY + _MARGIN)
    took = time.monotonic() - sent
    assert code == 143, agent.output()
    assert took >= _KILL_DELAY - 0.5  # it waited for the run (which ignored the SIGTERM)
    (run,) = api.list_runs(sweep)
    assert (run.state, run.exit_code) == ("preempted", -signal.SIGKILL)
    assert "SIGTERM received" in agent.output()
    # the job is requeued on another node: a new agent runs the point again and ends the sweep
    again = agents(sweep)
    assert again.wait() == 0, again.output()
    assert points(api, sweep) == [(1, "finished", 2), (1, "preempted", 1)]


def test_retry_on_preempted_reruns_a_point_a_shell_reported_143_for(
    api: ApiClient, agents: Callable[[str], Agent], workdir: Path
) -> None:
    # through a shell that waits for the program: the end is its 143, not -15
    shell = ["/bin/sh", "-c", f'"{sys.executable}" "$1"; exit $?', "sh", "${program}"]
    params = {"x": {"values": [1, 2, 3]}, "hold": {"value": 2}}
    retry = {"max_retries": 1, "on": ["preempted"]}
    sweep = api.create_sweep(config(params, command=shell, retry=retry)).id
    agent = agents(sweep)
    with contextlib.suppress(ProcessLookupError):
        os.kill(held_pid(workdir, 2, agent), signal.SIGTERM)
    assert agent.wait() == 0, agent.output()
    assert points(api, sweep) == [
        (1, "finished", 1),
        (2, "finished", 2),
        (2, "preempted", 1),
        (3, "finished", 1),
    ]
    (preempted,) = [run for run in api.list_runs(sweep) if run.state == "preempted"]
    assert preempted.exit_code == 143
    assert api.get_sweep(sweep).state == "finished"
