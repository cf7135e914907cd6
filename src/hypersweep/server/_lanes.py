"""Lanes for the requests agents and training programs send all the time.

FastAPI runs every plain ``def`` endpoint on one shared pool of 40 threads, first come, first
served. On a busy server, 64 agents each keep a history batch in flight. Two things went wrong:

- A heartbeat waited behind every queued batch: its median answer took 0.5 s, and a hand-out
  0.75-0.8 s (``benchmarks/load.py``, 64 agents on SQLite; under 30 ms and 0.3 s with lanes).
- The 40 threads all competed for the one interpreter lock.

So those endpoints take a lane, and the most urgent lane goes first:

- ``heartbeats`` hand out runs and carry stop orders: an idle agent is an idle GPU.
- ``runs``: a run's start and finish (after its finish the agent asks for the next run).
- ``history``: history batches, summaries and output, which may wait a little.

Every other endpoint still runs on FastAPI's shared pool.

**On a local store (one process on SQLite, or memory) the lanes run on the event loop**
(``Lanes.inline``): their calls wait in one queue, and the loop makes one call per pass, the
most urgent first, so requests that arrive meanwhile are read and queued in between. Threads
cost more than they gave there. SQLite releases the interpreter lock around every statement, so
a thread holding SQLite's one write lock lost the interpreter lock to the event loop at each
statement and waited to get it back, while every other writer queued behind it. With 64 agents
on SQLite (``benchmarks/load.py``) the server stored 13,000-15,000 history rows/s through lane
threads and 27,000-28,000 without them, on the same CPU. A local store's calls take about a
millisecond, so the loop is never held long. Heartbeats waiting together are answered by one
call (``LoopQueue.call_together``), so a fleet of agents that asks for runs at one instant gets
them in one store transaction.

**Over PostgreSQL each lane is a thread pool** (``ThreadPoolExecutor``, awaited through
asyncio's ``run_in_executor``): there a call waits for the network, and one process without
threads stored a third fewer rows. ``history`` shares the ``runs`` pool, whose limit stays
small: one process stores one batch at a time anyway (one interpreter lock), and more threads
would only take CPU from heartbeats. An anyio ``CapacityLimiter`` in front of anyio's threads
cost ~200 us of CPU per call with 30 callers waiting, against ~60 us for the executor.
Heartbeats that arrive while every heartbeat thread is busy are answered together by the next
free one (``ThreadBatches``), as on the event loop. History batches that arrive while both run
writers are busy are stored together by the next free one, in one transaction
(``Controller.on_histories``, a few statements whatever the group's size): with 64 agents on
one process over PostgreSQL, 15,000-16,500 rows/s instead of 9,800-10,800
(``benchmarks/load.py``). On the event loop each batch stays a call of its own: there a group
held the loop for all its batches, and heartbeats waited behind it (their median answer 12-19 ms
became 50 ms) for no more rows.

Lanes carry no context variables, and a call whose request was cancelled before its turn is
not made; those endpoints use neither.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, ParamSpec, TypeVar

__all__ = ["Lanes", "ThreadBatches", "in_lane"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

LaneName = Literal["heartbeats", "runs", "history"]
#: Which lane's calls go first on the event loop (lower first).
_URGENCY: dict[LaneName, int] = {"heartbeats": 0, "runs": 1, "history": 2}
#: Whether a lane's calls waiting together on the event loop are made as one. Not history's:
#: a group there held the loop for all its batches while heartbeats waited (module docstring).
_TOGETHER_ON_LOOP: dict[LaneName, bool] = {"heartbeats": True, "runs": True, "history": False}

# Enough heartbeats at once for a bayes sweep, whose suggestions take 20-200 ms each.
HEARTBEAT_THREADS = 4
# Enough that a PostgreSQL round trip of one write overlaps the work of another.
RUN_WRITE_THREADS = 2
#: The threads of each lane's pool (history shares the run writers').
_THREADS: dict[LaneName, int] = {
    "heartbeats": HEARTBEAT_THREADS,
    "runs": RUN_WRITE_THREADS,
    "history": RUN_WRITE_THREADS,
}


def _pool(threads: int, name: str) -> ThreadPoolExecutor:
    # Its threads start with the first calls; they end when the executor is collected with its
    # app, or at the interpreter's exit once their calls return.
    return ThreadPoolExecutor(threads, thread_name_prefix=f"hypersweep-{name}")


#: A call made for several requests at once: their items in, one answer or error each out.
Together = Callable[[list[Any]], Sequence[Any]]


@dataclass(frozen=True)
class _Waiting:
    """One request's call waiting in a ``LoopQueue``; ``together`` calls take ``item``."""

    call: Callable[[], Any] | None
    together: Together | None
    item: Any
    done: asyncio.Future[Any]


class LoopQueue:
    """Calls made on the event loop one per pass of the loop, the most urgent first.

    A call made ``together`` is made once for every request waiting with it: a burst of
    heartbeats hands out its runs in one store transaction.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[int, int, _Waiting]] = []
        self._order = itertools.count()  # first come, first served within one urgency
        self._scheduled = False

    async def call(self, urgency: int, call: Callable[[], _T]) -> _T:
        result: _T = await self._enqueue(urgency, _Waiting(call, None, None, self._future()))
        return result

    async def call_together(self, urgency: int, together: Together, item: Any) -> Any:
        """``together([item, ...])[i]`` for this request's item, made with every request
        waiting for the same ``together``; an answer that is an exception is raised."""
        return await self._enqueue(urgency, _Waiting(None, together, item, self._future()))

    @staticmethod
    def _future() -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    async def _enqueue(self, urgency: int, waiting: _Waiting) -> Any:
        heapq.heappush(self._waiting, (urgency, next(self._order), waiting))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._next)
        return await waiting.done

    def _next(self) -> None:
        _, _, first = heapq.heappop(self._waiting)
        try:
            if first.together is None:
                self._make(first)
            else:
                self._make_together(first)
        finally:
            if self._waiting:  # after the loop's other work: new requests are read meanwhile
                asyncio.get_running_loop().call_soon(self._next)
            else:
                self._scheduled = False

    @staticmethod
    def _make(waiting: _Waiting) -> None:
        if waiting.done.cancelled() or waiting.call is None:
            return
        try:
            result = waiting.call()
        except Exception as exc:  # the endpoint's error, raised in its request
            waiting.done.set_exception(exc)
        else:
            waiting.done.set_result(result)

    def _make_together(self, first: _Waiting) -> None:
        together = first.together
        assert together is not None
        mates = [entry for entry in self._waiting if entry[2].together == together]
        if mates:
            self._waiting = [entry for entry in self._waiting if entry[2].together != together]
            heapq.heapify(self._waiting)
        batch = [first, *(entry[2] for entry in sorted(mates, key=lambda entry: entry[:2]))]
        batch = [waiting for waiting in batch if not waiting.done.cancelled()]
        if not batch:
            return
        try:
            answers = together([waiting.item for waiting in batch])
        except Exception as exc:
            for waiting in batch:
                waiting.done.set_exception(exc)
            return
        _answer(batch, answers)


class ThreadBatches:
    """``call_together`` on a thread pool: at most ``at_once`` calls at a time; the requests
    that arrive while all are busy wait, and the next call is made for every one waiting.

    Over PostgreSQL a hand-out takes the sweep's row lock and several round trips, so a fleet
    of 64 agents asking at one instant was answered one by one, the last after about a second
    (``benchmarks/load.py --server-timing``); answered together, the idle agents of a sweep get
    their runs in one transaction, as on the event loop.
    """

    def __init__(self, pool: ThreadPoolExecutor, at_once: int) -> None:
        self._pool = pool
        self._at_once = at_once
        self._running = 0
        self._waiting: list[_Waiting] = []

    async def call(self, together: Together, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(None, together, item, loop.create_future())
        self._waiting.append(waiting)
        self._start(loop)
        return await waiting.done

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._waiting and self._running < self._at_once:
            together = self._waiting[0].together
            assert together is not None
            batch = [w for w in self._waiting if w.together == together and not w.done.done()]
            self._waiting = [w for w in self._waiting if w.together != together]
            if not batch:
                continue
            self._running += 1
            job = loop.run_in_executor(self._pool, together, [w.item for w in batch])
            job.add_done_callback(functools.partial(self._finished, loop, batch))

    def _finished(
        self, loop: asyncio.AbstractEventLoop, batch: list[_Waiting], job: asyncio.Future[Any]
    ) -> None:
        self._running -= 1
        try:
            _answer(batch, job.result())
        except Exception as exc:  # the call itself failed: every request of the batch fails
            for waiting in batch:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)
        self._start(loop)


def _alone(together: Together, item: Any) -> Any:
    """``together`` made for one request: its answer, or its error raised."""
    answer = together([item])[0]
    if isinstance(answer, BaseException):
        raise answer
    return answer


def _answer(batch: Sequence[_Waiting], answers: Sequence[Any]) -> None:
    """Each waiting request its own answer; an answer that is an exception is raised in it."""
    for waiting, answer in zip(batch, answers, strict=True):
        if waiting.done.done():  # cancelled meanwhile
            continue
        if isinstance(answer, BaseException):
            waiting.done.set_exception(answer)
        else:
            waiting.done.set_result(answer)


@dataclass(frozen=True)
class Lanes:
    """One app's lanes (``AppContext.lanes``): thread pools, or with ``loop`` the event loop."""

    heartbeats: ThreadPoolExecutor | None = field(
        default_factory=lambda: _pool(HEARTBEAT_THREADS, "heartbeats")
    )
    runs: ThreadPoolExecutor | None = field(
        default_factory=lambda: _pool(RUN_WRITE_THREADS, "runs")
    )
    loop: LoopQueue | None = None
    # lane name -> its ThreadBatches, made at the first call_together on threads
    _batches: dict[LaneName, ThreadBatches] = field(default_factory=dict, repr=False)

    @classmethod
    def inline(cls) -> Lanes:
        """Every lane on the event loop (a local store)."""
        return cls(heartbeats=None, runs=None, loop=LoopQueue())

    async def call(self, name: LaneName, call: Callable[[], _T]) -> _T:
        if self.loop is not None:
            return await self.loop.call(_URGENCY[name], call)
        return await asyncio.get_running_loop().run_in_executor(self._pool(name), call)

    async def call_together(self, name: LaneName, together: Together, item: Any) -> Any:
        """``together([item])[0]``, made for every request waiting with it: on the event loop
        (``LoopQueue.call_together``), or on the lane's threads for those that arrived while
        its threads were busy (``ThreadBatches``). An answer that is an exception is raised."""
        if self.loop is not None:
            if not _TOGETHER_ON_LOOP[name]:
                return await self.loop.call(
                    _URGENCY[name], functools.partial(_alone, together, item)
                )
            return await self.loop.call_together(_URGENCY[name], together, item)
        batches = self._batches.get(name)
        if batches is None:
            pool = self._pool(name)
            assert pool is not None  # no event loop queue: every lane has its pool
            batches = self._batches[name] = ThreadBatches(pool, _THREADS[name])
        return await batches.call(together, item)

    def _pool(self, name: LaneName) -> ThreadPoolExecutor | None:
        return self.heartbeats if name == "heartbeats" else self.runs


def in_lane(name: LaneName) -> Callable[[Callable[_P, _T]], Callable[_P, Awaitable[_T]]]:
    """Make a plain endpoint run in its app's lane ``name``.

    The endpoint must take the app context as ``ctx``. FastAPI reads the parameters and
    annotations of the wrapped function, so the schema and the validation do not change.
    """

    def decorate(endpoint: Callable[_P, _T]) -> Callable[_P, Awaitable[_T]]:
        @functools.wraps(endpoint)
        async def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            lanes: Lanes = getattr(kwargs["ctx"], "lanes")  # noqa: B009 (kwargs are untyped)
            return await lanes.call(name, functools.partial(endpoint, *args, **kwargs))

        return run

    return decorate
