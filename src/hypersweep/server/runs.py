"""The run endpoints: read, start, history (which answers with the stop order), summary,
output and finish."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

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
    SummaryUpdate,
)
from hypersweep.server._context import Ctx
from hypersweep.server._convert import NAME_LENGTH, RequestCheck, finite_json, run_out

router = APIRouter(tags=["runs"])


@router.get("/runs/{run}")
def get_run(run: str, ctx: Ctx) -> RunOut:
    return run_out(ctx.store.get_run(run))


@router.post("/runs/{run}/start")
def start_run(run: str, body: RunStart, ctx: Ctx) -> RunOut:
    check = RequestCheck()
    check.text(("host",), body.host, NAME_LENGTH)
    check.done()
    record = ctx.controller.start_run(run, ctx.now(), host=body.host, agent_id=body.agent_id)
    return run_out(record)


@router.post("/runs/{run}/history")
def log_history(run: str, body: HistoryBatch, ctx: Ctx) -> HistoryAck:
    """Append a batch; the answer says whether the run should stop (early termination)."""
    check = RequestCheck()
    for index, row in enumerate(body.rows):
        check.integer(("rows", index, "step"), row.step)
    check.done()
    rows = [(row.step, finite_json(row.metrics)) for row in body.rows]
    summary = finite_json(body.summary)
    stop, reason = ctx.controller.on_history(run, rows, summary, ctx.now(), batch=body.batch)
    return HistoryAck(stop=stop, reason=reason)


@router.get("/runs/{run}/history")
def history(run: str, ctx: Ctx, keys: str | None = None) -> list[HistoryRowOut]:
    """The run's rows by step; ``keys=a,b`` keeps only those metrics (and rows holding one)."""
    wanted = [key for key in keys.split(",") if key] if keys else None
    ctx.store.get_run(run)
    return [
        HistoryRowOut(step=row.step, metrics=dict(row.metrics))
        for row in ctx.store.history(run, keys=wanted)
    ]


@router.post("/runs/{run}/summary")
def set_summary(run: str, body: SummaryUpdate, ctx: Ctx) -> RunOut:
    return run_out(ctx.controller.set_summary(run, finite_json(body.summary), ctx.now()))


@router.post("/runs/{run}/output")
def append_output(run: str, body: OutputChunk, ctx: Ctx) -> Ack:
    # A program's output may hold NUL bytes, which PostgreSQL's text type refuses; the chunk
    # must not be lost (a 4xx is final for the client), so each becomes U+FFFD, as undecodable
    # bytes already do.
    ctx.store.append_output(run, body.stream, body.text.replace("\x00", "\ufffd"))
    return Ack()


@router.get("/runs/{run}/output")
def output(run: str, ctx: Ctx, tail: Annotated[int | None, Query(ge=0)] = None) -> OutputOut:
    return OutputOut(text=ctx.store.output(run, tail=tail))


@router.post("/runs/{run}/finish")
def finish_run(run: str, body: RunFinish, ctx: Ctx) -> RunOut:
    """Record the run's end; without ``state`` it is derived from the exit code and stop flag."""
    check = RequestCheck()
    check.integer(("exit_code",), body.exit_code)
    check.done()
    record = ctx.controller.finish_run(run, ctx.now(), exit_code=body.exit_code, state=body.state)
    return run_out(record)
