"""``early_terminate: {type: asha}``: asynchronous successive halving (hypersweep extension).

Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020 (ASHA). W&B has
no such rule; the keys follow hyperband's (``min_iter``, ``eta``, ``max_iter``).
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
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
    """Asynchronous successive halving (Li et al. 2020): each run is judged once per rung,
    against the runs that reached the rung before it.

    * ``min_iter`` (required, integer >= 1) is the first rung; rungs are at
      ``int(min_iter * eta**k)`` iterations, ``eta`` (default 3, > 1) apart, below ``max_iter``
      (optional: no rungs at or beyond it).
    * Iterations are counted as in hyperband (spec §5.3): the n-th history row holding the
      metric as a finite number; ``goal: maximize`` negates values, so lower is better.
    * Arrival order is creation order: the order of ``runs``, which the controller lists in
      creation order. A run's *peers* at rung r are the runs before it in ``runs`` that reached
      r (have at least r values), whatever their state, plus itself. Runs created later are
      never its peers, so a run is not stopped because better runs reached its rung after it.
    * A ``running`` run is judged at the highest rung r it has reached, on its r-th value: the
      best ``max(1, floor(n / eta))`` of its n peers' r-th values go on, and a run whose value
      is strictly worse than the last of those is stopped (ties survive). A run first at a rung
      always goes on. Lower rungs are not looked at again: a run past a rung passed it.
    * Being pure and stateless, the rule cannot see when a run reached a rung (``Run`` carries
      no time); creation order stands in for it. That is exact when runs reach every rung in
      the order they were created, as when each starts on creation and all run at a similar
      speed. A run created earlier that reaches a rung after a younger run (it started late or
      runs slowly) counts as having arrived first: if the younger run is still below its next
      rung then, it is judged again with the older one among its peers and can be stopped.

    Example:
        >>> from hypersweep.config import parse_config
        >>> config, _ = parse_config({"method": "random", "parameters": {"x": {"value": 1}},
        ...     "metric": {"name": "loss"}, "early_terminate": {"type": "asha", "min_iter": 1}})
        >>> runs = [Run("a", "finished", {}, [{"loss": 1}]),
        ...         Run("b", "running", {}, [{"loss": 2}]),
        ...         Run("c", "running", {}, [{"loss": 0.5}])]
        >>> [order] = Asha().runs_to_stop(config, runs)
        >>> print(order.run, order.reason)  # doctest: +NORMALIZE_WHITESPACE
        b asha: at the rung at iteration 1 loss 2 is worse than the threshold 1, the last of
        the top 1 of the 2 runs that reached the rung by then (the top 1/3 go on)

        "a" reached the rung before "b" and was better; "c", better still, came after both and
        judges neither.
    """

    type = "asha"
    defaults: ClassVar[Mapping[str, Any]] = {"eta": 3}
    reads_creation_order = True

    def validate(self, config: SweepConfig) -> list[ConfigIssue]:
        return _parse(config)[1]

    def runs_to_stop(self, config: SweepConfig, runs: Sequence[Run]) -> list[StopOrder]:
        settings, issues = _parse(config)
        if settings is None:
            raise ConfigError([issue for issue in issues if issue.is_error])
        values = curves(runs, settings.metric)
        running = [
            position
            for position, run in enumerate(runs)
            if run.state is RunState.RUNNING and values[position]
        ]
        longest = max((len(values[position]) for position in running), default=0)
        levels = rungs(settings.min_iter, settings.eta, settings.max_iter, longest)
        # rung -> positions (ascending) of the running runs judged at it.
        judged: dict[int, list[int]] = {}
        for position in running:
            index = bisect_right(levels, len(values[position]))
            if index:
                judged.setdefault(levels[index - 1], []).append(position)
        stop: dict[int, StopOrder] = {}
        for rung, positions in judged.items():
            for position, order in _judge_rung(runs, values, rung, positions, settings):
                stop[position] = order
        return [stop[position] for position in sorted(stop)]


def _judge_rung(
    runs: Sequence[Run],
    values: Sequence[Sequence[float]],
    rung: int,
    positions: Sequence[int],
    settings: _Settings,
) -> list[tuple[int, StopOrder]]:
    """The runs at ``positions`` (ascending) stopped at ``rung``, each judged against the runs
    before it in ``runs`` that reached the rung."""
    # One pass in creation order: ``reached`` holds the rung values of the runs seen so far, so
    # when a judged run is met it holds exactly its peers (itself included once inserted).
    reached: list[float] = []
    orders: list[tuple[int, StopOrder]] = []
    pending = iter(positions)
    target = next(pending, None)
    for position, curve in enumerate(values):
        if target is None:
            break
        if len(curve) < rung:
            continue
        value = curve[rung - 1]
        insort(reached, value)
        if position != target:
            continue
        target = next(pending, None)
        promoted = max(1, int(len(reached) / settings.eta))
        threshold = reached[promoted - 1]
        if value > threshold:
            reason = _reason(settings, rung, value, threshold, promoted, len(reached))
            orders.append((position, StopOrder(runs[position].name, reason)))
    return orders


def _reason(
    settings: _Settings, rung: int, value: float, threshold: float, promoted: int, count: int
) -> str:
    metric = settings.metric
    shown_value, shown_threshold = fmt_pair(shown(value, metric), shown(threshold, metric))
    return (
        f"asha: at the rung at iteration {rung} {metric.name} {shown_value} is worse than the "
        f"threshold {shown_threshold}, the last of the top {promoted} of the {count} runs "
        f"that reached the rung by then (the top 1/{fmt(settings.eta)} go on)"
    )


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
