"""``hypersweep quickstart`` as a user runs it: a real process with a server, agents and runs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn", reason="the bundled example trains with scikit-learn")

_TIMEOUT = 240  # seconds; a generous bound for a loaded 2-core machine, not a timing assertion


def run_quickstart(*args: str) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "hypersweep", "quickstart", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={key: value for key, value in os.environ.items() if key != "COLUMNS"},
    )
    try:
        out, err = process.communicate(timeout=_TIMEOUT)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_quickstart_runs_the_example_sweep_to_the_end(tmp_path: Path) -> None:
    result = run_quickstart("--runs", "6", "--agents", "2", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    match = re.search(r"Sweep quickstart/(\w+) is finished: (\d+) runs", out)
    assert match, out
    sweep_id = match.group(1)
    table = out[match.end() :]
    rows = [line for line in table.splitlines() if line.startswith("│")]
    finished = [line for line in rows if " finished " in line]
    # run_cap counts runs; crashed or killed runs without a metric do not (spec §4.6)
    assert len(finished) == 6, out
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+/", out), out
    assert "val_accuracy ↑" in table
    # columns: run, state, the parameters..., val_accuracy, runtime
    accuracies = [float(line.strip("│ ").split("│")[-2]) for line in finished]
    assert accuracies == sorted(accuracies, reverse=True)
    assert all(0 <= value <= 1 for value in accuracies)
    assert accuracies[0] > 0.5  # even 6 runs find a network that learns the digits
    # the data stays where we said, with the agents' log, and the hints name it
    assert (tmp_path / "hypersweep.db").is_file()
    assert (tmp_path / "quickstart" / sweep_id / "agents.log").is_file()
    assert f"hypersweep server --data-dir {tmp_path}" in out
    assert f"hypersweep runs quickstart/{sweep_id}" in out
    assert "Traceback" not in result.stderr
