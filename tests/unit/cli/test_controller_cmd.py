"""``hypersweep controller ID`` and ``hypersweep sweep --controller CONFIG`` (spec §9.1, §9.3)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from _servers import server_thread
from hypersweep.cli import main
from hypersweep.client import ApiClient

CONFIG = """\
method: grid
metric: {name: loss, goal: minimize}
parameters:
  x: {values: [1, 2]}
"""
LOCAL = {"type": "local"}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with server_thread() as url:
        yield url


def cli(server: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--server", server])
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return str(path)


def test_a_sweep_searched_by_the_server_is_refused_in_one_sentence(server: str) -> None:
    with ApiClient(server) as api:
        sweep_id = api.create_sweep({**_grid(), "controller": {"type": "cloud"}}).id
    code, _, err = cli(server, "controller", sweep_id)
    assert code == 1
    assert err.startswith(f"Error: sweep {sweep_id} is searched by the server")
    assert "hypersweep sweep --controller CONFIG" in err
    assert "Traceback" not in err


def test_the_controller_of_a_finished_sweep_prints_its_status_and_ends(server: str) -> None:
    with ApiClient(server) as api:
        sweep_id = api.create_sweep({**_grid(), "controller": LOCAL}).id
        api.sweep_action(sweep_id, "stop")
    code, out, err = cli(server, "controller", sweep_id, "--interval", "0")
    assert code == 0, err
    assert out == f"Sweep: {sweep_id} (grid) | Runs: 0 | Stopped: 0\n"
    assert f"Sweep {sweep_id} is finished" in err


def test_sweep_controller_creates_a_local_sweep_and_runs_its_controller(
    server: str, tmp_path: Path
) -> None:
    path = write(tmp_path, CONFIG)
    stopper = threading.Thread(target=_stop_the_new_sweep, args=(server, "cli-local"))
    stopper.start()
    try:
        code, out, err = cli(
            server, "sweep", "--controller", path, "-p", "cli-local", "--interval", "0.05"
        )
    finally:
        stopper.join(timeout=30)
    assert code == 0, err
    sweep_id = err.splitlines()[1].removeprefix("Creating sweep with ID: ")
    assert f"Run sweep agent with: hypersweep agent cli-local/{sweep_id}" in err
    assert "Running its local controller here" in err
    assert out.splitlines()[-1] == f"Sweep: {sweep_id} (grid) | Runs: 0 | Stopped: 0"
    with ApiClient(server) as api:
        assert api.get_sweep(sweep_id).config["controller"] == LOCAL


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--verbose"], "--verbose and --interval go with --controller", id="verbose"),
        pytest.param(["--interval", "1"], "go with --controller", id="interval"),
        pytest.param(["--controller", "--stop"], "--controller goes with a new sweep", id="stop"),
    ],
)
def test_controller_flags_out_of_place_are_usage_errors(
    server: str, tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, err = cli(server, "sweep", write(tmp_path, CONFIG), *args)
    assert code == 2
    assert message in err


def _grid() -> dict[str, object]:
    return {"method": "grid", "parameters": {"x": {"values": [1, 2]}}}


def _stop_the_new_sweep(server: str, project: str) -> None:
    """Stop the first sweep of ``project`` once it exists: its controller then ends."""
    deadline = time.monotonic() + 30
    with ApiClient(server) as api:
        while time.monotonic() < deadline:
            sweeps = api.list_sweeps(project)
            if sweeps:
                api.sweep_action(sweeps[0].id, "stop")
                return
            time.sleep(0.05)
