"""What the runs of a sweep tell a model: W&B's observation semantics (spec §4.4.2, §4.4.4).

Run states, and what each contributes::

    finished                 y = the best value of the metric ever logged (history and summary);
                             imputed with ``metric.impute`` when it logged no finite value
    failed, crashed, killed  y = imputed with ``metric.impute`` (default worst; early-stopped
                             runs are killed, so they count as worst: spec §14 Q10)
    running                  in flight; observed with ``metric.impute_while_running`` when that
                             is latest, best or worst
    pending, preempting,     in flight: the models fantasise a value for them so that parallel
    preempted                agents are not sent to the same place

The objective is minimised: a maximised metric is negated. Booleans, strings and non-finite
numbers are not metric values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from hypersweep.config import Metric
from hypersweep.domain import FAILED_STATES, TERMINAL_STATES, Run, RunState
from hypersweep.search._encoding import Encoder, finite_number
from hypersweep.search._types import Array

__all__ = ["Observations", "objective_values", "observe"]


class _Logged(NamedTuple):
    lo: float | None  # smallest finite value over history and summary
    hi: float | None  # largest
    latest: float | None  # last finite value in history


def _logged(run: Run, name: str) -> _Logged:
    lo = hi = latest = None
    for row in run.history:
        v = finite_number(row.get(name)) if type(row) is dict or isinstance(row, Mapping) else None
        if v is not None:
            latest = v
            if lo is None or v < lo:
                lo = v
            if hi is None or v > hi:
                hi = v
    summary = run.summary
    s = finite_number(summary.get(name)) if isinstance(summary, Mapping) else None
    if s is not None:
        lo = s if lo is None or s < lo else lo
        hi = s if hi is None or s > hi else hi
    return _Logged(lo, hi, latest)


def objective_values(metric: Metric, runs: Sequence[Run]) -> list[float | None]:
    """Each run's value of the objective, in the metric's own sign; None for a run in flight.

    Args:
        metric: the sweep's ``metric`` section (name, goal, impute, impute_while_running).
        runs: every run of the sweep.

    Returns:
        One entry per run: the best value logged, or the imputed one, or None when the run is
        pending, preempting, preempted, or running without ``impute_while_running``.

    Example (spec §4.4.4):
        >>> m = Metric("loss")
        >>> runs = [Run("a", "finished", {}, [{"loss": 3}, {"loss": 1}]),
        ...         Run("c", "crashed", {}), Run("d", "running", {}, [{"loss": 9}])]
        >>> objective_values(m, runs)
        [1.0, 3.0, None]
    """
    return _objective(metric, runs)[0]


def _objective(metric: Metric, runs: Sequence[Run]) -> tuple[list[float | None], int]:
    """``objective_values``, and how many runs logged a finite value."""
    maximize = metric.maximize
    logged = [_logged(run, metric.name) for run in runs]
    worst_values = [
        (log.lo if maximize else log.hi)
        for run, log in zip(runs, logged, strict=True)
        if run.state in TERMINAL_STATES
    ]
    present = [v for v in worst_values if v is not None]
    # spec §4.4.4: the worst extreme over terminal runs; 0.0 when none has a metric
    worst = (min(present) if maximize else max(present)) if present else 0.0

    def impute(strategy: str, log: _Logged) -> float:
        if strategy == "worst":
            return worst
        if strategy == "best":
            best = log.hi if maximize else log.lo
            return 0.0 if best is None else best
        return 0.0 if log.latest is None else log.latest

    out: list[float | None] = []
    for run, log in zip(runs, logged, strict=True):
        if run.state is RunState.FINISHED:
            best = log.hi if maximize else log.lo
            out.append(best if best is not None else impute(metric.impute, log))
        elif run.state in FAILED_STATES:
            out.append(impute(metric.impute, log))
        elif run.state is RunState.RUNNING and metric.impute_while_running != "false":
            out.append(impute(metric.impute_while_running, log))
        else:
            out.append(None)
    return out, sum(1 for log in logged if log.lo is not None)


@dataclass(frozen=True)
class Observations:
    """The encoded runs of a sweep, ready for a model.

    ``x``/``y`` are the observed points and their objective (minimised: negated when the metric
    is maximised); ``order`` is each observation's position in ``runs`` (older runs first);
    ``pending`` the points of runs in flight. ``n_unencodable`` runs were left out because a
    parameter value cannot be in the current space; ``n_logged`` runs logged a finite value of
    the metric (the others' values, if any, are imputed).
    """

    x: Array
    y: Array
    order: Array
    pending: Array
    n_unencodable: int
    n_logged: int

    @property
    def has_signal(self) -> bool:
        """At least two observations, not all equal: something a model can learn from."""
        return len(self.y) >= 2 and float(np.ptp(self.y)) > 0.0


def observe(metric: Metric | None, runs: Sequence[Run], encoder: Encoder) -> Observations:
    """Encode ``runs`` and their objective values (spec §4.4.2)."""
    if metric is None:
        # only when a method is used unvalidated: nothing is observed, every run marks a
        # point that is taken
        values: list[float | None] = [None] * len(runs)
        n_logged = 0
    else:
        values, n_logged = _objective(metric, runs)
    x, ok = encoder.encode([run.params for run in runs])
    sign = -1.0 if metric is not None and metric.maximize else 1.0
    observed: list[int] = []
    y: list[float] = []
    in_flight: list[int] = []
    for i, v in enumerate(values):
        if not ok[i]:
            continue
        if v is None:
            in_flight.append(i)
        else:
            observed.append(i)
            y.append(sign * v)
    return Observations(
        x=x[observed],
        y=np.array(y, dtype=float),
        order=np.array(observed, dtype=int),
        pending=x[in_flight],
        n_unencodable=int((~ok).sum()),
        n_logged=n_logged,
    )
