"""run.config: access, update rules, the sweep's deep merge and locks (spec §7.3)."""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import pytest

from hypersweep.client._config import Config, deep_merge, load_param_file
from hypersweep.errors import ConfigError


def test_attribute_item_and_mapping_access() -> None:
    config = Config()
    config.update({"lr": 0.1, "opt": {"name": "sgd"}})
    config.epochs = 3
    config["batch"] = 32
    assert (config.lr, config["epochs"], config.get("batch"), config.get("nope", 7)) == (
        0.1,
        3,
        32,
        7,
    )
    assert "lr" in config
    assert "nope" not in config
    assert config.keys() == ["lr", "opt", "epochs", "batch"]
    assert dict(config.items())["opt"] == {"name": "sgd"}
    assert type(config.opt) is dict
    assert config.as_dict() == {"lr": 0.1, "opt": {"name": "sgd"}, "epochs": 3, "batch": 32}
    assert len(config) == 4
    assert list(config) == ["lr", "opt", "epochs", "batch"]


def test_missing_attribute_names_the_key_and_the_fix() -> None:
    with pytest.raises(AttributeError, match=r"config has no key 'lr'.*config.get\('lr'"):
        Config().lr  # noqa: B018


def test_setdefaults_keeps_existing_values() -> None:
    config = Config()
    config.update({"lr": 0.1})
    config.setdefaults({"lr": 0.5, "epochs": 2})
    assert config.as_dict() == {"lr": 0.1, "epochs": 2}


def test_update_takes_an_argparse_namespace() -> None:
    config = Config()
    config.update(argparse.Namespace(lr=0.2, layers=3))
    assert config.as_dict() == {"lr": 0.2, "layers": 3}


def test_update_takes_another_config_and_copies_keep_locks() -> None:
    source = Config()
    source.update({"lr": 0.2})
    source._lock_sweep({"opt": "adam"})
    config = Config()
    config.update(source)
    assert config.as_dict() == {"lr": 0.2, "opt": "adam"}
    copied = copy.deepcopy(source)
    copied.opt = "sgd"
    assert copied.as_dict() == {"lr": 0.2, "opt": "adam"}


def test_update_refuses_other_types_with_the_fix() -> None:
    with pytest.raises(TypeError, match=r"config.update: expected a dict.*got int"):
        Config().update(3)


def test_deep_merge_keeps_default_keys_of_nested_dicts() -> None:
    merged = deep_merge(
        {"opt": {"name": "sgd", "momentum": 0.9}, "lr": 1, "keep": True},
        {"opt": {"name": "adam"}, "lr": 0.01},
    )
    assert merged == {"opt": {"name": "adam", "momentum": 0.9}, "lr": 0.01, "keep": True}


def test_sweep_keys_are_locked_with_wandbs_warning(capsys: pytest.CaptureFixture[str]) -> None:
    config = Config()
    config.update({"lr": 1.0, "opt": {"name": "sgd", "momentum": 0.9}, "epochs": 5})
    config._lock_sweep({"lr": 0.01, "opt": {"name": "adam"}})
    assert config.as_dict() == {
        "lr": 0.01,
        "opt": {"name": "adam", "momentum": 0.9},
        "epochs": 5,
    }
    config.update({"lr": 0.5, "epochs": 10})
    config.lr = 0.7
    config["opt"] = {}
    assert config.lr == 0.01
    assert config.opt == {"name": "adam", "momentum": 0.9}
    assert config.epochs == 10
    err = capsys.readouterr().err
    assert err.count("Config item 'lr' was locked by 'sweep' (ignored update).") == 2
    assert "Config item 'opt' was locked by 'sweep' (ignored update)." in err
    assert "epochs" not in err


def test_param_file_strips_value_wrappers(tmp_path: Path) -> None:
    path = tmp_path / "config-abc.yaml"
    path.write_text(
        "wandb_version: 1\n\nlr:\n  value: 0.001\nopt:\n  value:\n    name: adam\n    beta: 0.9\n"
    )
    assert load_param_file(str(path)) == {"lr": 0.001, "opt": {"name": "adam", "beta": 0.9}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lr: 0.1\n", r"parameter 'lr': expected \{value: ...\}"),
        ("- 1\n", "expected a mapping of parameter names, got list"),
        ("lr: [\n", "not valid YAML"),
    ],
    ids=["unwrapped", "list", "broken"],
)
def test_bad_param_file_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_param_file(str(path))


def test_missing_param_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"WANDB_SWEEP_PARAM_PATH=.*unset WANDB_SWEEP_PARAM_PATH"):
        load_param_file(str(tmp_path / "absent.yaml"))
