"""``early_terminate: {type: median}``: the median stopping rule (hypersweep extension).

Golovin et al., "Google Vizier: A Service for Black-Box Optimization", KDD 2017, §3.2.2. W&B has
no such rule.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, ClassVar

from hypersweep.config import ConfigIssue, Metric, SweepConfig
from hypersweep.domain import Run, RunState
from hypersweep.errors import ConfigError
from hypersweep.stopping._base import StopOrder, StoppingRule
from hypersweep.stopping._common import (
    PATH,
    curves,
    fmt_pair,
    int_issue,
    metric_issues,
    settings_of,
    shown,
    unknown_key_issues,
)

__all__ = ["Median"]

_KNOWN = ("type", "min_iter", "min_runs")


@dataclass(frozen=True)
class _Settings:
    metric: Metric
    min_iter: int
    min_runs: int


class Median(StoppingRule):
    """Stop a run whose best value so far is worse than the median of the others' averages.

    * Iterations are counted as in hyperband (spec §5.3): the n-th history row holding the
      metric as a finite number; ``goal: maximize`` negates values, so lower is better.
    * A ``running`` run at iteration t (its number of values) is judged once t >= ``min_iter``
      (integer >= 1, default 1): take every *other* run, in any state, with at least t values,
      and the average of each one's first t values. When there are at least ``min_runs``
      (integer >= 1, default 3) such runs, the run is stopped if its best value so far is
      strictly worse than the median of those averages (ties survive).
    * Vizier compares with completed trials only; here runs still running count too, so
      decisions start early in a sweep with many parallel runs. ``min_runs`` guards that start.

    Example:
        >>> from hypersweep.config import parse_config
        >>> config, _ = parse_config({"method": "random", "parameters": {"x": {"value": 1}},
        ...     "metric": {"name": "loss"}, "early_terminate": {"type": "median"}})
        >>> runs = [Run(name, "finished", {}, [{"loss": 1}, {"loss": 1}]) for name in "abc"]
        >>> runs.append(Run("d", "running", {}, [{"loss": 3}, {"loss": 2}]))
        >>> [order.run for order in Median().runs_to_stop(config, runs)]
        ['d']
    """

    type = "median"
    defaults: ClassVar[Mapping[str, Any]] = {"min_iter": 1, "min_runs": 3}

    def validate(self, config: SweepConfig) -> list[ConfigIssue]:
        return _parse(config)[1]

    def runs_to_stop(self, config: SweepConfig, runs: Sequence[Run]) -> list[StopOrder]:
        settings, issues = _parse(config)
        if settings is None:
            raise ConfigError([issue for issue in issues if issue.is_error])
        values = curves(runs, settings.metric)
        # sums[i][t - 1] is the sum of run i's first t values.
        sums = [list(accumulate(curve)) for curve in values]
        # Longest first, so the runs that reached iteration t are a prefix of this order.
        by_length = sorted(sums, key=len, reverse=True)
        lengths = [-len(total) for total in by_length]
        # Per iteration t: the sorted averages of the first t values of every run reaching t.
        averages: dict[int, list[float]] = {}
        orders: list[StopOrder] = []
        for run, curve, total in zip(runs, values, sums, strict=True):
            t = len(curve)
            if run.state is not RunState.RUNNING or t < settings.min_iter:
                continue
            if t not in averages:
                reached = by_length[: bisect_right(lengths, -t)]
                averages[t] = sorted([other[t - 1] / t for other in reached])
            at_t = averages[t]
            others = len(at_t) - 1
            if others < settings.min_runs:
                continue
            # Leave out one copy of the run's own average; which copy does not matter.
            median = _median_without(at_t, bisect_left(at_t, total[t - 1] / t))
            best = min(curve)
            if best > median:
                metric = settings.metric
                shown_best, shown_median = fmt_pair(shown(best, metric), shown(median, metric))
                orders.append(
                    StopOrder(
                        run.name,
                        f"median: at iteration {t} the best {metric.name} so far {shown_best} "
                        f"is worse than the median {shown_median} of the running averages of "
                        f"{others} other runs up to that iteration",
                    )
                )
        return orders


def _median_without(ordered: Sequence[float], skip: int) -> float:
    """The median of ``ordered`` (sorted) leaving out the value at position ``skip``."""

    def value(position: int) -> float:
        return ordered[position if position < skip else position + 1]

    size = len(ordered) - 1
    middle = size // 2
    if size % 2:
        return value(middle)
    return (value(middle - 1) + value(middle)) / 2


def _parse(config: SweepConfig) -> tuple[_Settings | None, list[ConfigIssue]]:
    """The rule's settings (None when there is an error) and every issue found."""
    settings = settings_of(config)
    issues = metric_issues(config, "median")
    issues += unknown_key_issues(settings, _KNOWN, "median")
    hints = {
        "min_iter": "write e.g. min_iter: 5 (judge runs from their 5th iteration on)",
        "min_runs": "write e.g. min_runs: 3 (other runs needed at an iteration to judge it)",
    }
    for key, hint in hints.items():
        if key in settings and (problem := int_issue(settings, key, 1, hint)):
            issues.append(ConfigIssue(f"{PATH}.{key}", problem))
    if any(issue.is_error for issue in issues) or config.metric is None:
        return None, issues
    min_iter = settings.get("min_iter", 1)
    min_runs = settings.get("min_runs", 3)
    return _Settings(config.metric, min_iter, min_runs), issues
