"""``define_metric``: which value of a logged key becomes the run's summary (and so what the
sweep optimises).

W&B keeps the last logged value of each key as the summary unless ``define_metric(name,
summary=...)`` says otherwise; with ``summary="min"`` on ``val_loss`` the sweep ranks runs by
their lowest validation loss instead of the loss of their final epoch. The rule is applied by
the client as rows are logged, and the chosen value is sent to the server as an explicit
summary value after those rows, which the server lays over the last logged value.

Names may be globs as in W&B (``"val/*"``); a rule for the exact name wins over a glob, and of
several matching globs the one defined last wins.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GOALS", "SUMMARIES", "Metric", "MetricRules"]

SUMMARIES = ("min", "max", "mean", "last", "best", "none")
# W&B's spellings of the goal, mapped to the sweep config's
GOALS = {"minimize": "minimize", "maximize": "maximize", "min": "minimize", "max": "maximize"}


@dataclass(frozen=True)
class Metric:
    """What ``define_metric`` returns: the rule as understood (W&B returns a similar object).

    ``summary`` lists the requested summaries in order; the first decides the summary value.
    """

    name: str
    step_metric: str | None = None
    summary: tuple[str, ...] = ()
    goal: str | None = None
    hidden: bool = False
    step_sync: bool | None = None

    @property
    def rule(self) -> str:
        """The summary rule in force: the first requested one, else ``last``."""
        return self.summary[0] if self.summary else "last"

    @property
    def is_glob(self) -> bool:
        return any(char in self.name for char in "*?[")

    def matches(self, key: str) -> bool:
        return fnmatch.fnmatchcase(key, self.name) if self.is_glob else key == self.name


def parse_metric(
    name: Any,
    step_metric: Any = None,
    summary: Any = None,
    goal: Any = None,
    hidden: Any = False,
    step_sync: Any = None,
) -> Metric:
    """Check ``define_metric``'s arguments and build the rule.

    Raises:
        ValueError: an empty name, an unknown summary or goal (naming the value and the choices).
        TypeError: a name or step_metric that is not a string.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"define_metric(name={name!r}): name must be a non-empty string")
    if step_metric is not None and not isinstance(step_metric, str):
        raise TypeError(
            f"define_metric(step_metric={step_metric!r}): step_metric must be a metric name"
        )
    summaries = _summaries(name, summary)
    goal_name = None
    if goal is not None:
        goal_name = GOALS.get(str(goal).lower())
        if goal_name is None:
            raise ValueError(
                f"define_metric({name!r}, goal={goal!r}): use 'minimize' or 'maximize'"
            )
    return Metric(
        name=name,
        step_metric=step_metric,
        summary=summaries,
        goal=goal_name,
        hidden=bool(hidden),
        step_sync=None if step_sync is None else bool(step_sync),
    )


def _summaries(name: str, summary: Any) -> tuple[str, ...]:
    if summary is None:
        return ()
    raw: Sequence[Any]
    if isinstance(summary, str):
        raw = [part.strip() for part in summary.split(",") if part.strip()]
    elif isinstance(summary, (list, tuple)):
        raw = summary
    else:
        raw = [summary]
    out: list[str] = []
    for item in raw:
        value = str(item).lower()
        if value not in SUMMARIES:
            raise ValueError(
                f"define_metric({name!r}, summary={summary!r}): unknown summary {item!r}; use "
                f"one of {', '.join(SUMMARIES)} (or several, comma separated)"
            )
        out.append(value)
    return tuple(out)


@dataclass
class _Running:
    """What one key's summary needs from the values logged so far."""

    count: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)

    def value(self, rule: str, goal: str | None) -> float:
        if rule == "best":
            rule = "max" if goal == "maximize" else "min"
        if rule == "min":
            return self.low
        if rule == "max":
            return self.high
        return self.total / self.count  # mean


@dataclass
class MetricRules:
    """The rules of one run and the running values they need; used under the outbox's lock."""

    exact: dict[str, Metric] = field(default_factory=dict)
    globs: list[Metric] = field(default_factory=list)
    running: dict[str, _Running] = field(default_factory=dict)

    def define(self, metric: Metric) -> None:
        if metric.is_glob:
            self.globs = [m for m in self.globs if m.name != metric.name] + [metric]
        else:
            self.exact[metric.name] = metric
        # a redefined key starts afresh, as W&B's does
        for key in [k for k in self.running if metric.matches(k)]:
            del self.running[key]

    def rule_for(self, key: str) -> Metric | None:
        metric = self.exact.get(key)
        if metric is not None:
            return metric
        for glob in reversed(self.globs):
            if glob.matches(key):
                return glob
        return None

    def summarize(self, key: str, value: Any) -> tuple[bool, Any]:
        """The summary value of ``key`` after ``value`` was logged.

        Returns:
            (False, _) when the ordinary rule applies (the last value); (True, None) when the key
            has no summary (``none``); (True, v) with the rule's value otherwise. Values that are
            not finite numbers (strings, dicts, NaN) fall back to the last value, as min or mean
            mean nothing for them.
        """
        metric = self.rule_for(key)
        if metric is None or metric.rule == "last":
            return False, None
        if metric.rule == "none":
            return True, None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False, None
        if not math.isfinite(value):
            return False, None
        running = self.running.setdefault(key, _Running())
        running.add(float(value))
        result = running.value(metric.rule, metric.goal)
        if isinstance(value, int) and metric.rule != "mean" and result.is_integer():
            return True, int(result)
        return True, result
