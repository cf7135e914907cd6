"""Command rendering and macros (spec §6.2, §6.3), against the spec's example run."""

from __future__ import annotations

import json
import os
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hypersweep.config._command import (
    DEFAULT_COMMAND,
    args_json_file_path,
    format_value,
    render_command,
    uses_macro,
)

# The example run of spec §6.3, in the order the agent received it.
EXAMPLE: dict[str, Any] = {
    "lr": 0.001,
    "flag_t": True,
    "flag_f": False,
    "none": None,
    "layers": [64, 128],
    "opt": {"name": "adam", "beta": 0.9},
    "name": "a b",
    "big": 3e-05,
    "n": 3,
}
OPT = "{'name': 'adam', 'beta': 0.9}"
ARGS = [
    "--lr=0.001",
    "--flag_t=True",
    "--flag_f=False",
    "--none=None",
    "--layers=[64, 128]",
    f"--opt={OPT}",
    "--name=a b",
    "--big=3e-05",
    "--n=3",
]
WANDB_DIR = "/abs/dir"
JSON_FILE = os.path.join(WANDB_DIR, "wandb", "sweep-swp123", "config-run4.json")


def render(
    command: Any,
    params: dict[str, Any] = EXAMPLE,
    env: dict[str, str] | None = None,
    platform: str = "linux",
    program: str | None = "train.py",
) -> list[str]:
    config = {"program": program, "command": command}
    env = {"WANDB_DIR": WANDB_DIR} if env is None else env
    return render_command(config, params, "run4", "swp123", env, platform=platform)


@dataclass(frozen=True)
class ParsedConfig:
    """Stands in for SweepConfig: anything with ``command`` and ``program`` attributes."""

    command: tuple[Any, ...] | None = None
    program: str | None = None


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        pytest.param("env", ["/usr/bin/env"], id="env"),
        pytest.param("interpreter", ["python"], id="interpreter"),
        pytest.param("program", ["train.py"], id="program"),
        pytest.param("args", ARGS, id="args"),
        pytest.param(
            "args_no_hyphens",
            [
                "lr=0.001",
                "flag_t=True",
                "flag_f=False",
                "none=None",
                "layers=[64, 128]",
                f"opt={OPT}",
                "name=a b",
                "big=3e-05",
                "n=3",
            ],
            id="args_no_hyphens",
        ),
        pytest.param(
            "args_no_boolean_flags",
            [
                "--lr=0.001",
                "--flag_t",
                "--none=None",
                "--layers=[64, 128]",
                f"--opt={OPT}",
                "--name=a b",
                "--big=3e-05",
                "--n=3",
            ],
            id="args_no_boolean_flags",
        ),
        pytest.param(
            "args_no_equals",
            [
                "--lr",
                "0.001",
                "--flag_t",
                "True",
                "--flag_f",
                "False",
                "--none",
                "None",
                "--layers",
                "[64, 128]",
                "--opt",
                OPT,
                "--name",
                "a b",
                "--big",
                "3e-05",
                "--n",
                "3",
            ],
            id="args_no_equals",
        ),
        pytest.param(
            "args_json",
            [
                '{"lr": 0.001, "flag_t": true, "flag_f": false, "none": null, '
                '"layers": [64, 128], "opt": {"name": "adam", "beta": 0.9}, "name": "a b", '
                '"big": 3e-05, "n": 3}'
            ],
            id="args_json",
        ),
        pytest.param("args_json_file", [JSON_FILE], id="args_json_file"),
        pytest.param(
            "args_append_hydra",
            [
                "+lr=0.001",
                "+flag_t=True",
                "+flag_f=False",
                "+none=None",
                "+layers=[64, 128]",
                f"+opt={OPT}",
                "+name=a b",
                "+big=3e-05",
                "+n=3",
            ],
            id="args_append_hydra",
        ),
        pytest.param(
            "args_override_hydra",
            [
                "++lr=0.001",
                "++flag_t=True",
                "++flag_f=False",
                "++none=None",
                "++layers=[64, 128]",
                f"++opt={OPT}",
                "++name=a b",
                "++big=3e-05",
                "++n=3",
            ],
            id="args_override_hydra",
        ),
    ],
)
def test_macro_expands_to_the_spec_tokens(macro: str, expected: list[str]) -> None:
    assert render(["before", f"${{{macro}}}", "after"]) == ["before", *expected, "after"]


def test_args_json_is_real_json_in_received_order() -> None:
    (token,) = render(["${args_json}"])
    assert json.loads(token) == EXAMPLE
    assert list(json.loads(token)) == list(EXAMPLE)


def test_params_keep_the_order_received() -> None:
    assert render(["${args}"], params={"z": 1, "opt": {"b": 2, "a": 1}, "a": 0}) == [
        "--z=1",
        "--opt={'b': 2, 'a': 1}",
        "--a=0",
    ]


def test_no_params_give_no_args_and_an_empty_json_object() -> None:
    assert render(["${args}", "${args_no_equals}", "${args_json}"], params={}) == ["{}"]


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        pytest.param("linux", ["/usr/bin/env", "python", "train.py", *ARGS], id="linux"),
        pytest.param("darwin", ["/usr/bin/env", "python", "train.py", *ARGS], id="macos"),
        pytest.param("win32", ["python", "train.py", *ARGS], id="windows-has-no-env"),
    ],
)
def test_default_command(platform: str, expected: list[str]) -> None:
    assert DEFAULT_COMMAND == ("${env}", "${interpreter}", "${program}", "${args}")
    assert render(None, platform=platform) == expected


def test_windows_drops_only_env() -> None:
    assert render(["${env}", "${interpreter}", "x"], platform="win32") == ["python", "x"]


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(None, id="none"),
        pytest.param("python train.py ${args}", id="string"),
        pytest.param({"python": "train.py"}, id="dict"),
        pytest.param(42, id="number"),
        pytest.param([], id="empty-list"),
    ],
)
def test_a_command_that_is_not_a_non_empty_list_means_the_default(command: Any) -> None:
    assert render(command) == ["/usr/bin/env", "python", "train.py", *ARGS]


def test_a_missing_command_key_means_the_default() -> None:
    config = {"program": "train.py"}
    assert render_command(config, {"lr": 0.1}, "r", "s", {}, platform="linux") == [
        "/usr/bin/env",
        "python",
        "train.py",
        "--lr=0.1",
    ]


def test_a_tuple_command_is_used() -> None:
    assert render(("python", "${program}")) == ["python", "train.py"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param(
            ParsedConfig(("python3", "${program}", "${args}"), "main.py"),
            ["python3", "main.py", "--lr=0.1"],
            id="command-and-program",
        ),
        pytest.param(
            ParsedConfig(None, "main.py"),
            ["/usr/bin/env", "python", "main.py", "--lr=0.1"],
            id="default-command",
        ),
        pytest.param(
            ParsedConfig(None, None),
            ["/usr/bin/env", "python", "--lr=0.1"],
            id="no-program",
        ),
    ],
)
def test_an_object_with_command_and_program(config: ParsedConfig, expected: list[str]) -> None:
    assert render_command(config, {"lr": 0.1}, "r", "s", {}, platform="linux") == expected


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"command": ["x", "${program}"]}, id="key-missing"),
        pytest.param({"command": ["x", "${program}"], "program": None}, id="key-none"),
    ],
)
def test_no_program_expands_to_nothing(config: dict[str, Any]) -> None:
    assert render_command(config, {}, "r", "s", {}) == ["x"]


def test_a_non_string_program_is_converted_with_str() -> None:
    config = {"command": ["${program}"], "program": 7}
    assert render_command(config, {}, "r", "s", {}) == ["7"]


@pytest.mark.parametrize(
    ("token", "env", "expected"),
    [
        pytest.param("${envvar:DATA}", {"DATA": "/data"}, ["/data"], id="set"),
        pytest.param("${envvar:NOPE}", {}, ["NOPE"], id="unset-gives-the-name"),
        pytest.param("${envvar:EMPTY}", {"EMPTY": ""}, [""], id="set-to-empty"),
        pytest.param(
            "--data=${envvar:DATA}/train", {"DATA": "/data"}, ["--data=/data/train"], id="in-token"
        ),
        pytest.param(
            "${envvar:A}-${envvar:B_2}-${envvar:C}",
            {"A": "x", "B_2": "y"},
            ["x-y-C"],
            id="several-in-one-token",
        ),
        pytest.param("--d=${envvar:data}", {"data": "/data"}, ["--d=${envvar:data}"], id="lower"),
        pytest.param("${envvar:data}", {"data": "/data"}, [], id="lower-whole-token-dropped"),
        pytest.param(
            "v=${envvar:X}", {"X": "${envvar:Y}", "Y": "no"}, ["v=${envvar:Y}"], id="only-once"
        ),
        pytest.param("${envvar:X}", {"X": "${envvar:Y}"}, [], id="result-is-a-whole-macro"),
        pytest.param("${envvar:M}", {"M": "${interpreter}"}, ["python"], id="value-is-a-macro"),
        pytest.param("${envvar:A}", {"A": "a b"}, ["a b"], id="spaces-stay-one-token"),
    ],
)
def test_envvar_substitution(token: str, env: dict[str, str], expected: list[str]) -> None:
    assert render([token], env=env) == expected


def test_envvar_reads_only_the_env_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERSWEEP_TEST_ONLY_IN_OS", "from-os-environ")
    monkeypatch.setenv("WANDB_DIR", "/from/os/environ")
    assert render(["${envvar:HYPERSWEEP_TEST_ONLY_IN_OS}"], env={}) == [
        "HYPERSWEEP_TEST_ONLY_IN_OS"
    ]
    with pytest.raises(ValueError, match="WANDB_DIR"):
        render(["${args_json_file}"], env={})


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param("--lr=${lr}", ["--lr=${lr}"], id="partial-macro-verbatim"),
        pytest.param("--flags=${args}", ["--flags=${args}"], id="partial-known-macro-verbatim"),
        pytest.param("${lr}", [], id="parameter-name-dropped"),
        pytest.param("${unknown}", [], id="unknown-dropped"),
        pytest.param("${}", [], id="empty-dropped"),
        pytest.param("${args} ${program}", [], id="two-macros-one-token-dropped"),
        pytest.param("${ args }", [], id="spaces-inside-dropped"),
        pytest.param("${ARGS}", [], id="case-sensitive"),
        pytest.param("$args", ["$args"], id="no-braces-verbatim"),
        pytest.param("{args}", ["{args}"], id="no-dollar-verbatim"),
        pytest.param("", [""], id="empty-token-kept"),
    ],
)
def test_tokens_that_are_not_exactly_a_known_macro(token: str, expected: list[str]) -> None:
    assert render(["python", token]) == ["python", *expected]


def test_command_elements_are_converted_with_str() -> None:
    assert render(["python", 3, 1.5, True, None, "${interpreter}"]) == [
        "python",
        "3",
        "1.5",
        "True",
        "None",
        "python",
    ]


def test_rendering_writes_no_file(tmp_path: Path) -> None:
    argv = render(["${args_json_file}"], env={"WANDB_DIR": str(tmp_path)})
    assert argv == [str(tmp_path / "wandb" / "sweep-swp123" / "config-run4.json")]
    assert list(tmp_path.iterdir()) == []


def test_wandb_dir_is_needed_only_for_args_json_file() -> None:
    assert render(["${args}", "${args_json}"], params={"a": 1}, env={}) == ["--a=1", '{"a": 1}']
    with pytest.raises(ValueError, match="WANDB_DIR"):
        render(["${args_json_file}"], env={})


def test_a_value_json_cannot_hold_fails_only_with_args_json() -> None:
    params = {"s": {1, 2}}
    assert render(["${args}"], params=params) == ["--s={1, 2}"]
    with pytest.raises(TypeError):
        render(["${args_json}"], params=params)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({"WANDB_DIR": "/abs/dir"}, JSON_FILE, id="absolute"),
        pytest.param(
            {"WANDB_DIR": "rel"},
            os.path.join("rel", "wandb", "sweep-swp123", "config-run4.json"),
            id="relative-stays-relative",
        ),
    ],
)
def test_args_json_file_path(env: dict[str, str], expected: str) -> None:
    assert args_json_file_path(env, "swp123", "run4") == expected


def test_args_json_file_path_on_posix() -> None:
    if os.sep != "/":
        pytest.skip("the separator is the host's")
    assert args_json_file_path({"WANDB_DIR": "/abs/dir"}, "swp123", "run4") == (
        "/abs/dir/wandb/sweep-swp123/config-run4.json"
    )


@pytest.mark.parametrize(
    "env",
    [pytest.param({}, id="missing"), pytest.param({"WANDB_DIR": ""}, id="empty")],
)
def test_args_json_file_path_needs_wandb_dir(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"set WANDB_DIR"):
        args_json_file_path(env, "swp123", "run4")


@pytest.mark.parametrize(
    ("command", "macro", "expected"),
    [
        pytest.param(["python", "${args_json_file}"], "args_json_file", True, id="present"),
        pytest.param(["python", "${args_json_file}"], "${args_json_file}", True, id="braced"),
        pytest.param(["python", "${args}"], "args_json_file", False, id="absent"),
        pytest.param(["--f=${args_json_file}"], "args_json_file", False, id="partial-token"),
        pytest.param(None, "args", True, id="default-has-args"),
        pytest.param(None, "env", True, id="default-has-env"),
        pytest.param(None, "args_json_file", False, id="default-lacks-json-file"),
        pytest.param("not a list", "args", True, id="non-list-means-default"),
        pytest.param([1, "${lr}"], "lr", True, id="any-name"),
    ],
)
def test_uses_macro(command: Any, macro: str, expected: bool) -> None:
    assert uses_macro({"command": command}, macro) is expected
    assert uses_macro(ParsedConfig(command=command), macro) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(True, "True", id="true"),
        pytest.param(False, "False", id="false"),
        pytest.param(None, "None", id="none"),
        pytest.param(0.001, "0.001", id="float"),
        pytest.param(3e-05, "3e-05", id="small-float"),
        pytest.param(1e-07, "1e-07", id="tiny-float"),
        pytest.param(1e16, "1e+16", id="big-float"),
        pytest.param(3, "3", id="int"),
        pytest.param("a b", "a b", id="string-unquoted"),
        pytest.param([64, 128], "[64, 128]", id="list"),
        pytest.param(["a", None], "['a', None]", id="list-repr"),
        pytest.param({"name": "adam", "beta": 0.9}, OPT, id="dict-single-quotes"),
    ],
)
def test_format_value(value: Any, expected: str) -> None:
    assert format_value(value) == expected


# Explicit alphabets: st.text() with the default alphabet builds Hypothesis's Unicode table on
# first use, slow enough on a fresh machine to fail the too_slow health check.
_keys = st.text(alphabet=string.ascii_letters + string.digits + "_.-/", min_size=1, max_size=12)
_text = st.text(alphabet=string.printable + "\u00e9\u00df\u6f22\U0001f600\u2028\x00", max_size=12)
_values = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text


@given(params=st.dictionaries(_keys, _values, max_size=8))
def test_args_and_args_json_round_trip_any_flat_params(params: dict[str, Any]) -> None:
    def rendered(command: Sequence[str]) -> list[str]:
        return render_command({"command": command}, params, "r", "s", {})

    assert rendered(["${args}"]) == [f"--{key}={value}" for key, value in params.items()]
    (token,) = rendered(["${args_json}"])
    assert json.loads(token) == params
    assert list(json.loads(token)) == list(params)
