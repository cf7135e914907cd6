"""Derived views of a sweep's runs: run counts, the best run, the run_cap count, the target."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypersweep.domain import RunState
from hypersweep.store import RunRecord, Store, SweepRecord

__all__ = [
    "PRIOR",
    "BestRun",
    "SweepSummary",
    "counted_for_cap",
    "counts_against_cap",
    "finite",
    "metric_of",
    "reaches",
    "sweep_summary",
]

#: run meta key of a prior run (spec §11): attached to the sweep, not created by it
PRIOR = "prior"


@dataclass(frozen=True)
class BestRun:
    """The run with the best summary value of the sweep's metric."""

    run_id: str
    value: float


@dataclass(frozen=True)
class SweepSummary:
    """Run counts by state value (every state present) and the best run, if any."""

    run_counts: dict[str, int]
    best: BestRun | None


def finite(value: object) -> float | None:
    """``value`` as a float when it is a finite real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def metric_of(config: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(name, goal)`` of a stored (validated) config's metric, or None without one."""
    metric = config.get("metric")
    if not isinstance(metric, Mapping) or not isinstance(metric.get("name"), str):
        return None
    goal = metric.get("goal", "minimize")
    return metric["name"], goal if goal in ("minimize", "maximize") else "minimize"


def reaches(value: float, target: float, goal: str) -> bool:
    """Whether ``value`` reaches ``target`` (spec §2.3: <= when minimizing, >= when maximizing)."""
    return value >= target if goal == "maximize" else value <= target


def counts_against_cap(run: RunRecord) -> bool:
    """Whether the run counts against ``run_cap`` (spec §4.6).

    Runs that ended crashed or killed with no summary metrics do not count (wandb/wandb#5732);
    keys starting with ``_`` (W&B's ``_runtime``, ``_step``) are bookkeeping, not metrics.
    Prior runs (``run.meta[PRIOR]``) were not created by the sweep and do not count either.
    """
    if run.meta.get(PRIOR):
        return False
    if run.state not in (RunState.CRASHED, RunState.KILLED):
        return True
    return any(not key.startswith("_") for key in run.summary)


def counted_for_cap(runs: Sequence[RunRecord]) -> int:
    """How many of ``runs`` count against ``run_cap``: a preempted attempt is not counted, its
    re-run is, so the logical run counts once, as W&B's resumed run does (spec §4.6, §8.2)."""
    return sum(1 for run in runs if run.state is not RunState.PREEMPTED and counts_against_cap(run))


def best_run(runs: Sequence[RunRecord], name: str, goal: str) -> BestRun | None:
    """The run whose summary holds the best finite value of metric ``name``."""
    best: BestRun | None = None
    for run in runs:
        value = finite(run.summary.get(name))
        if value is None:
            continue
        if best is None or (value > best.value if goal == "maximize" else value < best.value):
            best = BestRun(run.id, value)
    return best


def sweep_summary(store: Store, sweep: SweepRecord) -> SweepSummary:
    """The sweep's run counts by state and its best run by the config's metric and goal."""
    runs = store.list_runs(sweep.id, shared=True)
    counts = {state.value: 0 for state in RunState}
    for run in runs:
        counts[run.state.value] += 1
    metric = metric_of(sweep.config)
    best = best_run(runs, *metric) if metric is not None else None
    return SweepSummary(counts, best)
