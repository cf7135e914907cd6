"""Two controllers over one store stand for two server processes on one database: each must see
the history the other stored when it decides what to stop (issue 7: several workers)."""

from __future__ import annotations

from _controller_harness import Harness

from hypersweep.controller import Controller

HYPERBAND = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"values": [1, 2, 3, 4]}},
    "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
}


def test_a_stop_decision_sees_rows_another_process_stored(h: Harness) -> None:
    other = Controller(h.store)  # the second worker
    sweep = h.sweep(HYPERBAND)
    agent = h.agent(sweep)
    good = h.take(agent).run_id
    h.controller.start_run(good, h.clock())
    # worker 1 caches the sweep's series while the good run has one row
    h.controller.on_history(good, [(0, {"loss": 1.0})], None, h.clock())
    # worker 2 stores the good runs' second rows: worker 1 has not seen them
    other.on_history(good, [(1, {"loss": 0.1})], None, h.clock())
    h.controller.finish_run(good, h.clock(), exit_code=0)
    second = h.take(agent).run_id
    h.controller.start_run(second, h.clock())
    other.on_history(second, [(0, {"loss": 1.0}), (1, {"loss": 0.2})], None, h.clock())
    other.finish_run(second, h.clock(), exit_code=0)
    bad = h.take(agent).run_id
    h.controller.start_run(bad, h.clock())
    # band 2 values [0.1, 0.2, 5.0] -> threshold 0.2: only a worker that sees worker 2's rows
    # for the good run (0.1, not missing) and the second run can stop the bad one
    stop, reason = h.controller.on_history(
        bad, [(0, {"loss": 9.0}), (1, {"loss": 5.0})], None, h.clock()
    )
    assert stop
    assert reason is not None and "threshold 0.2" in reason


def test_one_process_reads_each_history_once(h: Harness) -> None:
    reads: list[str] = []
    original = h.store.history

    def counting(run_id: str, keys: object = None) -> object:
        reads.append(run_id)
        return original(run_id, keys=keys)  # type: ignore[arg-type]

    h.store.history = counting  # type: ignore[method-assign]
    sweep = h.sweep(HYPERBAND)
    agent = h.agent(sweep)
    run = h.take(agent).run_id
    h.controller.start_run(run, h.clock())
    for step in range(20):
        h.controller.on_history(run, [(step, {"loss": 1.0 / (step + 1)})], None, h.clock())
    assert reads.count(run) <= 1  # later batches come from the cache
