"""What a run gets before it starts (spec §7.2): the parameter file and the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hypersweep.agent._job import job_env, write_param_file
from hypersweep.agent._settings import heartbeat_interval, kill_delay, report_interval


def test_the_param_file_is_wandbs_config_format_in_command_order(tmp_path: Path) -> None:
    path = write_param_file(
        str(tmp_path), "swp", "run1", {"lr": 0.001, "opt": {"name": "adam", "beta": 0.9}}
    )
    assert path == str(tmp_path / "wandb" / "sweep-swp" / "config-run1.yaml")
    text = Path(path).read_text()
    assert text.startswith("wandb_version: 1\n\nlr:\n  value: 0.001\n")
    assert yaml.safe_load(text) == {
        "wandb_version": 1,
        "lr": {"value": 0.001},
        "opt": {"value": {"name": "adam", "beta": 0.9}},
    }


def test_the_environment_carries_the_run_and_drops_wandb_service(tmp_path: Path) -> None:
    base = {"WANDB_DIR": str(tmp_path), "WANDB_SERVICE": "x", "CUDA_VISIBLE_DEVICES": "1"}
    env = job_env(
        base,
        sweep_id="swp",
        run_id="run1",
        project="proj",
        entity=None,
        server="http://127.0.0.1:9",
        agent_id="agent7",
        params={"lr": 0.1},
        sweep_config={"program": "train.py"},
    )
    assert env["WANDB_SWEEP_ID"] == "swp"
    assert env["WANDB_RUN_ID"] == "run1"
    assert env["WANDB_PROJECT"] == "proj"
    assert env["HYPERSWEEP_SERVER"] == "http://127.0.0.1:9"
    assert env["HYPERSWEEP_AGENT_ID"] == "agent7"
    assert env["CUDA_VISIBLE_DEVICES"] == "1"  # the child inherits the agent's environment
    assert "WANDB_SERVICE" not in env
    assert "WANDB_ENTITY" not in env
    assert Path(env["WANDB_SWEEP_PARAM_PATH"]).is_file()
    assert not (tmp_path / "wandb" / "sweep-swp" / "config-run1.json").exists()


def test_wandb_dir_defaults_to_the_working_directory_and_args_json_file_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = job_env(
        {},
        sweep_id="swp",
        run_id="run1",
        project=None,
        entity="team",
        server="http://s",
        agent_id="a",
        params={"lr": 0.1, "layers": [1, 2]},
        sweep_config={"command": ["python", "train.py", "${args_json_file}"]},
    )
    assert env["WANDB_DIR"] == str(tmp_path)
    assert env["WANDB_ENTITY"] == "team"
    written = tmp_path / "wandb" / "sweep-swp" / "config-run1.json"
    assert json.loads(written.read_text()) == {"lr": 0.1, "layers": [1, 2]}


def test_the_knobs_read_seconds_and_name_a_bad_value() -> None:
    assert heartbeat_interval({}) == 5.0
    assert heartbeat_interval({"HYPERSWEEP_AGENT_HEARTBEAT": "0.5"}) == 0.5
    assert kill_delay({}) == 30.0
    assert kill_delay({"WANDB_AGENT_KILL_DELAY": "2"}) == 2.0
    with pytest.raises(ValueError, match="WANDB_AGENT_KILL_DELAY='soon'"):
        kill_delay({"WANDB_AGENT_KILL_DELAY": "soon"})
    assert report_interval({}) == 0.0  # W&B's default: no report lines
    assert report_interval({"WANDB_AGENT_REPORT_INTERVAL": "60"}) == 60.0


def test_the_params_also_go_as_json_so_init_skips_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hypersweep.client._config import load_param_file

    params = {"lr": 0.1, "opt": {"name": "adam"}}
    env = job_env(
        {"WANDB_DIR": str(tmp_path)},
        sweep_id="swp",
        run_id="run1",
        project=None,
        entity=None,
        server="http://s",
        agent_id="a",
        params=params,
        sweep_config={},
    )
    path = env["WANDB_SWEEP_PARAM_PATH"]
    assert json.loads(env["HYPERSWEEP_SWEEP_PARAMS"]) == params
    assert load_param_file(path, env) == params == load_param_file(path)  # same as the file
    # JSON meant for another file is not used: the file is read
    Path(path).write_text("wandb_version: 1\n\nlr:\n  value: 0.5\n")
    other = {**env, "HYPERSWEEP_SWEEP_PARAMS_FOR": "/elsewhere.yaml"}
    assert load_param_file(path, other) == {"lr": 0.5}
