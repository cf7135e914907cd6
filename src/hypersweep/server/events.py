"""``GET /sweeps/{sweep}/events``: the sweep's changes as server-sent events (the dashboard's
live updates).

The stream polls the store about once a second and compares with what it sent before, so it sees
changes made by any server process sharing the store (agents may talk to another one). Events:

``snapshot`` (first, once)
    ``{"sweep": SweepOut, "runs": [RunOut, ...]}``: the state the deltas apply to.
``delta``
    ``{"sweep": SweepOut | null, "runs": [RunOut, ...], "history": [{"run_id", "start",
    "rows": [HistoryRowOut, ...]}]}``: the sweep when it changed, the runs that are new or
    changed, and each run's history rows appended since the last event (``start`` is the index of
    the first one among the run's rows by step; a client holding another number of rows refetches
    the run's history). Sent only when something changed.
``gone``
    ``ErrorBody``: the sweep no longer exists; the stream ends.

A comment line is sent every ~15 s of quiet so proxies keep the connection and a closed client
is noticed. Store calls run in the thread pool: the stream never blocks other requests.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from hypersweep.errors import NotFoundError
from hypersweep.protocol import ErrorBody, HistoryRowOut
from hypersweep.server._context import AppContext, Ctx, add_sweep_route, resolve_sweep
from hypersweep.server._convert import run_out, sweep_out
from hypersweep.store import RunRecord

__all__ = ["SweepWatcher", "router"]

router = APIRouter(tags=["sweeps"])

_KEEPALIVE = 15.0  # seconds of quiet before a comment line


class SweepWatcher:
    """Remembers what was sent for one sweep and turns the store's state into events."""

    def __init__(self, ctx: AppContext, sweep_id: str) -> None:
        self._ctx = ctx
        self._sweep_id = sweep_id
        self._sweep: str | None = None
        self._runs: dict[str, str] = {}  # run id -> its RunOut JSON as last sent
        # run id -> the record last seen: an equal record is unchanged, so only changed runs
        # are serialised (at 5,000 runs serialising them all took ~0.15 CPU-s every second)
        self._records: dict[str, RunRecord] = {}
        self._rows: dict[str, int] = {}  # run id -> history rows already sent or in the snapshot

    def snapshot(self) -> dict[str, Any]:
        """The whole sweep and its runs (without history), and the baseline for ``delta``."""
        store = self._ctx.store
        sweep = sweep_out(store, store.get_sweep(self._sweep_id)).model_dump(mode="json")
        self._sweep = json.dumps(sweep, sort_keys=True)
        runs = []
        for record in store.list_runs(self._sweep_id, shared=True):
            run = run_out(record).model_dump(mode="json")
            runs.append(run)
            self._runs[record.id] = json.dumps(run, sort_keys=True)
            self._records[record.id] = record
            self._rows[record.id] = record.history_rows
        return {"sweep": sweep, "runs": runs}

    def delta(self) -> dict[str, Any] | None:
        """What changed since the last call (or the snapshot); None when nothing did."""
        store = self._ctx.store
        sweep: dict[str, Any] | None = sweep_out(store, store.get_sweep(self._sweep_id)).model_dump(
            mode="json"
        )
        sweep_text = json.dumps(sweep, sort_keys=True)
        if sweep_text == self._sweep:
            sweep = None
        self._sweep = sweep_text
        runs: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        for record in store.list_runs(self._sweep_id, shared=True):
            if self._records.get(record.id) != record:
                # a NaN is unequal to itself: the JSON (where it is null) says if it changed
                self._records[record.id] = record
                run = run_out(record).model_dump(mode="json")
                text = json.dumps(run, sort_keys=True)
                if self._runs.get(record.id) != text:
                    runs.append(run)
                    self._runs[record.id] = text
            sent = self._rows.get(record.id, 0)
            if record.history_rows > sent:
                rows = store.history(record.id)[sent:]
                history.append(
                    {
                        "run_id": record.id,
                        "start": sent,
                        "rows": [
                            HistoryRowOut(step=row.step, metrics=dict(row.metrics)).model_dump(
                                mode="json"
                            )
                            for row in rows
                        ],
                    }
                )
                self._rows[record.id] = sent + len(rows)
        if sweep is None and not runs and not history:
            return None
        return {"sweep": sweep, "runs": runs, "history": history}


def _event(name: str, data: Any) -> str:
    # The browser's JSON.parse throws on NaN. Every payload comes from model_dump(mode="json"),
    # which already writes a NaN or infinity (from a store written past the API) as null.
    return f"event: {name}\ndata: {json.dumps(data, allow_nan=False)}\n\n"


async def _stream(request: Request, watcher: SweepWatcher, interval: float) -> AsyncIterator[str]:
    try:
        yield _event("snapshot", await run_in_threadpool(watcher.snapshot))
        quiet_since = time.monotonic()
        while not await request.is_disconnected():
            await asyncio.sleep(interval)
            changes = await run_in_threadpool(watcher.delta)
            if changes is not None:
                yield _event("delta", changes)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= _KEEPALIVE:
                yield ": keep-alive\n\n"
                quiet_since = time.monotonic()
    except NotFoundError as exc:
        yield _event("gone", ErrorBody(error="NotFoundError", message=str(exc)).model_dump())


async def sweep_events(
    request: Request,
    ctx: Ctx,
    sweep: str,
    project: str | None = None,
    interval: Annotated[float, Query(ge=0.1, le=60.0, description="seconds between polls")] = 1.0,
) -> StreamingResponse:
    """The sweep's changes as ``text/event-stream`` (see the module's docstring)."""
    # Resolved before streaming, so an unknown sweep is a plain 404 ErrorBody.
    record = await run_in_threadpool(resolve_sweep, ctx, sweep, project)
    return StreamingResponse(
        _stream(request, SweepWatcher(ctx, record.id), interval),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


add_sweep_route(
    router,
    "/events",
    sweep_events,
    methods=["GET"],
    response_class=StreamingResponse,
    summary="Server-sent events: the sweep's runs and history as they change",
)
