"""The cluster recipes in examples/cluster are well-formed and run a real agent command."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hypersweep.cli import main

CLUSTER = Path(__file__).parents[2] / "examples" / "cluster"


def agent_args(command: list[str]) -> list[str]:
    """The arguments after `hypersweep agent`, with the sweep id placeholder filled in."""
    start = command.index("agent")
    return [
        arg.replace("$(SWEEP_ID)", "abc").replace('"${SWEEP_ID}"', "abc") for arg in command[start:]
    ]


def accepted_by_the_cli(args: list[str]) -> None:
    # --help after the real options: click rejects an unknown option before it prints help
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output


def test_the_kubernetes_job_runs_the_agent_with_valid_options() -> None:
    job = yaml.safe_load((CLUSTER / "k8s-agents-job.yaml").read_text())
    assert job["kind"] == "Job"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert command[:2] == ["hypersweep", "agent"]
    accepted_by_the_cli(agent_args(command))
    env = {item["name"] for item in container["env"]}
    assert {"SWEEP_ID", "HYPERSWEEP_SERVER"} <= env


def test_the_slurm_script_is_valid_bash_running_the_agent() -> None:
    script = (CLUSTER / "slurm-agents.sbatch").read_text()
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    subprocess.run([bash, "-n", str(CLUSTER / "slurm-agents.sbatch")], check=True)
    (line,) = [line for line in script.splitlines() if line.startswith("exec hypersweep agent")]
    words = line.split()[1:]
    accepted_by_the_cli(agent_args(words))
    assert re.search(r"^#SBATCH --signal=TERM@\d+", script, flags=re.M)
