"""init(): sweep pickup from W&B's variables, modes, module-level API, offline files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hypersweep
from hypersweep.client import _init
from hypersweep.client._offline import read_offline_run
from hypersweep.errors import ConfigError, HypersweepError


def offline_run_dir(base: Path) -> Path:
    (found,) = (base / "hypersweep").glob("offline-run-*")
    return found


def sweep_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, params: str) -> None:
    path = tmp_path / "wandb" / "sweep-sw1" / "config-run1.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("wandb_version: 1\n\n" + params)
    monkeypatch.setenv("WANDB_SWEEP_ID", "sw1")
    monkeypatch.setenv("WANDB_RUN_ID", "run1")
    monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(path))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_PROJECT", "mnist")
    monkeypatch.setenv("HYPERSWEEP_MODE", "offline")


def test_sweep_run_takes_ids_and_locked_params_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep_env(monkeypatch, tmp_path, "lr:\n  value: 0.01\nopt:\n  value:\n    name: adam\n")
    run = hypersweep.init(
        project="other",
        id="mine",
        config={"lr": 1.0, "epochs": 3, "opt": {"name": "sgd", "momentum": 0.9}},
    )
    err = capsys.readouterr().err
    assert "Ignoring project 'other' when running a sweep." in err
    assert "Ignoring run_id 'mine' when running a sweep." in err
    assert (run.id, run.sweep_id, run.project) == ("run1", "sw1", "mnist")
    assert hypersweep.config.as_dict() == {
        "lr": 0.01,
        "epochs": 3,
        "opt": {"name": "adam", "momentum": 0.9},
    }
    hypersweep.config.update({"lr": 5, "epochs": 4})
    assert (hypersweep.config.lr, hypersweep.config.epochs) == (0.01, 4)
    assert "Config item 'lr' was locked by 'sweep' (ignored update)." in capsys.readouterr().err
    hypersweep.finish()
    meta = read_offline_run(offline_run_dir(tmp_path)).meta
    assert meta["sweep_id"] == "sw1"
    assert meta["params"] == {"lr": 0.01, "opt": {"name": "adam"}}
    assert meta["config"]["epochs"] == 4


def test_sweep_without_run_id_says_how_runs_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_SWEEP_ID", "sw1")
    with pytest.raises(HypersweepError, match=r"WANDB_RUN_ID is not.*hypersweep agent sw1"):
        hypersweep.init()


def test_sweep_with_missing_param_file_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WANDB_SWEEP_ID", "sw1")
    monkeypatch.setenv("WANDB_RUN_ID", "run1")
    monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match="cannot read the sweep parameter file"):
        hypersweep.init(mode="offline")


def test_outside_a_sweep_the_run_is_written_offline_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_init, "_said_not_in_sweep", False)
    run = hypersweep.init(config={"lr": 0.1}, tags=["a"], name="first")
    assert run.mode == "offline"
    assert run.project == "uncategorized"
    run.log({"loss": 0.5})
    run.finish()
    hypersweep.init(reinit=True).finish()
    err = capsys.readouterr().err
    assert err.count("not in a sweep (WANDB_SWEEP_ID is unset)") == 1
    assert "hypersweep sync" in err
    first = read_offline_run(tmp_path / "hypersweep" / Path(run.dir).name)
    assert first.meta["config"] == {"lr": 0.1}
    assert first.meta["tags"] == ["a"]
    assert first.meta["name"] == "first"
    assert (first.meta["state"], first.meta["exit_code"]) == ("finished", 0)
    assert [(step, m["loss"]) for step, m in first.history] == [(0, 0.5)]


def test_context_manager_records_an_exception_as_exit_code_1(tmp_path: Path) -> None:
    def train() -> None:
        with hypersweep.init(mode="offline") as run:
            run.log({"loss": 1.0})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        train()
    meta = read_offline_run(offline_run_dir(tmp_path)).meta
    assert (meta["state"], meta["exit_code"]) == ("failed", 1)
    assert hypersweep.run is None


def test_module_level_api_like_wandb(tmp_path: Path) -> None:
    wandb = hypersweep
    with pytest.raises(HypersweepError, match=r"call hypersweep.init\(\) before using"):
        wandb.config.lr  # noqa: B018
    with pytest.raises(HypersweepError, match=r"call hypersweep.init\(\) before hypersweep.log"):
        wandb.log({"a": 1})
    run = wandb.init(config={"lr": 0.3}, mode="offline")
    assert wandb.run is run
    assert wandb.config.lr == 0.3
    wandb.log({"acc": 0.5})
    wandb.summary["best"] = 0.9
    assert wandb.summary["acc"] == 0.5
    wandb.finish()
    assert wandb.run is None
    wandb.finish()  # without a run: nothing
    meta = read_offline_run(offline_run_dir(tmp_path)).meta
    assert meta["summary"]["best"] == 0.9


def test_reinit_modes(tmp_path: Path) -> None:
    first = hypersweep.init(mode="disabled")
    assert hypersweep.init(mode="disabled") is first
    second = hypersweep.init(mode="disabled", reinit="create_new")
    assert not first.finished
    assert hypersweep.run is second
    third = hypersweep.init(mode="disabled", reinit=True)
    assert second.finished
    assert hypersweep.run is third
    with pytest.raises(HypersweepError, match=r"init\(reinit='sometimes'\): use one of"):
        hypersweep.init(reinit="sometimes")


def test_disabled_mode_writes_nothing(tmp_path: Path) -> None:
    run = hypersweep.init(mode="disabled", config={"lr": 1})
    run.log({"loss": 1})
    run.finish()
    assert not (tmp_path / "hypersweep").exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"mode": "cloud"}, HypersweepError, r"init\(mode=...\): unknown mode 'cloud'; use one"),
        ({"id": "a/b"}, HypersweepError, r"run id 'a/b': use 1-64 letters"),
        ({"colour": "red"}, TypeError, r"unexpected keyword argument 'colour'"),
        ({"config": 3}, TypeError, r"init\(config=...\): expected a dict"),
    ],
    ids=["mode", "id", "unknown-kwarg", "config-type"],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        hypersweep.init(**kwargs)  # type: ignore[arg-type]


def test_mode_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert hypersweep.init().mode == "disabled"
    monkeypatch.setenv("HYPERSWEEP_MODE", "bogus")
    with pytest.raises(HypersweepError, match="HYPERSWEEP_MODE / WANDB_MODE: unknown mode"):
        hypersweep.init(reinit=True)


def test_wandb_only_arguments_are_accepted_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    hypersweep.init(mode="disabled", save_code=True, entity="me")
    assert (
        "init(save_code=...) is a wandb option that hypersweep ignores" in capsys.readouterr().err
    )


def test_config_from_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "defaults.yaml"
    path.write_text("lr: 0.1\nepochs:\n  value: 3\n  desc: passes\n")
    run = hypersweep.init(mode="disabled", config=str(path))
    assert run.config.as_dict() == {"lr": 0.1, "epochs": 3}


CONFIG_DEFAULTS = """\
wandb_version: 1
lr:
  desc: learning rate
  value: 0.1
epochs: 3
batch:
  value: 32
opt:
  name: sgd
"""


def test_config_defaults_yaml_in_the_working_directory_is_read_as_wandb_does(
    tmp_path: Path,
) -> None:
    (tmp_path / "config-defaults.yaml").write_text(CONFIG_DEFAULTS)
    run = hypersweep.init(mode="disabled")
    assert run.config.as_dict() == {"lr": 0.1, "epochs": 3, "batch": 32, "opt": {"name": "sgd"}}


def test_init_config_wins_over_config_defaults_yaml_and_the_sweep_over_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config-defaults.yaml").write_text(CONFIG_DEFAULTS)
    sweep_env(monkeypatch, tmp_path, "lr:\n  value: 0.01\n")
    run = hypersweep.init(config={"lr": 1.0, "epochs": 5})
    assert run.config.as_dict() == {"lr": 0.01, "epochs": 5, "batch": 32, "opt": {"name": "sgd"}}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("lr: [0.1, 0.2\n", "not valid YAML"),
        ("- lr\n- epochs\n", "expected a mapping of keys to values, got list"),
        ("lr:\n  desc: learning rate\nepochs:\n  desc: passes\n", "lr: {'desc'"),
    ],
    ids=["not-yaml", "a-list", "desc-without-value"],
)
def test_a_malformed_config_defaults_yaml_names_the_file_and_the_fix(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "config-defaults.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        hypersweep.init(mode="disabled")
    message = str(caught.value)
    assert str(tmp_path / "config-defaults.yaml") in message
    assert problem in message
    assert "rename it if it is not meant for that" in message
    assert ("write lr: {desc: ..., value: V}" if "desc" in text else "fix it: one `key") in message
    if "desc" in text:  # every key's issue at once
        assert "epochs: {'desc': 'passes'} has a desc but no value" in message


def test_dir_argument_wins_over_wandb_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "env"))
    run = hypersweep.init(mode="offline", dir=tmp_path / "arg")
    run.finish()
    assert Path(run.dir).parent == tmp_path / "arg" / "hypersweep"
    assert json.loads((Path(run.dir) / "run.json").read_text())["id"] == run.id


def test_a_crash_keeps_what_was_logged(tmp_path: Path) -> None:
    # the child waits until the sender has appended its rows (no sleep), then dies hard
    code = (
        "import hypersweep, os, pathlib, time\n"
        "run = hypersweep.init(mode='offline')\n"
        "for i in range(3): run.log({'loss': i})\n"
        "history = pathlib.Path(run.dir) / 'history.jsonl'\n"
        "deadline = time.monotonic() + 60\n"
        "while time.monotonic() < deadline and (not history.exists() or "
        "history.read_text().count('\\n') < 3): time.sleep(0.02)\n"
        "os._exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=False)
    assert result.returncode == 3
    run = read_offline_run(offline_run_dir(tmp_path))
    assert [m["loss"] for _, m in run.history] == [0, 1, 2]
    assert run.final_state == "crashed"


def test_sys_exit_code_is_recorded_at_exit(tmp_path: Path) -> None:
    code = "import hypersweep, sys\nhypersweep.init(mode='offline').log({'a': 1})\nsys.exit(4)\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=False)
    assert result.returncode == 4
    meta = read_offline_run(offline_run_dir(tmp_path)).meta
    assert (meta["state"], meta["exit_code"]) == ("failed", 4)


EXIT_PROBE = """
import atexit, gc, os
import hypersweep
# registered before init(): runs after the client's own exit step (atexit is last in, first out)
atexit.register(lambda: print("frozen", gc.get_freeze_count() > 0, flush=True))
hypersweep.init(mode="offline", config={"x": 1})
hypersweep.log({"loss": 1.0})
"""


@pytest.mark.parametrize(
    ("env", "frozen"),
    [
        ({"HYPERSWEEP_AGENT_ID": "ag1"}, True),
        ({"HYPERSWEEP_AGENT_ID": "ag1", "HYPERSWEEP_FAST_EXIT": "0"}, False),
        ({}, False),
    ],
)
def test_an_agents_run_skips_the_garbage_collections_at_exit(
    tmp_path: Path, env: dict[str, str], frozen: bool
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HYPERSWEEP_", "WANDB_"))}
    result = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"frozen {frozen}" in result.stdout.splitlines()
