"""History batches that reach the server together are stored by one store call, and each gets
its own answer: its stop order, or the error it alone met."""

from __future__ import annotations

from typing import Any

from _controller_harness import Harness

from hypersweep.errors import NotFoundError
from hypersweep.store import HistoryWrite

HYPERBAND = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"values": [1, 2, 3, 4]}},
    "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
}


def test_batches_stored_together_are_each_answered_and_judged(h: Harness) -> None:
    sweep = h.sweep(HYPERBAND)
    first, second = h.agent(sweep), h.agent(sweep, host="h2")
    h.run_to_end(h.take(first).run_id, [{"loss": 1.0}, {"loss": 0.1}])
    h.run_to_end(h.take(first).run_id, [{"loss": 1.0}, {"loss": 0.2}])
    bad, fine = h.take(first).run_id, h.take(second).run_id
    for run in (bad, fine):
        h.controller.start_run(run, h.clock())
    calls: list[list[Any]] = []
    log_histories = h.store.log_histories

    def counting(writes: list[HistoryWrite], now: Any) -> Any:
        calls.append([write.run_id for write in writes])
        return log_histories(writes, now)

    h.store.log_histories = counting  # type: ignore[method-assign]
    listed: list[str] = []
    list_runs = h.store.list_runs

    def listing(sweep_id: str, *args: Any, **kwargs: Any) -> Any:
        listed.append(sweep_id)
        return list_runs(sweep_id, *args, **kwargs)

    h.store.list_runs = listing  # type: ignore[method-assign]
    answers = h.controller.on_histories(
        [
            HistoryWrite(bad, [(0, {"loss": 9.0}), (1, {"loss": 5.0})], batch=1),
            HistoryWrite("no-such-run", [(0, {"loss": 1.0})], batch=1),
            HistoryWrite(fine, [(0, {"loss": 1.0}), (1, {"loss": 0.05})], 1, {"note": "x"}),
        ],
        h.clock.advance(1),
    )
    assert calls == [[bad, "no-such-run", fine]]  # one store call for the three
    assert listed == [sweep]  # the sweep's rule applied once for its two batches
    stopped, missing, kept = answers
    # band 2 values [0.1, 0.2, 5.0, 0.05] -> the bad run is above the threshold
    assert isinstance(stopped, tuple) and stopped[0] is True
    assert stopped[1] is not None and "threshold" in stopped[1]
    assert isinstance(missing, NotFoundError)
    assert kept == (False, None)
    assert h.store.get_run(bad).stopped
    assert dict(h.store.get_run(fine).summary) == {"loss": 0.05, "note": "x"}
    assert [row.step for row in h.store.history(fine)] == [0, 1]
