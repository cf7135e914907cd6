"""``hypersweep sweep``: create a sweep from a config, change a sweep's state (spec §9.1, §8.1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from _servers import free_port, server_thread
from hypersweep.cli import main
from hypersweep.client import ApiClient
from hypersweep.examples import digits

CONFIG = """\
method: random
metric: {name: loss, goal: minimize}
parameters:
  lr: {min: 0.001, max: 0.1}
  opt:
    parameters:
      name: {values: [adam, sgd]}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with server_thread() as url:
        yield url


def sweep(server: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["sweep", *args, "--server", server])
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str, name: str = "sweep.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_create_prints_the_id_and_the_agent_command(server: str, tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG)
    code, _out, err = sweep(server, path, "--project", "mnist", "--name", "first")
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0] == f"Creating sweep from: {path}"
    sweep_id = lines[1].removeprefix("Creating sweep with ID: ")
    assert lines[2] == f"Run sweep agent with: hypersweep agent mnist/{sweep_id} --server {server}"
    with ApiClient(server) as client:
        created = client.get_sweep(sweep_id)
    assert (created.project, created.name) == ("mnist", "first")
    assert created.config["parameters"]["lr"]["max"] == 0.1


def test_wandb_flags_entity_and_program_override_the_config(server: str, tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG + "program: old.py\nentity: me\n")
    code, out, err = sweep(server, "-q", path, "-e", "vision-team", "--program", "train.py")
    assert code == 0, err
    with ApiClient(server) as client:
        config = client.get_sweep(out.strip()).config
    assert (config["entity"], config["program"]) == ("vision-team", "train.py")
    assert config["parameters"]["lr"]["max"] == 0.1


def test_quiet_prints_only_the_id_on_stdout(server: str, tmp_path: Path) -> None:
    code, out, err = sweep(server, "--quiet", write(tmp_path, CONFIG))
    assert code == 0
    assert err == ""
    with ApiClient(server) as client:
        assert client.get_sweep(out.strip()).id == out.strip()
    assert out == f"{out.strip()}\n"


def test_the_bundled_example_is_a_valid_sweep(server: str) -> None:
    code, out, _ = sweep(server, "-q", str(digits().config))
    assert code == 0
    with ApiClient(server) as client:
        created = client.get_sweep(out.strip())
    assert created.project == "digits"
    assert created.config["metric"] == {"name": "val_accuracy", "goal": "maximize"}


def test_invalid_config_prints_every_issue_and_creates_nothing(tmp_path: Path) -> None:
    bad = CONFIG.replace("min: 0.001", "min: 0.5").replace("goal: minimize", "goal: maximise")
    path = write(tmp_path, bad)
    with server_thread() as url:
        code, out, err = sweep(url, path)
        with ApiClient(url) as client:
            assert client.list_sweeps() == []
    assert code == 2
    assert out == ""
    assert f"{path}: metric.goal: " in err
    assert "did you mean 'maximize'" in err
    assert f"{path}: parameters.lr" in err
    assert "Traceback" not in err


def test_invalid_config_needs_no_server(tmp_path: Path) -> None:
    path = write(tmp_path, "method: grdi\nparameters: {}\n")
    code, _, err = sweep(f"http://127.0.0.1:{free_port()}", path)
    assert code == 2
    assert f"{path}: method: " in err


def test_warnings_are_printed_and_strict_refuses_them(server: str, tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG + "command:\n  - python\n  - train.py\n  - --lr=${lr}\n")
    code, _, err = sweep(server, path)
    assert code == 0
    assert f"{path}: command[2]: warning: " in err
    code, _, err = sweep(server, "--strict", path)
    assert code == 2
    assert "command[2]" in err


def test_missing_file_names_it(server: str, tmp_path: Path) -> None:
    code, _, err = sweep(server, str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml' is not a file" in err


def test_state_changes_print_spec_messages(server: str, tmp_path: Path) -> None:
    _, out, _ = sweep(server, "-q", "-p", "proj", write(tmp_path, CONFIG))
    sweep_id = out.strip()
    code, _, err = sweep(server, "--stop", f"proj/{sweep_id}")
    assert code == 0
    assert err == f"Stopping sweep proj/{sweep_id}\nDone.\n"
    with ApiClient(server) as client:
        assert client.get_sweep(sweep_id).state == "finished"
    # spec §8.1: a finished sweep cannot be paused; the server says why (409) and we exit 1
    code, _, err = sweep(server, "--pause", sweep_id)
    assert code == 1
    assert err.startswith(f"Pausing sweep proj/{sweep_id}\nError: ")
    assert "pause" in err.splitlines()[1]
    code, _, err = sweep(server, "--resume", sweep_id)
    assert (code, err) == (0, f"Resuming sweep proj/{sweep_id}\nDone.\n")
    code, _, err = sweep(server, "--cancel", sweep_id)
    assert (code, err) == (0, f"Cancelling sweep proj/{sweep_id}\nDone.\n")
    with ApiClient(server) as client:
        assert client.get_sweep(sweep_id).state == "canceled"


def test_only_one_state_flag(server: str) -> None:
    code, _, err = sweep(server, "--stop", "--cancel", "abcd1234")
    assert code == 2
    assert "Only one state flag (stop/cancel/pause/resume) is allowed." in err


@pytest.mark.parametrize(
    ("target", "expected"),
    [("zzzzzzzz", "'zzzzzzzz'"), ("a/b/c/d", "expected sweep_id in form of")],
    ids=["unknown-id", "too-many-parts"],
)
def test_unknown_sweep_is_one_line(server: str, target: str, expected: str) -> None:
    code, _, err = sweep(server, "--pause", target)
    assert code == 1
    assert err.count("\n") == 1
    assert expected in err


def test_wrong_project_names_the_right_one(server: str, tmp_path: Path) -> None:
    _, out, _ = sweep(server, "-q", "-p", "right", write(tmp_path, CONFIG))
    code, _, err = sweep(server, "--stop", f"wrong/{out.strip()}")
    assert code == 1
    assert f"use right/{out.strip()}" in err


def test_server_down_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _out, err = sweep(url, write(tmp_path, CONFIG))
    assert code == 1
    error = err.splitlines()[-1]
    assert error.startswith(f"Error: could not reach the hypersweep server at {url}")
    assert "hypersweep server" in error
    assert "Traceback" not in err


def test_hypersweep_server_variable_is_used(server: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["sweep", "-q", write(tmp_path, CONFIG)], env={"HYPERSWEEP_SERVER": server}
    )
    assert result.exit_code == 0
    with ApiClient(server) as client:
        assert client.get_sweep(result.stdout.strip()).state == "pending"


def test_a_sweep_with_a_local_controller_says_how_to_start_it(server: str, tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG + "controller: {type: local}\n")
    code, _out, err = sweep(server, path, "--project", "lc")
    assert code == 0, err
    sweep_id = err.split("Creating sweep with ID: ")[1].split()[0]
    assert (
        f"Its agents wait for its local controller: start it with: "
        f"hypersweep controller lc/{sweep_id} --server {server}"
    ) in err
