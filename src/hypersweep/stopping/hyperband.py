"""``early_terminate: {type: hyperband}``: W&B's Hyperband stopping, exactly (spec §5).

The HEAD engine's semantics (wandb/sweeps#108), not PyPI ``sweeps==0.2.0``'s (spec §5.6).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hypersweep.config import ConfigIssue, Metric, Severity, SweepConfig
from hypersweep.config._issues import describe, is_number
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

__all__ = ["Hyperband", "brackets"]

_KNOWN = ("type", "min_iter", "max_iter", "s", "eta", "strict")
_NO_BANDS = (
    "Bands must be an array of length at least 1. "
    "Try increasing s, decreasing eta, or increasing min_iter."
)
# Form A's fixed number of bands (spec §5.2, §14 Q8).
_FORM_A_BANDS = 100


def brackets(settings: Mapping[str, Any]) -> list[int]:
    """The bands (iterations at which runs are judged) of valid hyperband settings (spec §5.2).

    Form B (``max_iter`` and ``s``) wins when both forms are given (spec §5.1, §14 Q8): divide
    ``max_iter`` by ``eta`` up to ``s`` times, keeping ``int(b)`` while ``b >= 1``; ``max_iter``
    itself is never a band. Form A (``min_iter``) gives exactly 100 bands by repeated float
    multiplication, each truncated with ``int()``, so duplicates are possible.

    Example:
        >>> brackets({"max_iter": 27, "s": 2, "eta": 3})
        [3, 9]
        >>> brackets({"min_iter": 1, "eta": 1.5})[:8]
        [1, 1, 2, 3, 5, 7, 11, 17]
    """
    eta = settings.get("eta", 3)
    bands: list[int] = []
    if "max_iter" in settings:
        band = settings["max_iter"]
        for _ in range(int(settings["s"])):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        return sorted(bands)
    band = settings["min_iter"]
    for _ in range(_FORM_A_BANDS):
        # W&B would crash on int(inf) once a huge eta overflows float; such bands are past any
        # run's length, so stopping there changes no decision.
        if isinstance(band, float) and not math.isfinite(band):
            break
        bands.append(int(band))
        band *= eta
    return bands


@dataclass(frozen=True)
class _Settings:
    metric: Metric
    bands: tuple[int, ...]
    eta: float
    strict: bool


class Hyperband(StoppingRule):
    """W&B's Hyperband early termination (spec §5), decision for decision.

    * Bands come from ``min_iter`` (form A, 100 bands) or ``max_iter`` and ``s`` (form B, which
      wins when both are given); ``eta`` defaults to 3, ``strict`` to true (spec §5.6, Q12).
    * Iteration n of a run is its n-th history row holding the metric as a finite number
      (spec §5.3). For ``goal: maximize`` values are negated, so lower is better below.
    * The threshold of band b is ``sorted(values)[int((1 / eta) * len(values))]`` over the b-th
      value of every run with at least b values, whatever its state (spec §5.4, Q9).
    * Only ``running`` runs are stopped: a run is judged at the largest band b not beyond its
      length, on its b-th value (strict) or its best value so far (``strict: false``), and
      stopped when that is strictly worse than the threshold (spec §5.5); ties survive.

    Example:
        >>> from hypersweep.config import parse_config
        >>> config, _ = parse_config({"method": "random", "parameters": {"x": {"value": 1}},
        ...     "metric": {"name": "loss"}, "early_terminate": {"type": "hyperband",
        ...     "min_iter": 2, "eta": 2}})
        >>> runs = [Run("a", "finished", {}, [{"loss": 3}, {"loss": 1}]),
        ...         Run("b", "finished", {}, [{"loss": 3}, {"loss": 1.5}]),
        ...         Run("c", "running", {}, [{"loss": 3}, {"loss": 2}])]
        >>> [order] = Hyperband().runs_to_stop(config, runs)
        >>> print(order.run, order.reason)  # doctest: +NORMALIZE_WHITESPACE
        c hyperband: at iteration 2 loss 2 is worse than the band's threshold 1.5
        (top 1/2 of 3 runs)
    """

    type = "hyperband"
    defaults: ClassVar[Mapping[str, Any]] = {"eta": 3, "strict": True}

    def validate(self, config: SweepConfig) -> list[ConfigIssue]:
        return _parse(config)[1]

    def runs_to_stop(self, config: SweepConfig, runs: Sequence[Run]) -> list[StopOrder]:
        settings, issues = _parse(config)
        if settings is None:
            raise ConfigError([issue for issue in issues if issue.is_error])
        metric, bands, eta = settings.metric, settings.bands, settings.eta
        values = curves(runs, metric)
        thresholds: dict[int, tuple[float, int]] = {}
        orders: list[StopOrder] = []
        for run, curve in zip(runs, values, strict=True):
            if run.state is not RunState.RUNNING:
                continue
            # The largest band not beyond the run's length; bands ascend (spec §5.5).
            index = bisect_right(bands, len(curve))
            if index == 0:
                continue
            band = bands[index - 1]
            if band not in thresholds:
                thresholds[band] = _threshold(values, band, eta)
            threshold, count = thresholds[band]
            value = curve[band - 1] if settings.strict else min(curve)
            if value > threshold:
                orders.append(StopOrder(run.name, _reason(settings, band, value, threshold, count)))
        return orders


def _threshold(values: Sequence[Sequence[float]], band: int, eta: float) -> tuple[float, int]:
    """The threshold of ``band`` and how many runs reached it (spec §5.4)."""
    at_band = sorted(curve[band - 1] for curve in values if len(curve) >= band)
    if not at_band:
        return math.inf, 0
    # W&B computes r = 1/eta then int(r * len); for some etas (1.1, 1.3) that differs from
    # floor(len / eta), so keep W&B's arithmetic.
    return at_band[int((1.0 / eta) * len(at_band))], len(at_band)


def _reason(settings: _Settings, band: int, value: float, threshold: float, count: int) -> str:
    metric = settings.metric
    shown_value, shown_threshold = fmt_pair(shown(value, metric), shown(threshold, metric))
    top = f"top 1/{fmt(settings.eta)} of {count} runs"
    if settings.strict:
        return (
            f"hyperband: at iteration {band} {metric.name} {shown_value} is worse than the "
            f"band's threshold {shown_threshold} ({top})"
        )
    return (
        f"hyperband: the best {metric.name} so far {shown_value} is worse than the threshold "
        f"{shown_threshold} of the band at iteration {band} ({top}; strict: false)"
    )


def _parse(config: SweepConfig) -> tuple[_Settings | None, list[ConfigIssue]]:
    """The rule's settings (None when there is an error) and every issue found."""
    settings = settings_of(config)
    issues = metric_issues(config, "hyperband")
    issues += unknown_key_issues(settings, _KNOWN, "hyperband")

    def error(key: str, message: str, severity: Severity = Severity.ERROR) -> None:
        issues.append(ConfigIssue(f"{PATH}.{key}" if key else PATH, message, severity))

    eta = settings.get("eta", 3)
    if "eta" in settings and (problem := eta_issue(settings)):
        error("eta", problem)
    strict = settings.get("strict", True)
    if not isinstance(strict, bool):
        error(
            "strict",
            f"strict {describe(strict)} is not a boolean; write strict: true (judge each run "
            "by its value at the band, the default) or strict: false (by its best value so far)",
        )
    if "max_iter" in settings:
        # Form B wins over form A (spec §5.1, wandb/wandb#1884).
        if problem := int_issue(settings, "max_iter", None, "write e.g. max_iter: 27"):
            error("max_iter", problem)
        if "s" not in settings:
            error(
                "s",
                f"max_iter {describe(settings['max_iter'])} needs s, the number of brackets; "
                "add e.g. s: 2, or remove max_iter and give min_iter (the first band) instead",
            )
        else:
            s = settings["s"]
            if not is_number(s):
                error("s", f"s {describe(s)} is not a number; write e.g. s: 2")
            elif not (math.isfinite(s) and float(s).is_integer()):
                # W&B's engine fails at run time on range(s) with a fractional s.
                error("s", f"s {s!r} is not a whole number of brackets; write e.g. s: 2")
        if "min_iter" in settings:
            error(
                "min_iter",
                f"min_iter {describe(settings['min_iter'])} is ignored because max_iter is set "
                "(W&B uses max_iter and s when both forms are given); remove one of them",
                Severity.WARNING,
            )
    elif "min_iter" in settings:
        if problem := int_issue(settings, "min_iter", 1, "write e.g. min_iter: 3"):
            error("min_iter", problem)
        if "s" in settings:
            error(
                "s",
                "s is only read together with max_iter; it is ignored. Give max_iter and s, "
                "or min_iter alone",
                Severity.WARNING,
            )
    else:
        error(
            "min_iter",
            "hyperband needs min_iter (the first band, e.g. min_iter: 3) or both max_iter "
            "and s (e.g. max_iter: 27 and s: 2)",
        )
    if any(issue.is_error for issue in issues) or config.metric is None:
        return None, issues
    bands = brackets(settings)
    if not bands:
        error(
            "",
            f"{_NO_BANDS} (max_iter {settings['max_iter']} divided by eta {fmt(eta)} up to "
            f"s={settings['s']} times leaves no band of at least 1 iteration)",
        )
        return None, issues
    return _Settings(config.metric, tuple(bands), float(eta), strict), issues
