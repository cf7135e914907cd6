"""The run endpoints: read, start, history (which answers with the stop order), summary,
output and finish."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from hypersweep.controller import Controller
from hypersweep.errors import HypersweepError
from hypersweep.protocol import (
    Ack,
    HistoryAck,
    HistoryBatch,
    HistoryRowOut,
    OutputChunk,
    OutputOut,
    RunFinish,
    RunOut,
    RunStart,
    RunStop,
    SummaryUpdate,
)
from hypersweep.server._context import Ctx
from hypersweep.server._convert import (
    NAME_LENGTH,
    TAG_LENGTH,
    RequestCheck,
    finite_json,
    run_out,
)
from hypersweep.server._lanes import in_lane
from hypersweep.server._limits import check_nesting
from hypersweep.store import HistoryRow, HistoryWrite

router = APIRouter(tags=["runs"])


@router.get("/runs/{run}")
def get_run(run: str, ctx: Ctx) -> RunOut:
    return run_out(ctx.store.get_run(run))


@router.post("/runs/{run}/start")
@in_lane("runs")
def start_run(run: str, body: RunStart, ctx: Ctx) -> RunOut:
    check = RequestCheck()
    check.text(("host",), body.host, NAME_LENGTH)
    check.text(("name",), body.name, NAME_LENGTH)
    check.text(("group",), body.group, NAME_LENGTH)
    check.text(("job_type",), body.job_type, TAG_LENGTH)
    for index, tag in enumerate(body.tags or []):
        check.text(("tags", index), tag, TAG_LENGTH)
    check.done()
    described = {"tags": body.tags, "notes": body.notes, "group": body.group}
    described["job_type"] = body.job_type
    record = ctx.controller.start_run(
        run,
        ctx.now(),
        host=body.host,
        agent_id=body.agent_id,
        name=body.name,
        meta={key: value for key, value in described.items() if value is not None},
    )
    return run_out(record)


@router.post("/runs/{run}/history")
async def log_history(run: str, body: HistoryBatch, ctx: Ctx) -> HistoryAck:
    """Append a batch; the answer says whether the run should stop (early termination).

    Batches that wait for the store together are stored together (``Controller.on_histories``:
    one transaction), each answered on its own."""
    write = HistoryWrite(run, _checked_rows(body), body.batch, finite_json(body.summary))
    stop, reason = await ctx.lanes.call_together(
        "history", _histories, (ctx.controller, ctx.now(), write)
    )
    return HistoryAck(stop=stop, reason=reason)


def _checked_rows(body: HistoryBatch) -> list[tuple[int, Mapping[str, Any]]]:
    """The batch's rows as the store takes them, or the request refused (422) naming each bad
    step, metric name and summary key."""
    check_nesting(("summary",), body.summary)
    check = RequestCheck()
    rows: list[tuple[int, Mapping[str, Any]]] = []
    for index, row in enumerate(body.rows):
        check.integer(("rows", index, "step"), row.step)
        metrics = _plain_metrics(row.metrics)
        if metrics is None:
            loc = ("rows", index, "metrics")
            check_nesting(loc, row.metrics)
            _check_keys(check, loc, row.metrics)
            metrics = finite_json(row.metrics)
        rows.append((row.step, metrics))
    _check_keys(check, ("summary",), body.summary)
    check.done()
    return rows


def _histories(
    waiting: list[tuple[Controller, datetime, HistoryWrite]],
) -> list[tuple[bool, str | None] | HypersweepError]:
    """The history batches waiting together, stored together, at the time of the latest."""
    controller = waiting[0][0]
    return controller.on_histories(
        [write for _, _, write in waiting], max(at for _, at, _ in waiting)
    )


@router.get("/runs/{run}/history")
def history(
    run: str,
    ctx: Ctx,
    keys: str | None = None,
    samples: Annotated[
        int | None,
        Query(
            ge=2, description="at most this many rows, evenly spaced by step (first and last kept)"
        ),
    ] = None,
) -> list[HistoryRowOut]:
    """The run's rows by step; ``keys=a,b`` keeps only those metrics (and rows holding one);
    ``samples=N`` at most N of them (W&B's ``history(samples=)``), for charts of long runs."""
    wanted = [key for key in keys.split(",") if key] if keys else None
    ctx.store.get_run(run)
    rows = ctx.store.history(run, keys=wanted)
    if samples is not None:
        rows = _downsample(rows, samples)
    return [HistoryRowOut(step=row.step, metrics=dict(row.metrics)) for row in rows]


def _downsample(rows: Sequence[HistoryRow], samples: int) -> list[HistoryRow]:
    """At most ``samples`` rows, at steps evenly spaced between the first row's and the last's
    (each target step takes the first row at or after it), always with the first and the last
    row: a curve keeps its ends and its shape, whatever the steps' spacing."""
    if len(rows) <= samples:
        return list(rows)
    steps = [row.step for row in rows]
    first, last = steps[0], steps[-1]
    picked = {0, len(rows) - 1}
    for index in range(1, samples - 1):
        target = first + (last - first) * index / (samples - 1)
        picked.add(min(bisect.bisect_left(steps, target), len(rows) - 1))
    return [rows[index] for index in sorted(picked)]


@router.post("/runs/{run}/summary")
@in_lane("history")
def set_summary(run: str, body: SummaryUpdate, ctx: Ctx) -> RunOut:
    check_nesting(("summary",), body.summary)
    check = RequestCheck()
    _check_keys(check, ("summary",), body.summary)
    check.done()
    return run_out(ctx.controller.set_summary(run, finite_json(body.summary), ctx.now()))


@router.post("/runs/{run}/output")
@in_lane("history")
def append_output(run: str, body: OutputChunk, ctx: Ctx) -> Ack:
    # A program's output may hold NUL bytes, which PostgreSQL's text type refuses; the chunk
    # must not be lost (a 4xx is final for the client), so each becomes U+FFFD, as undecodable
    # bytes already do.
    ctx.store.append_output(run, body.stream, body.text.replace("\x00", "\ufffd"))
    return Ack()


@router.get("/runs/{run}/output")
def output(run: str, ctx: Ctx, tail: Annotated[int | None, Query(ge=0)] = None) -> OutputOut:
    return OutputOut(text=ctx.store.output(run, tail=tail))


#: a stop reason names the rule, the band, the value and the threshold: longer than a name
_REASON_LENGTH = 1024


@router.post("/runs/{run}/stop")
def stop_run(run: str, body: RunStop, ctx: Ctx) -> RunOut:
    """Flag the run stopped (a local controller's rule, or by hand); its agent's next heartbeat
    carries the order and its end is recorded killed. 409 when it has ended."""
    check = RequestCheck()
    check.text(("reason",), body.reason, _REASON_LENGTH)
    check.done()
    return run_out(ctx.controller.stop_run(run, body.reason, ctx.now()))


@router.post("/runs/{run}/finish")
@in_lane("runs")
def finish_run(run: str, body: RunFinish, ctx: Ctx) -> RunOut:
    """Record the run's end; without ``state`` it is derived from the exit code and stop flag."""
    check = RequestCheck()
    check.integer(("exit_code",), body.exit_code)
    check.done()
    record = ctx.controller.finish_run(run, ctx.now(), exit_code=body.exit_code, state=body.state)
    return run_out(record)


def _plain_metrics(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """``metrics`` as ``finite_json`` returns them, when every name passes ``_check_keys`` and
    every value is a number, a string, a bool or null: nearly every row, checked in one pass
    (the full checks walked each row three times, a tenth of a batch's time). None when a row
    needs the full checks."""
    plain: dict[str, Any] = {}
    for key, value in metrics.items():
        if len(key) > NAME_LENGTH or "\x00" in key or isinstance(value, (dict, list)):
            return None
        plain[key] = None if isinstance(value, float) and not math.isfinite(value) else value
    return plain


def _check_keys(
    check: RequestCheck, loc: tuple[str | int, ...], values: Mapping[str, Any] | None
) -> None:
    """Metric and summary names: a name is shown, charted and queried (``keys=``) by itself, so
    it is held to the length of every other name; the check names the key and the limit."""
    for key in values or ():
        check.text(loc, key, NAME_LENGTH)
