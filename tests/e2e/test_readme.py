"""The README's examples say what hypersweep does: its config is valid, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

import hypersweep
from hypersweep import engine
from hypersweep.cli import main

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_the_sweep_config_is_valid() -> None:
    (config,) = blocks("yaml")
    assert engine.validate(yaml.safe_load(config)) == []


def test_every_hypersweep_command_shown_exists() -> None:
    commands = set(re.findall(r"^\$? ?hypersweep (\w+)", README, flags=re.M))
    commands |= set(re.findall(r"`hypersweep (\w+)", README))
    assert {"quickstart", "server", "sweep", "agent", "runs", "validate"} <= commands
    known = set(main.commands)
    missing = commands - known
    assert not missing, f"the README shows commands that do not exist: {sorted(missing)}"
    for name in commands:
        assert CliRunner().invoke(main, [name, "--help"]).exit_code == 0, name


def test_the_client_snippet_uses_the_public_api() -> None:
    python = "\n".join(blocks("python"))
    for name in set(re.findall(r"hypersweep\.(\w+)", python)):
        assert hasattr(hypersweep, name), f"README uses hypersweep.{name}, which does not exist"
