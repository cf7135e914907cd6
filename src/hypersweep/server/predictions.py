"""``GET /sweeps/{sweep}/predictions`` and ``GET /runs/{run}/search-info``: why the search chose
each point.

A model-based method (``bayes``) records, with each run it hands out, what its model predicted
for that point: W&B's ``search_info`` (spec §4.4.3 step 10) plus ``predicted_metric`` in the
metric's own units. The sweep answer pairs the prediction with the value the run then reached,
so the dashboard can draw predicted against actual, and shows the runs still going as the
model's forecast for the next points. Warm-up runs (design points) carry no prediction and are
left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from hypersweep.controller import finite, metric_of
from hypersweep.domain import RunState
from hypersweep.server._context import Ctx, add_sweep_route, resolve_sweep
from hypersweep.store import RunRecord

__all__ = ["Prediction", "Predictions", "SearchInfo", "predictions_of", "router"]

router = APIRouter()

_DEFAULT_LIMIT = 200
_MAX_LIMIT = 5000


class Prediction(BaseModel):
    run_id: str
    name: str
    state: RunState
    created_at: datetime
    predicted: float = Field(description="the model's mean for the point, in the metric's units")
    std: float | None = Field(description="the model's standard deviation there")
    expected_improvement: float | None = Field(description="in standardised units")
    success_probability: float | None = Field(description="chance to beat the best so far")
    actual: float | None = Field(description="the run's summary value of the metric, once known")


class Predictions(BaseModel):
    metric: str | None
    goal: str | None
    runs_with_prediction: int = Field(description="all of the sweep's, before the limit")
    message: str | None = Field(description="why there are none, when there are none")
    points: list[Prediction] = Field(description="the latest ones, oldest first")


class SearchInfo(BaseModel):
    run_id: str
    search_info: dict[str, Any] = Field(
        description="what the search recorded when it chose the run's parameters (for bayes: "
        "W&B's search_info plus phase and predicted_metric); empty for grid and random"
    )


def _prediction(run: RunRecord, metric: str | None) -> Prediction | None:
    info = run.search_info
    predicted = finite(info.get("predicted_metric"))
    if predicted is None:
        return None
    return Prediction(
        run_id=run.id,
        name=run.name,
        state=run.state,
        created_at=run.created_at,
        predicted=predicted,
        std=finite(info.get("predicted_value_std_dev")),
        expected_improvement=finite(info.get("expected_improvement")),
        success_probability=finite(info.get("success_probability")),
        actual=finite(run.summary.get(metric)) if metric else None,
    )


def predictions_of(
    config: dict[str, Any], runs: list[RunRecord], limit: int = _DEFAULT_LIMIT
) -> Predictions:
    """The runs' recorded predictions (latest ``limit``, oldest first) beside their outcome."""
    found = metric_of(config)
    metric, goal = found if found is not None else (None, None)
    points = [p for p in (_prediction(run, metric) for run in runs) if p is not None]
    points.sort(key=lambda point: point.created_at)
    message = None
    if not points:
        method = config.get("method")
        message = (
            "no run of this sweep was chosen by a model yet: bayes predicts once its warm-up "
            "runs have finished"
            if method == "bayes"
            else f"method {method!r} makes no predictions; method: bayes does"
        )
    return Predictions(
        metric=metric,
        goal=goal,
        runs_with_prediction=len(points),
        message=message,
        points=points[-limit:] if limit else [],
    )


def _predictions(
    ctx: Ctx,
    sweep: str,
    project: str | None = None,
    limit: Annotated[int, Query(ge=0, le=_MAX_LIMIT)] = _DEFAULT_LIMIT,
) -> Predictions:
    record = resolve_sweep(ctx, sweep, project)
    return predictions_of(dict(record.config), ctx.store.list_runs(record.id, shared=True), limit)


add_sweep_route(
    router,
    "/predictions",
    _predictions,
    methods=["GET"],
    tags=["sweeps"],
    summary="The model's prediction for each run it chose, beside the value reached",
)


@router.get("/runs/{run}/search-info", tags=["runs"])
def search_info(run: str, ctx: Ctx) -> SearchInfo:
    """What the search recorded when it chose this run's parameters."""
    record = ctx.store.get_run(run)
    return SearchInfo(run_id=record.id, search_info=dict(record.search_info))
