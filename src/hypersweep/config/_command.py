"""Render a sweep's ``command`` into the argv the agent launches for one run (spec §6).

The rules are the reference agent's, token by token (spec §6.2): ``${envvar:NAME}`` is replaced
anywhere in a token; a token that is exactly ``${KEY}`` becomes the macro's list of tokens (a
list that may be empty, and unknown keys, ``${lr}`` included, give nothing); every other token
is passed verbatim, so ``--lr=${lr}`` reaches the program literally.

Pure: no I/O, no clock, and no ``os.environ``. The caller passes the environment the child will
get, and writes the ``${args_json_file}`` file itself (spec §7.2) when ``uses_macro`` says so.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "DEFAULT_COMMAND",
    "SupportsCommand",
    "args_json_file_path",
    "format_value",
    "macro_issues",
    "render_command",
    "uses_macro",
]

DEFAULT_COMMAND: tuple[str, ...] = ("${env}", "${interpreter}", "${program}", "${args}")

# Upper-case names only, as in the reference agent (spec §6.2 step 1).
_ENVVAR = re.compile(r"\$\{envvar:([A-Z0-9_]*)\}")


class SupportsCommand(Protocol):
    """A parsed sweep config, or anything else that knows its ``command`` and ``program``."""

    @property
    def command(self) -> Sequence[Any] | None: ...

    @property
    def program(self) -> str | None: ...


@dataclass(frozen=True)
class _Run:
    """What a macro may read: one run's parameters and where it runs."""

    params: Mapping[str, Any]
    program: str | None
    run_id: str
    sweep_id: str
    env: Mapping[str, str]
    platform: str


def format_value(value: Any) -> str:
    """A parameter value as the reference agent writes it on a command line (spec §6.3).

    This is Python's ``str()``: ``True``/``False``/``None``, floats by their shortest repr,
    lists and dicts by their repr (single quotes, so not JSON), strings as they are.

    Args:
        value: a parameter value: a JSON-like plain Python value.

    Returns:
        The text that follows ``--name=`` in ``${args}``.

    Example:
        >>> [format_value(v) for v in (True, None, 3e-05, "a b", [64, 128])]
        ['True', 'None', '3e-05', 'a b', '[64, 128]']
        >>> format_value({"name": "adam", "beta": 0.9})
        "{'name': 'adam', 'beta': 0.9}"
    """
    return str(value)


def args_json_file_path(env: Mapping[str, str], sweep_id: str, run_id: str) -> str:
    """Where the agent writes a run's parameters as JSON for ``${args_json_file}`` (spec §6.3).

    The path is ``WANDB_DIR/wandb/sweep-<SWEEP>/config-<RUN>.json``, joined with the host's
    separator; it is absolute exactly when ``WANDB_DIR`` is.

    Args:
        env: the environment the agent gives the child; it must contain ``WANDB_DIR``.
        sweep_id: the bare sweep id (no entity or project).
        run_id: the run's id.

    Returns:
        The file's path.

    Raises:
        ValueError: ``WANDB_DIR`` is missing or empty in ``env``.

    Example:
        >>> args_json_file_path({"WANDB_DIR": "/abs/dir"}, "swp123", "run4")
        '/abs/dir/wandb/sweep-swp123/config-run4.json'
    """
    wandb_dir = env.get("WANDB_DIR")
    if not wandb_dir:
        raise ValueError(
            "WANDB_DIR is not set in the run's environment, so there is no place for the "
            "${args_json_file} file; set WANDB_DIR (the agent sets it to its working directory, "
            "spec §7.2) before rendering the command"
        )
    return os.path.join(wandb_dir, "wandb", f"sweep-{sweep_id}", f"config-{run_id}.json")


def _flags(params: Mapping[str, Any], prefix: str) -> list[str]:
    return [f"{prefix}{key}={format_value(value)}" for key, value in params.items()]


def _no_boolean_flags(params: Mapping[str, Any]) -> list[str]:
    tokens: list[str] = []
    for key, value in params.items():
        if not isinstance(value, bool):
            tokens.append(f"--{key}={format_value(value)}")
        elif value:
            tokens.append(f"--{key}")  # and a False flag is left out
    return tokens


def _no_equals(params: Mapping[str, Any]) -> list[str]:
    return [token for key, value in params.items() for token in (f"--{key}", format_value(value))]


# Every macro of spec §6.3 (except ${envvar:NAME}, which is a substitution, not a token).
_MACROS: Mapping[str, Callable[[_Run], list[str]]] = {
    "env": lambda run: [] if run.platform == "win32" else ["/usr/bin/env"],
    "interpreter": lambda run: ["python"],
    "program": lambda run: [] if run.program is None else [run.program],
    "args": lambda run: _flags(run.params, "--"),
    "args_no_hyphens": lambda run: _flags(run.params, ""),
    "args_no_boolean_flags": lambda run: _no_boolean_flags(run.params),
    "args_no_equals": lambda run: _no_equals(run.params),
    "args_json": lambda run: [json.dumps(dict(run.params))],
    "args_json_file": lambda run: [args_json_file_path(run.env, run.sweep_id, run.run_id)],
    "args_append_hydra": lambda run: _flags(run.params, "+"),
    "args_override_hydra": lambda run: _flags(run.params, "++"),
}


def _command_and_program(
    config: Mapping[str, Any] | SupportsCommand,
) -> tuple[Sequence[Any], str | None]:
    if isinstance(config, Mapping):
        command, program = config.get("command"), config.get("program")
    else:
        command, program = config.command, config.program
    # The reference agent uses its own command only when it is a non-empty list (spec §7.1 #1).
    if not isinstance(command, (list, tuple)) or not command:
        command = DEFAULT_COMMAND
    return command, None if program is None else str(program)


def render_command(
    config: Mapping[str, Any] | SupportsCommand,
    params: Mapping[str, Any],
    run_id: str,
    sweep_id: str,
    env: Mapping[str, str],
    *,
    platform: str = sys.platform,
) -> list[str]:
    """The argv the agent executes for one run (spec §6.2 steps 1-3, every macro of §6.3).

    Args:
        config: a raw sweep-config dict, or an object with ``command`` and ``program``
            attributes (a ``SweepConfig``). A ``command`` that is missing, ``None``, empty or not
            a list means the default ``[${env}, ${interpreter}, ${program}, ${args}]``.
        params: the run's top-level parameters as plain values (not ``{"value": ...}``
            wrapped), in the order received; nested blocks are dicts.
        run_id: the run's id, for ``${args_json_file}``.
        sweep_id: the bare sweep id, for ``${args_json_file}``.
        env: the environment the child will get: read for ``${envvar:NAME}`` and for
            ``WANDB_DIR`` (``${args_json_file}``); ``os.environ`` is never read.
        platform: a ``sys.platform`` value; on ``"win32"``, ``${env}`` expands to nothing.

    Returns:
        The argv: one string per argument, to run without a shell.

    Raises:
        ValueError: ``${args_json_file}`` is used and ``env`` has no ``WANDB_DIR``.
        TypeError: ``${args_json}`` is used and a value is not JSON-serialisable.

    Example:
        >>> config = {"program": "train.py", "command": ["${env}", "python3", "${program}",
        ...                                             "${args_no_boolean_flags}", "--lr=${lr}"]}
        >>> render_command(config, {"lr": 0.001, "amp": True}, "run4", "swp123", {},
        ...                platform="linux")
        ['/usr/bin/env', 'python3', 'train.py', '--lr=0.001', '--amp', '--lr=${lr}']
    """
    command, program = _command_and_program(config)
    run = _Run(params, program, run_id, sweep_id, env, platform)
    argv: list[str] = []
    for element in command:
        # Step 1: ${envvar:NAME} anywhere in the token; an unset NAME leaves the literal NAME.
        token = _ENVVAR.sub(lambda match: env.get(match.group(1), match.group(1)), str(element))
        if token.startswith("${") and token.endswith("}"):
            # Step 2: a whole-token macro; unknown keys (parameter names too) give nothing.
            macro = _MACROS.get(token[2:-1])
            if macro is not None:
                argv.extend(macro(run))
        else:
            # Step 3: verbatim, including a partial "--lr=${lr}".
            argv.append(token)
    return argv


def uses_macro(config: Mapping[str, Any] | SupportsCommand, macro: str) -> bool:
    """Whether the run command (the default one if the config has none) has the token ``${macro}``.

    The agent asks this before each run to know whether to write the ``${args_json_file}`` file.
    Tokens are compared after ``str()``, before ``${envvar:NAME}`` substitution.

    Args:
        config: as for ``render_command``.
        macro: the macro's name, bare (``"args_json_file"``) or braced (``"${args_json_file}"``).

    Returns:
        True when some element of the command is exactly ``${macro}``.

    Example:
        >>> uses_macro({"command": ["python", "train.py", "${args_json_file}"]}, "args_json_file")
        True
        >>> uses_macro({"program": "train.py"}, "args")
        True
    """
    name = macro[2:-1] if macro.startswith("${") and macro.endswith("}") else macro
    command, _ = _command_and_program(config)
    return any(str(element) == f"${{{name}}}" for element in command)


_ANY_MACRO = re.compile(r"\$\{([^}]*)\}")


def macro_issues(command: Sequence[Any]) -> list[tuple[int, str]]:
    """(index, message) for each token the reference agent would drop or pass literally."""
    issues: list[tuple[int, str]] = []
    for index, token in enumerate(command):
        text = _ENVVAR.sub("", str(token))
        if text.startswith("${") and text.endswith("}") and text == str(token):
            key = text[2:-1]
            if key not in _MACROS:
                issues.append(
                    (
                        index,
                        f"{token!r} is not a macro, so it expands to nothing (W&B does the "
                        "same); parameters reach the program through ${args} or ${args_json}",
                    )
                )
            continue
        for match in _ANY_MACRO.finditer(text):
            issues.append(
                (
                    index,
                    f"{token!r} is passed to the program literally: only a whole list item is "
                    f"expanded, so ${{{match.group(1)}}} is not replaced (W&B does the same); "
                    "use ${args} to pass --name=value for every parameter",
                )
            )
            break
    return issues
