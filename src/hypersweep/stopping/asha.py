"""``early_terminate: {type: asha}``: asynchronous successive halving (hypersweep extension).

Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020 (ASHA). W&B has
no such rule; the keys follow hyperband's (``min_iter``, ``eta``, ``max_iter``).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hypersweep.config import ConfigIssue, Metric, SweepConfig
from hypersweep.domain import Run, RunState
from hypersweep.errors import ConfigError
from hypersweep.stopping._base import StopOrder, StoppingRule
from hypersweep.stopping._common import (
    PATH,
    curves,
    eta_issue,
    fmt,
    fmt_pair,
    int_issue,
    metric_issues,
    settings_of,
    shown,
    unknown_key_issues,
)

__all__ = ["Asha", "rungs"]

_KNOWN = ("type", "min_iter", "eta", "max_iter")


def rungs(min_iter: int, eta: float, max_iter: int | None, longest: int) -> list[int]:
    """The distinct rungs ``int(min_iter * eta**k)``, ascending, below ``max_iter`` (when
    given) and not beyond ``longest`` (rungs no run has reached decide nothing).

    Example:
        >>> rungs(1, 3, None, 30)
        [1, 3, 9, 27]
        >>> rungs(1, 1.5, 6, 100)
        [1, 2, 3, 5]
    """
    found: list[int] = []
    level: float = min_iter
    while math.isfinite(level):
        rung = int(level)
        if rung > longest or (max_iter is not None and rung >= max_iter):
            break
        if not found or rung != found[-1]:
            found.append(rung)
        level *= eta
    return found


@dataclass(frozen=True)
class _Settings:
    metric: Metric
    min_iter: int
    eta: float
    max_iter: int | None


class Asha(StoppingRule):
    """Asynchronous successive halving: stop a run that is not promoted at its latest rung.

    * ``min_iter`` (required, integer >= 1) is the first rung; rungs are at
      ``int(min_iter * eta**k)`` iterations, ``eta`` (default 3, > 1) apart, below ``max_iter``
      (optional: no rungs at or beyond it).
    * Iterations are counted as in hyperband (spec §5.3): the n-th history row holding the
      metric as a finite number; ``goal: maximize`` negates values, so lower is better.
    * A ``running`` run is judged at the highest rung r it has reached (its length >= r), on its
      r-th value, against the r-th values of every run that reached r, whatever its state. The
      best ``max(1, floor(n / eta))`` of those n values are promoted; a run whose value is
      strictly worse than the last promoted one is stopped (ties survive). A lone run at a rung
      is always promoted. Runs are re-judged on every call, so a run promoted when it reached
      a rung can still be stopped there when better runs reach the same rung later.

    Example:
        >>> from hypersweep.config import parse_config
        >>> config, _ = parse_config({"method": "random", "parameters": {"x": {"value": 1}},
        ...     "metric": {"name": "loss"}, "early_terminate": {"type": "asha", "min_iter": 1}})
        >>> runs = [Run("a", "finished", {}, [{"loss": 1}]),
        ...         Run("b", "running", {}, [{"loss": 2}])]
        >>> [order.run for order in Asha().runs_to_stop(config, runs)]
        ['b']
    """

    type = "asha"
    defaults: ClassVar[Mapping[str, Any]] = {"eta": 3}

    def validate(self, config: SweepConfig) -> list[ConfigIssue]:
        return _parse(config)[1]

    def runs_to_stop(self, config: SweepConfig, runs: Sequence[Run]) -> list[StopOrder]:
        settings, issues = _parse(config)
        if settings is None:
            raise ConfigError([issue for issue in issues if issue.is_error])
        values = curves(runs, settings.metric)
        running = [
            (run, curve)
            for run, curve in zip(runs, values, strict=True)
            if run.state is RunState.RUNNING and curve
        ]
        longest = max((len(curve) for _, curve in running), default=0)
        levels = rungs(settings.min_iter, settings.eta, settings.max_iter, longest)
        cutoffs: dict[int, tuple[float, int, int]] = {}
        orders: list[StopOrder] = []
        for run, curve in running:
            index = bisect_right(levels, len(curve))
            if index == 0:
                continue
            rung = levels[index - 1]
            if rung not in cutoffs:
                cutoffs[rung] = _cutoff(values, rung, settings.eta)
            cutoff, promoted, count = cutoffs[rung]
            value = curve[rung - 1]
            if value > cutoff:
                metric = settings.metric
                shown_value, shown_cutoff = fmt_pair(shown(value, metric), shown(cutoff, metric))
                orders.append(
                    StopOrder(
                        run.name,
                        f"asha: at the rung at iteration {rung} {metric.name} {shown_value} is "
                        f"not in the top {promoted} of {count} runs there (the top 1/"
                        f"{fmt(settings.eta)} go on; the last promoted has {shown_cutoff})",
                    )
                )
        return orders


def _cutoff(values: Sequence[Sequence[float]], rung: int, eta: float) -> tuple[float, int, int]:
    """The last promoted value at ``rung``, how many are promoted, and of how many runs."""
    at_rung = sorted(curve[rung - 1] for curve in values if len(curve) >= rung)
    promoted = max(1, int(len(at_rung) / eta))
    return at_rung[promoted - 1], promoted, len(at_rung)


def _parse(config: SweepConfig) -> tuple[_Settings | None, list[ConfigIssue]]:
    """The rule's settings (None when there is an error) and every issue found."""
    settings = settings_of(config)
    issues = metric_issues(config, "asha")
    issues += unknown_key_issues(settings, _KNOWN, "asha")

    def error(key: str, message: str) -> None:
        issues.append(ConfigIssue(f"{PATH}.{key}", message))

    if "min_iter" not in settings:
        error("min_iter", "asha needs min_iter, the first rung in iterations; add e.g. min_iter: 1")
    elif problem := int_issue(settings, "min_iter", 1, "write e.g. min_iter: 1"):
        error("min_iter", problem)
    if "eta" in settings and (problem := eta_issue(settings)):
        error("eta", problem)
    max_iter = settings.get("max_iter")
    if "max_iter" in settings:
        if problem := int_issue(settings, "max_iter", None, "write e.g. max_iter: 81"):
            error("max_iter", problem)
        elif "min_iter" in settings and max_iter <= settings["min_iter"]:
            error(
                "max_iter",
                f"max_iter {max_iter} leaves no rung: rungs lie below max_iter and the first is "
                f"min_iter {settings['min_iter']}; raise max_iter or lower min_iter",
            )
    if any(issue.is_error for issue in issues) or config.metric is None:
        return None, issues
    eta = float(settings.get("eta", 3))
    return _Settings(config.metric, settings["min_iter"], eta, max_iter), issues
