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

Each run's ``RunOut`` JSON is encoded once per version of its record and shared by every stream
of the process (``RunJsonCache``), so a snapshot of a large sweep is mostly a join of encoded
runs, and a poll encodes only the runs that changed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from hypersweep.errors import NotFoundError
from hypersweep.protocol import ErrorBody, HistoryRowOut
from hypersweep.server._context import AppContext, Ctx, add_sweep_route, resolve_sweep
from hypersweep.server._convert import run_out, sweep_out
from hypersweep.store import RunRecord, SweepRecord, keep_sweep_runs

__all__ = ["RunJsonCache", "SweepWatcher", "router"]

router = APIRouter(tags=["sweeps"])

_KEEPALIVE = 15.0  # seconds of quiet before a comment line
#: runs whose JSON is kept across sweeps (about half a kB each at 5,000 runs of 4 parameters)
_KEPT_RUNS = 100_000


class RunJsonCache:
    """Each run's ``RunOut`` JSON, encoded once per version of its record.

    A record that is the one cached (``list_runs(shared=True)`` hands out the same record until
    the run changes), or equal to it, has the cached JSON; any other is encoded again. The JSON is
    a function of the record alone, so streams of different stores may share the cache. Safe to
    call from many threads; the least recently read sweeps are dropped first beyond ``kept``
    runs.
    """

    def __init__(self, kept: int = _KEPT_RUNS) -> None:
        self._kept = kept
        self._lock = threading.Lock()
        self._sweeps: OrderedDict[str, dict[str, tuple[RunRecord, str]]] = OrderedDict()

    def encode(self, sweep_id: str, records: Sequence[RunRecord]) -> list[str]:
        """The JSON of each of ``records`` (the sweep's runs, all of them), in their order."""
        with self._lock:
            known = self._sweeps.get(sweep_id, {})
        current: dict[str, tuple[RunRecord, str]] = {}
        texts = []
        for record in records:
            entry = known.get(record.id)
            # ``is`` first: with a store that shares its records it settles every unchanged run
            if entry is None or (entry[0] is not record and entry[0] != record):
                # model_dump_json writes a NaN or infinity (from a store written past the API)
                # as null, as the browser's JSON.parse needs; it is several times faster than
                # model_dump + json.dumps
                entry = (record, run_out(record).model_dump_json())
            current[record.id] = entry
            texts.append(entry[1])
        with self._lock:
            keep_sweep_runs(self._sweeps, sweep_id, current, self._kept)
        return texts


_RUN_JSON = RunJsonCache()


def _join(texts: Sequence[str]) -> str:
    return "[" + ",".join(texts) + "]"


class SweepWatcher:
    """Remembers what was sent for one sweep and turns the store's state into events (their
    ``data``, as JSON text)."""

    def __init__(self, ctx: AppContext, sweep_id: str, cache: RunJsonCache | None = None) -> None:
        self._ctx = ctx
        self._sweep_id = sweep_id
        self._cache = _RUN_JSON if cache is None else cache
        self._sweep: str | None = None  # its SweepOut JSON as last sent
        self._sweep_record: SweepRecord | None = None  # the record that JSON was made from
        # run id -> its RunOut JSON as last sent: the cache's own string while the run is
        # unchanged, so comparing is mostly an identity check
        self._runs: dict[str, str] = {}
        self._rows: dict[str, int] = {}  # run id -> history rows already sent or in the snapshot

    def _sweep_json(self, record: SweepRecord) -> str:
        self._sweep_record = record
        return sweep_out(self._ctx.store, record).model_dump_json()

    def snapshot(self) -> str:
        """The whole sweep and its runs (without history), and the baseline for ``delta``."""
        sweep = self._sweep_json(self._ctx.store.get_sweep(self._sweep_id))
        records = self._ctx.store.list_runs(self._sweep_id, shared=True)
        texts = self._cache.encode(self._sweep_id, records)
        self._sweep = sweep
        self._runs = {record.id: text for record, text in zip(records, texts, strict=True)}
        self._rows = {record.id: record.history_rows for record in records}
        return '{"sweep":' + sweep + ',"runs":' + _join(texts) + "}"

    def delta(self) -> str | None:
        """What changed since the last call (or the snapshot); None when nothing did."""
        store = self._ctx.store
        sweep_record = store.get_sweep(self._sweep_id)
        records = store.list_runs(self._sweep_id, shared=True)
        texts = self._cache.encode(self._sweep_id, records)
        runs: list[str] = []
        history: list[dict[str, Any]] = []
        for record, text in zip(records, texts, strict=True):
            # compared as JSON: a NaN (null there) is unequal to itself in the record
            if self._runs.get(record.id) != text:
                runs.append(text)
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
        sweep: str | None = None
        # The SweepOut is the sweep's record plus its run counts and best run, which change only
        # with a run's state or summary (or a run gone): made again only then (it reads every
        # run once more).
        if runs or sweep_record != self._sweep_record or len(records) != len(self._runs):
            sweep = self._sweep_json(sweep_record)
            if sweep == self._sweep:
                sweep = None
            else:
                self._sweep = sweep
        if sweep is None and not runs and not history:
            return None
        # model_dump(mode="json") already wrote a NaN or infinity as null
        rows_json = json.dumps(history, allow_nan=False)
        return (
            '{"sweep":'
            + (sweep or "null")
            + ',"runs":'
            + _join(runs)
            + ',"history":'
            + rows_json
            + "}"
        )


def _event(name: str, data: str) -> str:
    # ``data`` is compact JSON: no line breaks, which would end the event's data line
    return f"event: {name}\ndata: {data}\n\n"


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
        gone = ErrorBody(error="NotFoundError", message=str(exc))
        yield _event("gone", gone.model_dump_json())


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
