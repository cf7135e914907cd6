"""``hypersweep agent`` as users run it: a real server process, real agent processes, real
programs. Waits are bounded by generous timeouts (a loaded 2-core machine), never asserted on.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from _servers import free_port, server_process
from hypersweep.client import ApiClient
from hypersweep.protocol import RunOut

pytestmark = pytest.mark.slow

_WAIT = 120.0  # seconds: the bound for anything to happen, far above what it takes

TRAIN = """\
import sys, time
import hypersweep

run = hypersweep.init()
steps = int(hypersweep.config.get("steps", 3))
for step in range(steps):
    hypersweep.log({"loss": hypersweep.config.x + 1.0 / (step + 1)})
    time.sleep(float(hypersweep.config.get("sleep", 0.0)))
print("trained x =", hypersweep.config.x)
sys.exit(int(hypersweep.config.get("exit_code", 0)))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # a short lease, so the fault tests see a killed agent's run crashed in seconds
    with server_process(tmp_path_factory.mktemp("server"), "--heartbeat-timeout", "3") as url:
        yield url


@pytest.fixture
def api(server: str) -> Iterator[ApiClient]:
    with ApiClient(server) as client:
        yield client


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def sweep_config(parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "program": "train.py",
        # this interpreter: the one that has hypersweep installed
        "command": ["${env}", sys.executable, "${program}", "${args}"],
        "metric": {"name": "loss", "goal": "minimize"},
        "method": "grid",
        "parameters": parameters,
        **extra,
    }


class Agent:
    """One ``python -m hypersweep agent`` process; killed at the end of the test if still alive."""

    def __init__(self, server: str, sweep: str, cwd: Path, *args: str) -> None:
        env = {**os.environ, "HYPERSWEEP_AGENT_HEARTBEAT": "0.2", "WANDB_AGENT_KILL_DELAY": "5"}
        self.log = cwd / f"agent-{time.monotonic_ns()}.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hypersweep", "agent", sweep, "--server", server, *args],
            cwd=cwd,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait(self) -> int:
        try:
            return self.process.wait(timeout=_WAIT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the agent did not exit:\n{self.output()}") from None

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text()

    def stop(self) -> None:
        """Shut it down as a user would (three signals: spec §7.8), then SIGKILL the rest.

        Signals first, because --parallel/--gpus slots live in their own sessions and only the
        agent we started can pass the shutdown on to them.
        """
        for _ in range(3):
            if self.process.poll() is not None:
                break
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=2)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._log_file.close()


@pytest.fixture
def agents(server: str, workdir: Path) -> Iterator[Callable[..., Agent]]:
    started: list[Agent] = []

    def start(sweep: str, *args: str) -> Agent:
        agent = Agent(server, sweep, workdir, *args)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


def wait_for(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + _WAIT
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def runs_in(api: ApiClient, sweep: str, state: str) -> list[RunOut]:
    return [run for run in api.list_runs(sweep) if run.state == state]


def test_a_12_point_grid_with_3_agents_runs_each_point_once(
    api: ApiClient, agents: Callable[..., Agent]
) -> None:
    sweep = api.create_sweep(
        sweep_config({"x": {"values": [1, 2, 3]}, "y": {"values": [1, 2, 3, 4]}}), project="e2e"
    ).id
    fleet = [agents(f"e2e/{sweep}") for _ in range(3)]
    for agent in fleet:
        assert agent.wait() == 0, agent.output()
    runs = api.list_runs(sweep)
    assert len(runs) == 12
    assert sorted((run.params["x"], run.params["y"]) for run in runs) == [
        (x, y) for x in (1, 2, 3) for y in (1, 2, 3, 4)
    ]
    assert {run.state for run in runs} == {"finished"}
    assert len({run.agent_id for run in runs}) == 3  # all three took part
    for run in runs:
        assert run.exit_code == 0
        assert run.summary["loss"] == pytest.approx(run.params["x"] + 1 / 3)
        assert [row.step for row in api.history(run.id)] == [0, 1, 2]
        assert f"trained x = {run.params['x']}" in api.output(run.id)
    assert api.get_sweep(sweep).state == "finished"


def test_run_cap_ends_the_sweep_and_count_ends_the_agent(
    api: ApiClient, agents: Callable[..., Agent]
) -> None:
    config = sweep_config({"x": {"min": 0.0, "max": 1.0}}, method="random", run_cap=3)
    sweep = api.create_sweep(config).id
    counted = agents(sweep, "--count", "2")
    assert counted.wait() == 0, counted.output()
    assert len(api.list_runs(sweep)) == 2
    assert api.get_sweep(sweep).state == "running"
    rest = agents(sweep)
    assert rest.wait() == 0, rest.output()
    assert len(runs_in(api, sweep, "finished")) == 3
    assert api.get_sweep(sweep).state == "finished"
    assert "run_cap of 3" in rest.output()


def test_a_failing_program_fails_its_runs_and_the_failure_rule_ends_the_agent(
    api: ApiClient, agents: Callable[..., Agent]
) -> None:
    config = sweep_config({"x": {"min": 0.0, "max": 1.0}, "exit_code": {"value": 3}})
    config["method"] = "random"
    sweep = api.create_sweep(config).id
    agent = agents(sweep)
    assert agent.wait() == 1
    failed = runs_in(api, sweep, "failed")
    assert len(failed) == 3  # spec §7.6: three failures in the first 60 seconds
    assert {run.exit_code for run in failed} == {3}
    assert "Detected 3 failed runs in the first 60 seconds" in agent.output()


def test_a_program_that_cannot_start_is_a_failed_run_with_the_reason(
    api: ApiClient, agents: Callable[..., Agent]
) -> None:
    config = sweep_config({"x": {"values": [1]}})
    config["command"] = ["/nonexistent/python", "${program}"]
    sweep = api.create_sweep(config).id
    agent = agents(sweep)
    agent.wait()
    (run,) = api.list_runs(sweep)
    assert run.state == "failed"
    assert "/nonexistent/python" in api.output(run.id)
    assert "Traceback" not in agent.output()


def test_pause_holds_new_runs_and_resume_releases_them(
    api: ApiClient, agents: Callable[..., Agent]
) -> None:
    config = sweep_config({"x": {"values": [1, 2, 3]}, "sleep": {"value": 0.5}})
    sweep = api.create_sweep(config).id
    agent = agents(sweep)
    first = wait_for("a running run", lambda: runs_in(api, sweep, "running"))[0]
    api.sweep_action(sweep, "pause")
    wait_for("the first run to end", lambda: api.get_run(first.id).state == "finished")
    time.sleep(1.5)  # several heartbeats of an idle agent on a paused sweep
    assert len(api.list_runs(sweep)) == 1
    assert agent.process.poll() is None
    api.sweep_action(sweep, "resume")
    assert agent.wait() == 0, agent.output()
    assert len(runs_in(api, sweep, "finished")) == 3


def test_stop_lets_the_running_run_finish_and_cancel_kills_it(
    api: ApiClient, agents: Callable[..., Agent]
) -> None:
    slow = {"x": {"values": [1, 2]}, "steps": {"value": 4}, "sleep": {"value": 0.5}}
    stopped = api.create_sweep(sweep_config(slow)).id
    agent = agents(stopped)
    run = wait_for("a running run", lambda: runs_in(api, stopped, "running"))[0]
    api.sweep_action(stopped, "stop")
    assert agent.wait() == 0, agent.output()
    assert api.get_run(run.id).state == "finished"
    assert len(api.list_runs(stopped)) == 1

    endless = {"x": {"values": [1, 2]}, "steps": {"value": 1000}, "sleep": {"value": 0.5}}
    canceled = api.create_sweep(sweep_config(endless)).id
    agent = agents(canceled)
    run = wait_for("a running run", lambda: runs_in(api, canceled, "running"))[0]
    api.sweep_action(canceled, "cancel")
    assert agent.wait() == 0, agent.output()
    ended = api.get_run(run.id)
    assert ended.state == "killed"
    assert ended.exit_code == -signal.SIGKILL


def test_early_termination_stops_a_live_run_and_keeps_its_metrics(
    api: ApiClient, agents: Callable[..., Agent], workdir: Path
) -> None:
    # The grid runs x=0 and x=0.1 quickly, then x=5, which is worse at every step and slow:
    # hyperband (bands 2, 4, 8...) stops it at band 2, long before its 200 steps (40 s).
    (workdir / "slow_when_bad.py").write_text(
        TRAIN.replace(
            'float(hypersweep.config.get("sleep", 0.0))', "0.2 * (hypersweep.config.x > 1)"
        )
    )
    config = sweep_config(
        {"x": {"values": [0, 0.1, 5]}, "steps": {"value": 200}},
        early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2},
        program="slow_when_bad.py",
    )
    sweep = api.create_sweep(config).id
    assert api.get_sweep(sweep).config["early_terminate"]["strict"] is True  # W&B's default
    agent = agents(sweep)
    assert agent.wait() == 0, agent.output()
    *good, bad = sorted(api.list_runs(sweep), key=lambda run: run.params["x"])
    assert [(run.state, run.stopped) for run in good] == [("finished", False)] * 2
    assert (bad.state, bad.stopped) == ("killed", True)
    assert bad.stop_reason is not None
    # the first band it crossed: 2, or a later one when a loaded machine batched more rows
    # before the first upload (the exact decisions are tests/unit/stopping's job)
    reason = re.match(r"hyperband: at iteration (\d+) loss [\d.]+ is worse than", bad.stop_reason)
    assert reason is not None, bad.stop_reason
    assert int(reason.group(1)) in (2, 4, 8, 16), bad.stop_reason
    steps = [row.step for row in api.history(bad.id)]
    assert 2 <= len(steps) < 200  # stopped early, and what it logged is kept
    assert f"Stopping run {bad.id}" in agent.output()


def test_an_unknown_sweep_or_server_is_one_line_without_traceback(
    server: str, api: ApiClient, workdir: Path
) -> None:
    def agent(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hypersweep", "agent", *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=_WAIT,
        )

    unknown = agent("nosuchid", "--server", server)
    assert unknown.returncode != 0
    assert "nosuchid" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    sweep = api.create_sweep(sweep_config({"x": {"values": [1]}}), project="vision")
    elsewhere = agent(f"nlp/{sweep.id}", "--server", server)  # W&B looks it up in that project
    assert elsewhere.returncode != 0
    assert f"is in project 'vision', not 'nlp'; use vision/{sweep.id}" in elsewhere.stderr
    assert "Traceback" not in elsewhere.stderr
    assert api.list_agents(sweep.id) == []
    nobody = f"http://127.0.0.1:{free_port()}"
    down = agent("abc", "--server", nobody)
    assert down.returncode != 0
    assert nobody in down.stderr
    assert "hypersweep server" in down.stderr
    assert "Traceback" not in down.stderr


def test_gpus_runs_one_agent_per_gpu_with_cuda_visible_devices_set(
    api: ApiClient, agents: Callable[..., Agent], workdir: Path
) -> None:
    (workdir / "gpu.py").write_text(
        TRAIN.replace(
            'print("trained', 'print("gpu", os.environ["CUDA_VISIBLE_DEVICES"]); print("'
        ).replace("import sys, time", "import os, sys, time")
    )
    config = sweep_config(
        {"x": {"values": [1, 2, 3, 4]}, "sleep": {"value": 0.3}}, program="gpu.py"
    )
    sweep = api.create_sweep(config).id
    fleet = agents(sweep, "--gpus", "0,1")
    assert fleet.wait() == 0, fleet.output()
    runs = api.list_runs(sweep)
    assert len(runs) == 4
    assert {run.state for run in runs} == {"finished"}
    gpu_of = {run.agent_id: api.output(run.id).split("gpu ")[1].split()[0] for run in runs}
    assert len(gpu_of) == 2  # two agents took part
    assert sorted(gpu_of.values()) == ["0", "1"]  # each pinned to its own GPU


def test_bad_slot_options_are_refused_before_anything_starts(server: str, workdir: Path) -> None:
    for args, message in (
        (["--gpus", "0,0"], "GPU 0 listed twice"),
        (["--gpus", "0", "--parallel", "2"], "not both"),
        (["--parallel", "0"], "--parallel"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "hypersweep", "agent", "abc", "--server", server, *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=_WAIT,
        )
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("retry", [False, True], ids=["no-retry", "retry"])
def test_a_killed_agents_run_is_crashed_within_the_lease_and_the_sweep_goes_on(
    api: ApiClient, agents: Callable[..., Agent], workdir: Path, retry: bool
) -> None:
    (workdir / "pidfile.py").write_text(
        "import os, sys\nopen(os.environ['WANDB_RUN_ID'] + '.pid', 'w').write(str(os.getpid()))\n"
        + TRAIN.replace("0.0))", "0.0) if not os.path.exists('agent-killed') else 0.0)")
    )
    config = sweep_config(
        {"x": {"values": [1, 2, 3]}, "steps": {"value": 1000}, "sleep": {"value": 0.1}},
        program="pidfile.py",
    )
    if retry:
        config["retry"] = {"max_retries": 1, "on": ["crashed"]}
    sweep = api.create_sweep(config).id
    doomed = agents(sweep)
    run = wait_for("a running run", lambda: runs_in(api, sweep, "running"))[0]
    pid_file = workdir / f"{run.id}.pid"
    orphan = int(wait_for("the program's pid", lambda: pid_file.exists() and pid_file.read_text()))
    try:
        os.killpg(doomed.process.pid, signal.SIGKILL)  # the agent dies; its program does not
        doomed.process.wait()
        (workdir / "agent-killed").touch()  # from now on runs are quick
        crashed = wait_for("the lease to expire", lambda: runs_in(api, sweep, "crashed"))[0]
        assert crashed.id == run.id
        assert crashed.stop_reason is not None
        assert "sent no heartbeat for 3 s" in crashed.stop_reason
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(orphan, signal.SIGKILL)
    rescue = agents(sweep)
    assert rescue.wait() == 0, rescue.output()
    states = sorted((r.params["x"], r.state.value) for r in api.list_runs(sweep))
    if retry:  # the crashed point is run again as attempt 2, and the sweep completes
        assert states == [(1, "crashed"), (1, "finished"), (2, "finished"), (3, "finished")]
        (again,) = [r for r in api.list_runs(sweep) if r.attempt == 2]
        assert again.retry_of == run.id
    else:  # W&B semantics: a crashed grid point is not handed out again
        assert states == [(1, "crashed"), (2, "finished"), (3, "finished")]


def test_a_program_that_ignores_sigterm_is_killed_after_the_kill_delay(
    api: ApiClient, agents: Callable[..., Agent], workdir: Path
) -> None:
    (workdir / "stubborn.py").write_text(
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        + TRAIN.replace(
            'float(hypersweep.config.get("sleep", 0.0))', "0.2 * (hypersweep.config.x > 1)"
        )
    )
    config = sweep_config(
        {"x": {"values": [0, 0.1, 5]}, "steps": {"value": 200}},
        early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2},
        program="stubborn.py",
    )
    sweep = api.create_sweep(config).id
    agent = agents(sweep)
    assert agent.wait() == 0, agent.output()
    bad = max(api.list_runs(sweep), key=lambda run: run.params["x"])
    assert (bad.state, bad.stopped, bad.exit_code) == ("killed", True, -signal.SIGKILL)
