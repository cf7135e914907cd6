"""What the stopping rules share: reading a run's metric curve, checking settings, wording.

A run's *curve* is the list of its valid metric values in logging order (spec §5.3): the n-th
history row holding the metric as a finite number is iteration n. Curves are oriented so that
lower is better (values negated when the goal is ``maximize``); ``shown`` turns a value back into
what the user logged, for reasons.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from hypersweep.config import ConfigIssue, Metric, Severity, SweepConfig
from hypersweep.config._issues import describe, did_you_mean, is_int, is_number
from hypersweep.domain import Run
from hypersweep.errors import ConfigError

PATH = "early_terminate"
# Larger counts cannot be reached and overflow float arithmetic on bands and rungs.
_MAX_ITERATIONS = 10**15


def finite_number(value: object) -> float | None:
    """``value`` as a float when it is a finite real number, else None.

    Booleans, strings, NaN and ±inf are not values of the metric (spec §5.3); nor is an int too
    large for a float.
    """
    if type(value) is float:  # the common case, checked first: thousands of runs' histories
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def curve(run: Run, metric: Metric) -> list[float]:
    """The run's valid metric values, one per iteration, negated when maximizing."""
    name = metric.name
    values = [number for row in run.history if (number := finite_number(row.get(name))) is not None]
    return [-value for value in values] if metric.maximize else values


def curves(runs: Sequence[Run], metric: Metric) -> list[list[float]]:
    """``curve`` of every run, computed once, in the order of ``runs``."""
    return [curve(run, metric) for run in runs]


def shown(value: float, metric: Metric) -> float:
    """An oriented value as the user logged it (un-negated when maximizing)."""
    return -value if metric.maximize else value


def fmt(value: float) -> str:
    """A number as reasons show it: ``9`` for 9.0, six significant digits otherwise."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def fmt_pair(a: float, b: float) -> tuple[str, str]:
    """Two numbers that differ, shown so that they look different (full precision if needed)."""
    first, second = fmt(a), fmt(b)
    if first == second and a != b:
        return repr(a), repr(b)
    return first, second


def settings_of(config: SweepConfig) -> Mapping[str, Any]:
    return config.early_terminate or {}


def metric_issues(config: SweepConfig, rule: str) -> list[ConfigIssue]:
    if config.metric is not None:
        return []
    return [
        ConfigIssue(
            "metric",
            f"{rule} early termination compares runs by their metric; "
            "add metric: {name: ..., goal: minimize} naming the metric your program logs",
        )
    ]


def unknown_key_issues(
    settings: Mapping[str, Any], known: Collection[str], rule: str
) -> list[ConfigIssue]:
    """A warning per key the rule does not read (W&B drops them silently, spec §5.1)."""
    issues = []
    for key in settings:
        if key not in known:
            name = str(key)
            issues.append(
                ConfigIssue(
                    f"{PATH}.{name}",
                    f"{name!r} is not a setting of {rule} early termination "
                    f"(known: {', '.join(sorted(known))}){did_you_mean(name, known)}; "
                    "the key is ignored",
                    Severity.WARNING,
                )
            )
    return issues


def int_issue(settings: Mapping[str, Any], key: str, minimum: int | None, hint: str) -> str | None:
    """What is wrong with integer setting ``key`` (present), or None when it is fine."""
    value = settings[key]
    if not is_int(value):
        fix = f"write {key}: {int(value)}" if _whole_float(value) else hint
        return f"{key} {describe(value)} is not an integer; {fix}"
    if minimum is not None and value < minimum:
        return f"{key} {value} is less than the minimum of {minimum}; {hint}"
    if abs(value) > _MAX_ITERATIONS:
        return f"{key} {value} is larger than any run's number of iterations; {hint}"
    return None


def eta_issue(settings: Mapping[str, Any]) -> str | None:
    """What is wrong with ``eta`` (present), or None when it is a finite number > 1."""
    eta = settings["eta"]
    if not is_number(eta):
        return f"eta {describe(eta)} is not a number; write a number greater than 1, e.g. eta: 3"
    if not math.isfinite(eta) or eta <= 1:
        return (
            f"eta {eta!r} must be a finite number greater than 1 (each band keeps the top "
            "1/eta of runs); write e.g. eta: 3"
        )
    return None


def raise_on_errors(issues: Sequence[ConfigIssue]) -> None:
    """Raise ConfigError when ``issues`` holds an error (a rule cannot run on such a config)."""
    errors = [issue for issue in issues if issue.is_error]
    if errors:
        raise ConfigError(errors)


def _whole_float(value: Any) -> bool:
    return isinstance(value, float) and value.is_integer()
