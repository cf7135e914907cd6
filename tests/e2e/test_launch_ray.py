"""``hypersweep launch ID --ray``: agents as Ray tasks on a local Ray the launcher starts and
stops (issue 7). Needs the optional extra: ``pip install 'hypersweep[ray]'``."""

from __future__ import annotations

import functools
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from _servers import free_port, server_process, server_thread
from hypersweep.cli import main
from hypersweep.client import ApiClient

HAS_RAY = importlib.util.find_spec("ray") is not None
_NO_RAY = "ray is not installed: pip install 'hypersweep[ray]' to run these"


def needs_ray(test: Any) -> Any:
    """Skipped without ray, but a failure under CI=true, which installs the extra."""
    if HAS_RAY:
        return test

    @functools.wraps(test)
    def missing(*args: Any, **kwargs: Any) -> None:
        if os.environ.get("CI") == "true":
            pytest.fail(_NO_RAY + " (CI=true needs them)")
        pytest.skip(_NO_RAY)

    return missing


LAUNCH_TIMEOUT = 240.0  # seconds: a local Ray takes 5-20 s to start on a loaded 2-core machine
TRAIN = """\
import hypersweep

hypersweep.init()
for step in range(3):
    hypersweep.log({"loss": hypersweep.config.x * hypersweep.config.y / (step + 1)})
"""


def launcher_env() -> dict[str, str]:
    # RAY_DEDUP_LOGS=0: every agent's lines reach the output as they are (easier to read a failure)
    return {**os.environ, "HYPERSWEEP_AGENT_HEARTBEAT": "0.1", "RAY_DEDUP_LOGS": "0"}


def session_members(session: int) -> set[int]:
    """PIDs of the processes in ``session``: the launcher's, which Ray's daemons stay in too."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it exited while we looked
            continue
        # fields after "(comm)": state ppid pgrp session ...
        if int(stat.rpartition(")")[2].split()[3]) == session:
            pids.add(int(entry.name))
    return pids


def survivors(session: int, timeout: float = 15.0) -> set[int]:
    """Processes of ``session`` still alive ``timeout`` s after its leader exited (Ray reaps its
    daemons asynchronously, so give them a moment; there is no event to wait for)."""
    deadline = time.monotonic() + timeout
    alive = session_members(session)
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = session_members(session)
    return alive


@contextmanager
def launcher(args: list[str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m hypersweep launch ARGS`` in a session of its own; whatever of that session
    is left afterwards (Ray daemons, agents, runs) is killed by PID, also when the test fails."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hypersweep", "launch", *args],
            cwd=cwd,
            env=launcher_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            for pid in session_members(process.pid):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.timeout(LAUNCH_TIMEOUT + 60)
@needs_ray
def test_two_ray_agents_finish_a_grid_and_the_local_ray_stops(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    config = {
        "program": "train.py",
        "command": ["${env}", sys.executable, "${program}", "${args}"],
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [1, 2, 3]}, "y": {"values": [1, 2]}},
    }
    log = tmp_path / "launch.log"
    with server_process(tmp_path / "data") as url, ApiClient(url) as api:
        sweep = api.create_sweep(config).id
        started = time.monotonic()
        # --count 3: each agent takes half the grid, so both must run for all 6 to finish
        args = [sweep, "--ray", "--agents", "2", "--count", "3", "--server", url]
        with launcher(args, tmp_path, log) as process:
            code = process.wait(timeout=LAUNCH_TIMEOUT)
            elapsed = time.monotonic() - started
            output = log.read_text()
            assert code == 0, output
            left = survivors(process.pid)
            assert not left, f"the launcher left processes running: {left}\n{output}"
        runs = api.list_runs(sweep)
        agents = api.list_agents(sweep)
    assert sorted((run.params["x"], run.params["y"]) for run in runs) == [
        (x, y) for x in (1, 2, 3) for y in (1, 2)
    ], output
    assert {run.state.value for run in runs} == {"finished"}, output
    assert len({agent.id for agent in agents}) == 2, output
    assert {run.agent_id for run in runs} == {agent.id for agent in agents}, output
    ends = [line for line in output.splitlines() if line.startswith("agent ")]
    assert sorted(line.split(" on ")[0] for line in ends) == ["agent 1/2", "agent 2/2"], output
    assert all(line.endswith(": exit 0") for line in ends), output
    print(f"launch of 2 Ray agents, 6 runs: {elapsed:.1f} s")


@pytest.mark.ray
@needs_ray
@pytest.mark.timeout(60)
def test_an_unreachable_ray_address_is_one_clear_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    with server_thread() as url, ApiClient(url) as api:
        sweep = api.create_sweep(
            {"program": "train.py", "method": "grid", "parameters": {"x": {"values": [1]}}}
        ).id
        args = [sweep, "--ray", "--ray-address", f"127.0.0.1:{port}", "--server", url]
        with launcher(args, tmp_path, tmp_path / "launch.log") as process:
            code = process.wait(timeout=45)
    output = (tmp_path / "launch.log").read_text()
    assert code == 1, output
    assert f"--ray-address 127.0.0.1:{port}: nothing answers at 127.0.0.1:{port}" in output
    assert "Traceback" not in output


def test_without_ray_installed_the_error_names_the_extra(tmp_path: Path) -> None:
    # A `ray` package that fails to import stands in for a machine without Ray.
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-m", "hypersweep", "launch", "abc", "--ray"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: Ray is not installed here; install it with: pip install 'hypersweep[ray]'"
    )


def test_launch_without_an_engine_says_which_to_name() -> None:
    result = CliRunner().invoke(main, ["launch", "abc"])
    assert result.exit_code == 2
    assert "name the cluster engine: --ray" in result.output
