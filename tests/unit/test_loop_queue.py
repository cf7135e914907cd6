"""``server/_lanes.py``'s ``LoopQueue``: calls waiting on the event loop go most urgent first,
one per pass of the loop, and an endpoint's error reaches its own request."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from hypersweep.server._lanes import (
    HEARTBEAT_THREADS,
    RUN_WRITE_THREADS,
    LaneName,
    Lanes,
    LoopQueue,
)

_T = TypeVar("_T")


def _run(main: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """``asyncio.run(main())`` on a thread of its own, whatever loop the test's thread has."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(lambda: asyncio.run(main())).result(timeout=30)


def test_waiting_calls_go_most_urgent_first_and_in_arrival_order_within_one_urgency() -> None:
    made: list[str] = []

    def call(name: str) -> str:
        made.append(name)
        return name.upper()

    async def main() -> list[str]:
        queue = LoopQueue()
        waiting = [
            asyncio.ensure_future(queue.call(urgency, lambda name=name: call(name)))
            for urgency, name in [(2, "batch-1"), (2, "batch-2"), (1, "finish"), (0, "beat")]
        ]
        return list(await asyncio.gather(*waiting))

    answers = _run(main)
    assert made == ["beat", "finish", "batch-1", "batch-2"]
    assert answers == ["BATCH-1", "BATCH-2", "FINISH", "BEAT"]


def test_requests_read_meanwhile_go_before_less_urgent_waiting_calls() -> None:
    made: list[str] = []

    async def main() -> None:
        queue = LoopQueue()
        later: list[asyncio.Future[None]] = []

        def first_batch() -> None:
            made.append("batch-1")
            # a heartbeat read while the first batch is stored: it queues behind it ...
            later.append(asyncio.ensure_future(queue.call(0, lambda: made.append("beat"))))

        waiting = [
            asyncio.ensure_future(queue.call(2, first_batch)),
            asyncio.ensure_future(queue.call(2, lambda: made.append("batch-2"))),
        ]
        await asyncio.gather(*waiting)
        await asyncio.gather(*later)

    _run(main)
    # ... and still goes before the batch that waited longer
    assert made == ["batch-1", "beat", "batch-2"]


def test_an_endpoint_error_is_raised_in_its_own_request_and_the_queue_goes_on() -> None:
    def fail() -> None:
        raise ValueError("bad batch")

    async def main() -> str:
        lanes = Lanes.inline()
        failing = asyncio.ensure_future(lanes.call("history", fail))
        fine = asyncio.ensure_future(lanes.call("history", lambda: "stored"))
        with pytest.raises(ValueError, match="bad batch"):
            await failing
        return await fine

    assert _run(main) == "stored"


def test_a_call_whose_request_was_cancelled_before_its_turn_is_not_made() -> None:
    made: list[str] = []

    async def main() -> None:
        queue = LoopQueue()
        gone = asyncio.ensure_future(queue.call(0, lambda: made.append("gone")))
        kept = asyncio.ensure_future(queue.call(1, lambda: made.append("kept")))
        await asyncio.sleep(0)  # both are queued
        gone.cancel()
        await kept

    _run(main)
    assert made == ["kept"]


def test_calls_made_together_take_every_waiting_mate_and_answer_each_its_own() -> None:
    batches: list[list[str]] = []

    def together(items: list[str]) -> list[object]:
        batches.append(items)
        return [ValueError(item) if item == "bad" else item.upper() for item in items]

    async def main() -> list[object]:
        queue = LoopQueue()
        waiting = [
            asyncio.ensure_future(queue.call(1, lambda: "finish")),
            *(asyncio.ensure_future(queue.call_together(0, together, item)) for item in "ab"),
            asyncio.ensure_future(queue.call_together(0, together, "bad")),
        ]
        return list(await asyncio.gather(*waiting, return_exceptions=True))

    finish, a, b, bad = _run(main)
    assert batches == [["a", "b", "bad"]]  # one call for the three, before the finish
    assert (finish, a, b) == ("finish", "A", "B")
    assert isinstance(bad, ValueError)


def test_a_call_made_together_on_threads_alone_is_made_at_once() -> None:
    async def main() -> object:
        lanes = Lanes()  # thread pools, as over PostgreSQL
        return await lanes.call_together("heartbeats", lambda items: [len(items)], "x")

    assert _run(main) == 1


@pytest.mark.parametrize(
    ("lane", "threads"), [("heartbeats", HEARTBEAT_THREADS), ("history", RUN_WRITE_THREADS)]
)
def test_calls_made_together_on_threads_while_all_are_busy_are_made_together(
    lane: LaneName, threads: int
) -> None:
    # history waits for one of the run writers it shares with a run's start and finish
    release = threading.Event()
    batches: list[list[str]] = []

    def together(items: list[str]) -> list[object]:
        batches.append(items)
        if items[0].startswith("busy"):
            release.wait(10)
        return [ValueError(item) if item == "bad" else item.upper() for item in items]

    async def main() -> list[object]:
        lanes = Lanes()
        busy = [f"busy{i}" for i in range(threads)]
        first = [asyncio.ensure_future(lanes.call_together(lane, together, b)) for b in busy]
        while len(batches) < threads:  # every thread holds one call
            await asyncio.sleep(0.01)
        later = [
            asyncio.ensure_future(lanes.call_together(lane, together, item))
            for item in ("a", "bad", "b")
        ]
        await asyncio.sleep(0.05)
        assert len(batches) == threads  # no call more while all are busy
        release.set()
        return list(await asyncio.gather(*first, *later, return_exceptions=True))

    answers = _run(main)
    assert sorted(map(len, batches)) == [1] * threads + [3]
    assert batches[-1] == ["a", "bad", "b"]  # the three that waited: one call, in order
    assert answers[:threads] == [f"BUSY{i}" for i in range(threads)]
    a, bad, b = answers[threads:]
    assert (a, b) == ("A", "B") and isinstance(bad, ValueError)


def test_a_failed_call_on_threads_fails_each_request_of_its_batch_and_not_the_next() -> None:
    calls: list[list[str]] = []

    def together(items: list[str]) -> list[object]:
        calls.append(items)
        if "boom" in items:
            raise RuntimeError("the store failed")
        return [item.upper() for item in items]

    async def main() -> list[object]:
        lanes = Lanes()
        failed = await asyncio.gather(
            lanes.call_together("heartbeats", together, "boom"), return_exceptions=True
        )
        return [*failed, await lanes.call_together("heartbeats", together, "next")]

    failed, after = _run(main)
    assert isinstance(failed, RuntimeError) and after == "NEXT"


def test_history_on_the_event_loop_is_stored_one_batch_a_call() -> None:
    # A group would hold the loop for every batch in it while heartbeats wait.
    batches: list[list[str]] = []

    def together(items: list[str]) -> list[object]:
        batches.append(items)
        return [ValueError(item) if item == "bad" else item.upper() for item in items]

    async def main() -> list[object]:
        lanes = Lanes.inline()
        waiting = [lanes.call_together("history", together, item) for item in ("a", "bad", "b")]
        return list(await asyncio.gather(*waiting, return_exceptions=True))

    a, bad, b = _run(main)
    assert batches == [["a"], ["bad"], ["b"]]
    assert (a, b) == ("A", "B") and isinstance(bad, ValueError)
