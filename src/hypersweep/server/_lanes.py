"""Thread lanes for the requests agents and training programs send all the time.

FastAPI runs every plain ``def`` endpoint on one shared pool of 40 threads, first come, first
served. On a busy server, 64 agents each keep a history batch in flight. Two things went wrong:

- A heartbeat waited behind every queued batch: its median answer took 0.5 s, and a hand-out
  0.75-0.8 s (``benchmarks/load.py``, 64 agents on SQLite; under 30 ms and 0.3 s with lanes).
- The 40 threads all competed for the one interpreter lock.

Each lane has its own limit, so a heartbeat waits only for other heartbeats:

- ``heartbeats`` hand out runs and carry stop orders.
- ``runs`` carries a run's writes: start, history, summary, output and finish. Its limit stays
  small because one process writes one batch at a time anyway (SQLite has one writer, and
  Python has one interpreter lock). More threads would only take CPU away from heartbeats.

Every other endpoint still runs on FastAPI's shared pool.

A lane is a ``ThreadPoolExecutor`` awaited through asyncio's ``run_in_executor``: a request
waiting for its turn waits in the executor's queue and costs nothing meanwhile. An anyio
``CapacityLimiter`` in front of anyio's threads cost ~200 us of CPU per call with 30 callers
waiting, against ~60 us here (``benchmarks/load.py`` queues that many and more); the lanes
carry no context variables or cancellation, which those endpoints do not use.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, ParamSpec, TypeVar

__all__ = ["Lanes", "in_lane"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

# Enough heartbeats at once for a bayes sweep, whose suggestions take 20-200 ms each.
HEARTBEAT_THREADS = 4
# Enough that a PostgreSQL round trip of one write overlaps the work of another.
RUN_WRITE_THREADS = 2


def _lane(threads: int, name: str) -> ThreadPoolExecutor:
    # Its threads start with the first calls; they end when the executor is collected with its
    # app, or at the interpreter's exit once their calls return.
    return ThreadPoolExecutor(threads, thread_name_prefix=f"hypersweep-{name}")


@dataclass(frozen=True)
class Lanes:
    """One app's lanes (``AppContext.lanes``)."""

    heartbeats: ThreadPoolExecutor = field(
        default_factory=lambda: _lane(HEARTBEAT_THREADS, "heartbeats")
    )
    runs: ThreadPoolExecutor = field(default_factory=lambda: _lane(RUN_WRITE_THREADS, "runs"))


def in_lane(
    name: Literal["heartbeats", "runs"],
) -> Callable[[Callable[_P, _T]], Callable[_P, Awaitable[_T]]]:
    """Make a plain endpoint run on a thread of its app's lane ``name``.

    The endpoint must take the app context as ``ctx``. FastAPI reads the parameters and
    annotations of the wrapped function, so the schema and the validation do not change.
    """

    def decorate(endpoint: Callable[_P, _T]) -> Callable[_P, Awaitable[_T]]:
        @functools.wraps(endpoint)
        async def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            lanes: Lanes = getattr(kwargs["ctx"], "lanes")  # noqa: B009 (kwargs are untyped)
            call = functools.partial(endpoint, *args, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(getattr(lanes, name), call)

        return run

    return decorate
