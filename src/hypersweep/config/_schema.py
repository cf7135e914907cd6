"""The top level of a sweep config (spec §2.2-§2.6) and the parsed ``SweepConfig``.

Which problems are errors and which are warnings follows W&B's two tiers (spec §2.5): a soft
violation in W&B stays a warning here when the sweep still behaves in a defined way (the bad
part is ignored, or W&B gives it a meaning); it is an error where W&B would create a sweep that
fails later or behaves in a way W&B does not define (spec §14 Q5, Q11). ``strict`` and
``controller: {type: local}`` turn every warning into an error (spec §2.5 #5).
"""

from __future__ import annotations

import copy
import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hypersweep.config._command import macro_issues
from hypersweep.config._distributions import Distribution
from hypersweep.config._issues import (
    IssueList,
    describe,
    did_you_mean,
    is_finite_number,
    is_int,
    join_path,
)
from hypersweep.config._limits import limit_issues
from hypersweep.config._parameters import parse_parameters
from hypersweep.config._space import SearchSpace
from hypersweep.errors import ConfigIssue, Severity

__all__ = ["GOALS", "IMPUTE", "IMPUTE_WHILE_RUNNING", "Metric", "SweepConfig", "parse_config"]

GOALS = ("minimize", "maximize")
IMPUTE = ("latest", "best", "worst")
IMPUTE_WHILE_RUNNING = ("latest", "best", "worst", "false")

_STRING_KEYS = ("name", "description", "project", "entity", "program", "apiVersion")
_IGNORED_KEYS = ("job", "image_uri")  # W&B Launch only
_UNSUPPORTED = {
    "metrics": "multi-objective 'metrics' is not supported yet; optimise one combined "
    "metric under 'metric' instead",
    "scheduler": "'scheduler' (external Optuna/Ax optimizers) is not supported yet; remove it "
    "and choose a 'method' (hypersweep's own bayes and tpe are model-based)",
}
_KNOWN_KEYS = frozenset(
    {
        "method",
        "parameters",
        "metric",
        "early_terminate",
        "command",
        "run_cap",
        "controller",
        "kind",
        "settings",
        "seed",
        "retry",
        *_STRING_KEYS,
        *_IGNORED_KEYS,
        *_UNSUPPORTED,
    }
)


#: The run states ``retry.on`` may name (runs that ended without a result of their own making).
RETRY_STATES = ("crashed", "failed", "killed", "preempted")


@dataclass(frozen=True)
class RetryPolicy:
    """``retry:`` (our extension): re-run a run that ended in one of ``on``, with the same
    parameters, up to ``max_retries`` times (for grid, the same point)."""

    max_retries: int
    on: frozenset[str] = frozenset({"crashed"})


@dataclass(frozen=True)
class Metric:
    """The objective (spec §2.3). ``goal`` decides the sign; ``target`` finishes the sweep."""

    name: str
    goal: Literal["minimize", "maximize"] = "minimize"
    target: float | None = None
    impute: Literal["latest", "best", "worst"] = "worst"
    impute_while_running: Literal["latest", "best", "worst", "false"] = "false"

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"


@dataclass(frozen=True)
class SweepConfig:
    """A parsed, structurally valid sweep config.

    ``raw`` is the config as written (a deep copy); ``space`` the parameter leaves in canonical
    order. Method- and rule-specific checks (grid's allowed distributions, bayes' metric,
    hyperband's brackets) are made by ``hypersweep.engine.validate``.
    """

    method: str
    space: SearchSpace
    metric: Metric | None = None
    early_terminate: Mapping[str, Any] | None = None
    program: str | None = None
    command: tuple[Any, ...] | None = None
    name: str | None = None
    description: str | None = None
    project: str | None = None
    entity: str | None = None
    run_cap: int | None = None
    controller: Literal["cloud", "local"] = "cloud"
    seed: int | None = None
    retry: RetryPolicy | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The config as stored: as written, with each parameter's distribution and its
        defaults filled in (spec §2.5)."""
        out = copy.deepcopy(dict(self.raw))
        for parameter in self.space:
            node: Any = out["parameters"]
            for key in parameter.path[:-1]:
                node = node[key]["parameters"]
            node[parameter.path[-1]] = parameter.distribution.spec()
        return out

    def grid_size(self) -> int | None:
        """The number of grid points (W&B's "Est. Runs"), None when a leaf cannot be gridded."""
        size = 1
        for parameter in self.space:
            if not parameter.distribution.grid_allowed:
                return None
            size *= len(_distinct(parameter.distribution))
        return size


def _distinct(distribution: Distribution) -> list[Any]:
    from hypersweep.config._distributions import value_key

    seen: dict[str, Any] = {}
    for value in distribution.grid_values():
        seen.setdefault(value_key(value), value)
    return list(seen.values())


def parse_config(raw: Any, *, strict: bool = False) -> tuple[SweepConfig | None, list[ConfigIssue]]:
    """Check a loaded config's structure and build a ``SweepConfig``.

    Returns the config (None when there is any error) and every issue found. With ``strict``
    or ``controller: {type: local}``, warnings are errors.
    """
    issues = IssueList()
    if not isinstance(raw, Mapping):
        issues.error(
            "",
            f"the config must be a mapping of keys such as method and parameters, got "
            f"{type(raw).__name__} {describe(raw)}",
        )
        return None, issues.items
    # first, so a hostile config (too deep, an alias bomb) never reaches the recursive walks
    too_big = limit_issues(raw)
    if too_big:
        return None, too_big
    _check_json_values(raw, "", issues)
    for key in raw:
        if key not in _KNOWN_KEYS:
            issues.warn(
                str(key),
                f"Additional properties are not allowed ({str(key)!r} was unexpected)"
                + did_you_mean(str(key), _KNOWN_KEYS)
                + "; the key is ignored",
            )
    for key, message in _UNSUPPORTED.items():
        if key in raw:
            issues.error(key, message)

    method = _method(raw, issues)
    space = SearchSpace(())
    if "parameters" in raw:
        space = SearchSpace(parse_parameters(raw["parameters"], issues))
    else:
        issues.error("parameters", "'parameters' is a required property; define the search space")
    metric = _metric(raw.get("metric"), issues) if "metric" in raw else None
    early = raw.get("early_terminate")
    if early is not None:
        _early_terminate(early, issues)
        if metric is None and "metric" not in raw:
            issues.error(
                "early_terminate",
                "early termination compares runs by their metric "
                '(Hyperband stopping requires "metric" section); '
                "add metric: {name: ..., goal: ...}",
            )
    strings = {key: _string(raw, key, issues) for key in _STRING_KEYS}
    command = _command(raw, issues)
    run_cap = _run_cap(raw, issues)
    retry = _retry(raw.get("retry"), issues) if raw.get("retry") is not None else None
    controller = _controller(raw, issues)
    seed = raw.get("seed")
    if seed is not None and not is_int(seed):
        issues.error("seed", f"{describe(seed)} is not an integer; write e.g. seed: 42")
    if "kind" in raw and raw["kind"] != "sweep":
        issues.warn("kind", f"{describe(raw['kind'])} is not one of ['sweep']; it is ignored")
    if "settings" in raw and not isinstance(raw["settings"], Mapping):
        issues.warn("settings", f"{describe(raw['settings'])} is not a mapping; it is ignored")

    items = _apply_strictness(issues.items, strict or controller == "local")
    if any(issue.is_error for issue in items) or method is None:
        return None, items
    config = SweepConfig(
        method=method,
        space=space,
        metric=metric,
        early_terminate=dict(early) if isinstance(early, Mapping) else None,
        program=strings["program"],
        command=command,
        name=strings["name"],
        description=strings["description"],
        project=strings["project"],
        entity=strings["entity"],
        run_cap=run_cap,
        controller=controller,
        seed=seed,
        retry=retry,
        raw=copy.deepcopy(dict(raw)),
    )
    return config, items


def _apply_strictness(items: list[ConfigIssue], strict: bool) -> list[ConfigIssue]:
    if not strict:
        return items
    return [ConfigIssue(i.path, i.message, Severity.ERROR) for i in items]


def _check_json_values(node: Any, path: str, issues: IssueList) -> None:
    # W&B round-trips the config through JSON (spec §2.1); YAML can load dates and sets,
    # which would fail there and cannot reach a program's command line intact.
    if isinstance(node, Mapping):
        for key, value in node.items():
            _check_json_values(value, join_path(path, str(key)), issues)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _check_json_values(value, f"{path}[{index}]", issues)
    elif isinstance(node, (datetime.date, datetime.time)):
        issues.error(
            path,
            f"YAML read {node.isoformat()} as a date, which a sweep cannot store; "
            f"quote it ('{node.isoformat()}') to keep it as text",
        )
    elif isinstance(node, float) and not math.isfinite(node):
        return
    elif not (node is None or isinstance(node, (str, int, float, bool))):
        issues.error(
            path,
            f"{type(node).__name__} {node!r} is not a JSON value; use strings, numbers, "
            "booleans, null, lists and mappings",
        )


def _method(raw: Mapping[str, Any], issues: IssueList) -> str | None:
    if "method" not in raw:
        issues.error("method", "'method' is a required property; add method: grid, random or bayes")
        return None
    method = raw["method"]
    if not isinstance(method, str):
        issues.error("method", f"{describe(method)} is not a string; write method: random")
        return None
    if method == "custom":
        issues.error(
            "method",
            "'custom' (external schedulers) is not supported yet; use grid, random or bayes",
        )
        return None
    return method


def _metric(raw: Any, issues: IssueList) -> Metric | None:
    if not isinstance(raw, Mapping):
        issues.error(
            "metric",
            f"expected a mapping such as {{name: val_loss, goal: minimize}}, got {describe(raw)}",
        )
        return None
    ok = True
    for key in raw:
        if key not in ("name", "goal", "target", "impute", "impute_while_running"):
            issues.warn(
                join_path("metric", str(key)),
                f"Additional properties are not allowed ({str(key)!r} was unexpected)"
                + did_you_mean(str(key), ("name", "goal", "target", "impute"))
                + "; the key is ignored",
            )
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        what = "is missing" if "name" not in raw else f"is {describe(name)}, not a string"
        issues.error("metric.name", f"the metric's name {what}; give the key your program logs")
        ok = False
    goal = raw.get("goal", "minimize")
    if goal not in GOALS:
        issues.error(
            "metric.goal",
            f"{goal!r} is not one of {list(GOALS)}"
            + (did_you_mean(goal, GOALS) if isinstance(goal, str) else ""),
        )
        ok = False
    target = raw.get("target")
    if target is not None and not is_finite_number(target):
        issues.error("metric.target", f"{describe(target)} is not a number")
        ok = False
    impute = raw.get("impute", "worst")
    if impute not in IMPUTE:
        issues.error("metric.impute", f"{describe(impute)} is not one of {list(IMPUTE)}")
        ok = False
    while_running = raw.get("impute_while_running", "false")
    if while_running is False:  # YAML 1.1 reads an unquoted false as a boolean
        while_running = "false"
    if while_running not in IMPUTE_WHILE_RUNNING:
        issues.error(
            "metric.impute_while_running",
            f"{describe(while_running)} is not one of {list(IMPUTE_WHILE_RUNNING)}",
        )
        ok = False
    if not ok:
        return None
    return Metric(
        name=name,  # type: ignore[arg-type]
        goal=goal,
        target=float(target) if target is not None else None,
        impute=impute,
        impute_while_running=while_running,
    )


def _early_terminate(raw: Any, issues: IssueList) -> None:
    if not isinstance(raw, Mapping):
        issues.error(
            "early_terminate",
            f"expected a mapping such as {{type: hyperband, min_iter: 3}}, got {describe(raw)}",
        )
    elif not isinstance(raw.get("type"), str):
        issues.error(
            "early_terminate.type",
            "'type' is a required property; write type: hyperband",
        )


def _string(raw: Mapping[str, Any], key: str, issues: IssueList) -> str | None:
    if key not in raw or raw[key] is None:
        return None
    value = raw[key]
    if isinstance(value, str):
        return value
    issues.warn(key, f"{describe(value)} is not of type 'string'; it is used as {str(value)!r}")
    return str(value)


def _command(raw: Mapping[str, Any], issues: IssueList) -> tuple[Any, ...] | None:
    if "command" not in raw or raw["command"] is None:
        return None
    command = raw["command"]
    if not isinstance(command, list):
        issues.warn(
            "command",
            f"{describe(command)} is not of type 'array'; the default command "
            "[${env}, ${interpreter}, ${program}, ${args}] is used. Write the command as a "
            "list, e.g. [python, train.py, ${args}]",
        )
        return None
    for index, token in enumerate(command):
        if isinstance(token, (Mapping, list)) or token is None:
            issues.warn(
                f"command[{index}]",
                f"{describe(token)} is passed to the program as the text {str(token)!r}; "
                "write it as a string",
            )
    for index, message in macro_issues(command):
        issues.warn(f"command[{index}]", message)
    return tuple(command)


def _run_cap(raw: Mapping[str, Any], issues: IssueList) -> int | None:
    if "run_cap" not in raw or raw["run_cap"] is None:
        return None
    run_cap = raw["run_cap"]
    if not is_int(run_cap):
        issues.error("run_cap", f"{describe(run_cap)} is not of type 'integer'")
        return None
    if run_cap <= 0:
        issues.error(
            "run_cap",
            f"{run_cap} is less than or equal to the minimum of 0; give the most runs the "
            "sweep may create (a positive integer), or remove run_cap for no limit",
        )
        return None
    return run_cap


def _retry(raw: Any, issues: IssueList) -> RetryPolicy | None:
    example = "write e.g. retry: {max_retries: 2, on: [crashed]}"
    if not isinstance(raw, Mapping):
        issues.error("retry", f"{describe(raw)} is not a mapping; {example}")
        return None
    ok = True
    for key in raw:
        if key not in ("max_retries", "on"):
            issues.error(f"retry.{key}", f"unknown key {key!r}; retry takes max_retries and on")
            ok = False
    max_retries = raw.get("max_retries")
    if not is_int(max_retries) or max_retries < 1:
        issues.error(
            "retry.max_retries",
            f"{describe(max_retries)} is not a positive integer; give how many times a run may "
            "be re-run (e.g. 2)",
        )
        ok = False
    on = raw.get("on", ["crashed"])
    if isinstance(on, str):
        on = [on]
    if not isinstance(on, list) or not on:
        issues.error("retry.on", f"{describe(on)} is not a list of run states; {example}")
        return None
    for index, state in enumerate(on):
        if state not in RETRY_STATES:
            issues.error(
                f"retry.on[{index}]",
                f"{describe(state)} is not one of {list(RETRY_STATES)}; finished runs are never "
                "re-run",
            )
            ok = False
    if not ok:
        return None
    return RetryPolicy(int(max_retries), frozenset(on))  # type: ignore[arg-type]


def _controller(raw: Mapping[str, Any], issues: IssueList) -> Literal["cloud", "local"]:
    controller = raw.get("controller")
    if controller is None:
        return "cloud"
    kind = controller.get("type") if isinstance(controller, Mapping) else None
    if kind == "local":
        return "local"
    if kind != "cloud":
        issues.warn(
            "controller",
            f"{describe(controller)} is not valid: expected {{type: local}} or {{type: cloud}}; "
            "the server's controller is used",
        )
    return "cloud"
