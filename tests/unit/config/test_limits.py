"""A sweep config's size limits (``config/_limits.py``): too deep, too big (a YAML alias bomb
included), too many parameters, an alias inside its own anchor. Each is one ConfigIssue naming
the path and the limit, found by a walk that never expands aliases, before the recursive parse.

No timing asserts: each test is bounded by pytest-timeout, and the alias bomb's memory is
measured with tracemalloc (deterministic for the same input), so the tests cannot flake."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hypersweep import engine
from hypersweep.config import load_source, parse_config
from hypersweep.config._limits import MAX_DEPTH, MAX_PARAMETERS, MAX_SIZE, limit_issues
from hypersweep.errors import ConfigIssue

pytestmark = pytest.mark.timeout(30)


def _errors(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    return [issue for issue in issues if issue.is_error]


def _nested(levels: int) -> dict[str, Any]:
    config: dict[str, Any] = {"method": "random", "parameters": {}}
    block = config["parameters"]
    for _ in range(levels):
        block["g"] = {"parameters": {}}
        block = block["g"]["parameters"]
    block["lr"] = {"min": 0.1, "max": 1.0}
    return config


def _alias_bomb(leaf: str = "lol", levels: int = 9, width: int = 10) -> str:
    """Billion laughs: level 0 is ``width`` strings, each next level ``width`` aliases of the
    previous: width**levels strings once expanded, from a few hundred bytes of text."""
    lines = ["method: random", "parameters: {x: {value: 1}}"]
    lines.append("l0: &l0 [" + ", ".join([leaf] * width) + "]")
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _peak_bytes(function: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("leaf", ["lol", "x" * 100_000], ids=["short", "1MB-of-strings"])
def test_a_yaml_alias_bomb_is_refused(tmp_path: Path, leaf: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(leaf))
    raw, issues = load_source(path)
    assert raw is None
    [issue] = issues
    assert issue.path == "l8"  # the top-level key holding the most
    assert f"more than {MAX_SIZE:,} keys and values" in issue.message
    assert "aliases counted each time" in issue.message


def test_reading_and_refusing_an_alias_bomb_takes_little_memory(tmp_path: Path) -> None:
    # expanded: 10**9 strings, 8 GB of references alone
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb())
    assert _peak_bytes(lambda: load_source(path)) < 1024 * 1024


def test_the_limit_walk_takes_little_memory_whatever_the_strings_size() -> None:
    # loaded outside tracemalloc: tracing slows PyYAML's scanner ~15x on a 1 MB document
    raw = yaml.safe_load(_alias_bomb("x" * 100_000))
    issues: list[ConfigIssue] = []
    assert _peak_bytes(lambda: issues.extend(limit_issues(raw))) < 1024 * 1024
    assert [issue.path for issue in issues] == ["l8"]


def test_a_yaml_alias_bomb_is_refused_by_validate_too(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb())
    [issue] = _errors(engine.validate(str(path)))
    assert f"more than {MAX_SIZE:,}" in issue.message


def test_aliases_used_within_the_limit_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "shared.yaml"
    path.write_text(
        "method: grid\nvalues: &v [1, 2, 3]\nparameters:\n  a: {values: *v}\n  b: {values: *v}\n"
    )
    raw, issues = load_source(path)
    assert issues == []
    assert raw["parameters"]["b"]["values"] == [1, 2, 3]
    assert _errors(engine.validate(str(path))) == []


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("method: random\nparameters:\n  x: &x {values: [*x]}\n")
    raw, issues = load_source(path)
    assert raw is None
    [issue] = issues
    assert issue.path == "parameters.x.values[0]"
    assert "contains itself" in issue.message


def test_a_config_nested_past_the_limit_is_refused_naming_the_path() -> None:
    config, issues = parse_config(_nested(20))
    assert config is None
    [issue] = issues
    assert issue.path.startswith("parameters.g.parameters.g.")
    assert len(issue.path.split(".")) == MAX_DEPTH
    assert f"more than {MAX_DEPTH} levels" in issue.message
    assert "flatten" in issue.message


def test_a_config_nested_within_the_limit_parses() -> None:
    # 14 groups: parameters + 2 levels per group + the leaf's spec = 31 levels
    config, issues = parse_config(_nested(14))
    assert _errors(issues) == []
    assert config is not None
    assert [p.name for p in config.space] == [".".join(["g"] * 14 + ["lr"])]


def test_a_config_nested_far_past_python_s_stack_is_refused() -> None:
    # thousands of levels: every recursive walk (the JSON check, deepcopy) would overflow
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    config = {"method": "random", "parameters": {"x": {"value": deep}}}
    [issue] = _errors(engine.validate(config))
    assert issue.path.startswith("parameters.x.value[0][0]")


def test_a_yaml_file_nested_past_the_parser_s_stack_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("method: random\nparameters: " + "[" * 5000 + "]" * 5000 + "\n")
    raw, issues = load_source(path)
    assert raw is None
    [issue] = issues
    assert f"at most {MAX_DEPTH} levels" in issue.message


def test_a_json_file_nested_past_the_parser_s_stack_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"method": "random", "parameters": ' + "[" * 5000 + "]" * 5000 + "}")
    raw, issues = load_source(path)
    assert raw is None
    assert f"at most {MAX_DEPTH} levels" in issues[0].message


def test_a_config_over_the_size_limit_is_refused_naming_its_biggest_key() -> None:
    config = {
        "method": "grid",
        "parameters": {"x": {"values": list(range(MAX_SIZE))}},
        "description": "short",
    }
    [issue] = limit_issues(config)
    assert issue.path == "parameters"
    assert f"more than {MAX_SIZE:,} keys and values" in issue.message
    assert parse_config(config)[0] is None


def test_a_big_key_outside_parameters_is_named() -> None:
    config = {"method": "grid", "parameters": {"x": {"value": 1}}, "notes": [list(range(MAX_SIZE))]}
    [issue] = limit_issues(config)
    assert issue.path == "notes"


def test_too_many_parameters_are_refused_naming_parameters() -> None:
    params = {f"p{i}": {"value": i} for i in range(MAX_PARAMETERS + 1)}
    [issue] = limit_issues({"method": "random", "parameters": params})
    assert issue.path == "parameters"
    assert f"{MAX_PARAMETERS + 1:,} parameters is more than the {MAX_PARAMETERS:,}" in issue.message


def test_parameters_in_nested_blocks_count_toward_the_limit() -> None:
    half = MAX_PARAMETERS // 2 + 1
    params = {
        "a": {"parameters": {f"p{i}": {"value": i} for i in range(half)}},
        "b": {"parameters": {f"p{i}": {"value": i} for i in range(half)}},
    }
    [issue] = limit_issues({"method": "random", "parameters": params})
    assert f"{2 * half:,} parameters" in issue.message


def test_a_big_but_legal_config_is_accepted() -> None:
    params = {f"p{i}": {"values": [1, 2, 3]} for i in range(MAX_PARAMETERS)}
    config = {"method": "random", "parameters": params}
    assert limit_issues(config) == []
    parsed, issues = parse_config(config)
    assert _errors(issues) == []
    assert parsed is not None and len(parsed.space) == MAX_PARAMETERS
