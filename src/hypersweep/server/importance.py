"""``GET /sweeps/{sweep}/importance``: W&B's parameter importance panel (spec §12).

For each searched parameter: its importance in a random forest that predicts the metric from the
parameters of the sweep's finished runs, and its correlation with the metric. Runs stopped early
by the sweep count too (their summary holds the value they reached), as in W&B.

Numeric parameters go in as they are. Anything else (strings, booleans, lists, dicts, a mix of
types) is categorical: one-hot columns for the forest, whose importances are summed back into the
parameter, and one correlation per value (``levels``), since a category has no sign on its own.
Nested parameters are flattened to dotted names (``optimizer.lr``), as the config spells them.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hypersweep.controller import finite, metric_of
from hypersweep.domain import RunState
from hypersweep.server._context import Ctx, add_sweep_route, resolve_sweep
from hypersweep.store import RunRecord

__all__ = ["MIN_RUNS", "Importance", "ParamImportance", "flatten", "importance_of", "router"]

router = APIRouter(tags=["sweeps"])

#: fewer finished runs than this give no meaningful forest nor correlation
MIN_RUNS = 3
_TREES = 100
_MISSING = "(missing)"


class LevelCorrelation(BaseModel):
    value: str
    correlation: float | None


class ParamImportance(BaseModel):
    name: str
    kind: str = Field(description="numeric or categorical")
    importance: float | None = Field(description="random-forest importance; all sum to 1")
    correlation: float | None = Field(description="Pearson correlation with the metric")
    levels: list[LevelCorrelation] = Field(
        default_factory=list, description="categorical: each value's correlation with the metric"
    )


class Importance(BaseModel):
    metric: str | None
    goal: str | None
    runs_used: int
    message: str | None = Field(description="why the numbers are missing, when they are")
    params: list[ParamImportance]


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"opt": {"lr": 1}}`` -> ``{"opt.lr": 1}``; lists stay whole values."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _label(value: Any) -> str:
    if value is None:
        return _MISSING
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """None when either side is constant (the correlation is undefined, not zero)."""
    if min(xs) == max(xs) or min(ys) == max(ys):
        # by its values: 0.2 n times has a mean a rounding off 0.2, so its spread is not 0
        return None
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 0 or syy <= 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    value = sxy / math.sqrt(sxx * syy)
    return max(-1.0, min(1.0, value))


def _used_runs(runs: Sequence[RunRecord], metric: str) -> list[tuple[dict[str, Any], float]]:
    used = []
    for run in runs:
        if run.state != RunState.FINISHED and not (run.stopped and run.state == RunState.KILLED):
            continue
        value = finite(run.summary.get(metric))
        if value is not None:
            used.append((flatten(run.params), value))
    return used


def importance_of(config: Mapping[str, Any], runs: Sequence[RunRecord]) -> Importance:
    """The panel's numbers for a sweep with this config and these runs."""
    found = metric_of(config)
    if found is None:
        return Importance(
            metric=None,
            goal=None,
            runs_used=0,
            message="the sweep's config has no metric (metric.name), so nothing to explain; "
            "add one to see parameter importance",
            params=[],
        )
    metric, goal = found
    used = _used_runs(runs, metric)
    if len(used) < MIN_RUNS:
        return Importance(
            metric=metric,
            goal=goal,
            runs_used=len(used),
            message=f"parameter importance needs at least {MIN_RUNS} finished runs with a "
            f"value of the metric {metric!r}; this sweep has {len(used)}",
            params=[],
        )
    names = sorted({name for params, _ in used for name in params})
    ys = [value for _, value in used]
    columns: list[list[float]] = []  # the forest's input, column by column
    owner: list[int] = []  # which parameter each column belongs to
    params: list[ParamImportance] = []
    for index, name in enumerate(names):
        values = [params_.get(name) for params_, _ in used]
        numbers = [finite(value) for value in values]
        if all(number is not None for number in numbers):
            xs = [float(number) for number in numbers if number is not None]
            columns.append(xs)
            owner.append(index)
            params.append(
                ParamImportance(
                    name=name, kind="numeric", importance=None, correlation=_pearson(xs, ys)
                )
            )
            continue
        labels = [_label(value) for value in values]
        levels = []
        for level in sorted(set(labels)):
            indicator = [1.0 if label == level else 0.0 for label in labels]
            columns.append(indicator)
            owner.append(index)
            levels.append(LevelCorrelation(value=level, correlation=_pearson(indicator, ys)))
        params.append(
            ParamImportance(
                name=name, kind="categorical", importance=None, correlation=None, levels=levels
            )
        )
    message = _fill_forest(params, columns, owner, ys)
    params.sort(key=lambda p: (-(p.importance or 0.0), -abs(p.correlation or 0.0), p.name))
    return Importance(metric=metric, goal=goal, runs_used=len(used), message=message, params=params)


def _fill_forest(
    params: list[ParamImportance],
    columns: list[list[float]],
    owner: list[int],
    ys: list[float],
) -> str | None:
    """Set each parameter's forest importance; a message instead when there can be none."""
    try:
        # Imported here: scikit-learn takes a second to import and only this endpoint needs it.
        import numpy as np
        from sklearn.ensemble import RandomForestRegressor  # type: ignore[import-untyped]
    except ImportError:
        return (
            "scikit-learn is not installed, so only correlations are shown; "
            "pip install scikit-learn"
        )
    if not columns or max(ys) == min(ys):
        for param in params:
            param.importance = 0.0
        return None if columns else "the runs have no parameters"
    x = np.array(columns, dtype=float).T
    forest = RandomForestRegressor(n_estimators=_TREES, random_state=0)
    forest.fit(x, np.array(ys, dtype=float))
    totals = [0.0] * len(params)
    for column, weight in zip(owner, forest.feature_importances_, strict=True):
        totals[column] += float(weight)
    for param, total in zip(params, totals, strict=True):
        param.importance = total
    return None


class _Answers:
    """Recent answers by what they depend on: the sweep's metric and, for every run, what
    decides whether and how it is used. Fitting the forest takes seconds at thousands of runs,
    and a dashboard asks again on every page load while nothing has changed."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._answers: OrderedDict[tuple[Any, ...], Importance] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> Importance | None:
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], answer: Importance) -> None:
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)


_ANSWERS = _Answers()


def _inputs(config: Mapping[str, Any], runs: Sequence[RunRecord]) -> tuple[Any, ...]:
    found = metric_of(config)
    metric = found[0] if found is not None else None
    used = tuple(
        (run.id, run.state.value, run.stopped, repr(run.summary.get(metric)) if metric else None)
        for run in runs
    )
    return (found, used)


def _importance(ctx: Ctx, sweep: str, project: str | None = None) -> Importance:
    record = resolve_sweep(ctx, sweep, project)
    runs = ctx.store.list_runs(record.id, shared=True)
    key = (record.id, *_inputs(record.config, runs))
    answer = _ANSWERS.get(key)
    if answer is None:
        answer = importance_of(record.config, runs)
        _ANSWERS.put(key, answer)
    return answer.model_copy(deep=True)


add_sweep_route(
    router,
    "/importance",
    _importance,
    methods=["GET"],
    summary="Parameter importance: random forest and correlation with the metric",
)
