"""The controller's side of preemption: a preempted end is recorded ``preempted`` with its
reason, and the parameters run again (spec §8.2), bounded, before ``run_cap`` (spec §4.6).

(Here, next to the agent's side, rather than in tests/unit/controller: one feature, one place.)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from hypersweep.controller import AssignRun, Controller, Exit, attempt_of, create_sweep, root_of
from hypersweep.controller._retry import PREEMPTED_RETRIES
from hypersweep.domain import RunState
from hypersweep.errors import ConflictError
from hypersweep.store import MemoryStore, SweepState

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


class World:
    """A controller over a memory store, a clock that ticks a second per call, and one agent."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.store = MemoryStore()
        self.controller = Controller(self.store)
        self.ticks = 0
        sweep, _ = create_sweep(self.store, config, self.now(), project="p")
        self.sweep = sweep.id
        self.agent = self.store.register_agent(self.sweep, "h", 1, self.now()).id

    def now(self) -> datetime:
        self.ticks += 1
        return T0 + timedelta(seconds=self.ticks)

    def beat(self, ended: list[tuple[str, int]] | None = None) -> list[Any]:
        return self.controller.heartbeat(self.agent, [], self.now(), ended=ended or [])

    def take(self) -> str:
        (command,) = self.beat()
        assert isinstance(command, AssignRun), command
        self.controller.start_run(command.run_id, self.now())
        return command.run_id

    def preempt(self, run_id: str, code: int = -15) -> Any:
        return self.controller.finish_run(run_id, self.now(), exit_code=code, state="preempted")

    def finish(self, run_id: str, code: int = 0) -> None:
        self.controller.finish_run(run_id, self.now(), exit_code=code)

    def states(self) -> list[tuple[Any, str]]:
        return [(run.params["x"], run.state.value) for run in self.store.list_runs(self.sweep)]


def grid(values: list[Any], **extra: Any) -> dict[str, Any]:
    return {"method": "grid", "parameters": {"x": {"values": values}}, **extra}


def test_a_preempted_end_lands_in_preempted_with_the_reason_and_code() -> None:
    world = World(grid([1]))
    run = world.take()
    record = world.preempt(run)
    assert record.state is RunState.PREEMPTED
    assert record.exit_code == -15
    assert record.stop_reason == "preempted: SIGTERM from outside the agent (exit code -15)"
    assert world.preempt(run) == world.store.get_run(run)  # an agent's retry: unchanged


def test_a_run_preempted_before_its_start_was_recorded_is_preempted_too() -> None:
    world = World(grid([1]))
    (command,) = world.beat()
    assert world.preempt(command.run_id, 143).state is RunState.PREEMPTED


def test_a_stopped_run_reported_preempted_ends_killed() -> None:
    world = World(grid([1]))
    run = world.take()
    world.store.update_run(run, world.now(), stopped=True, stop_reason="hyperband")
    assert world.preempt(run).state is RunState.KILLED


def test_a_bare_sigterm_exit_code_still_means_killed() -> None:
    # only the agent can tell a preemption from its own SIGTERM, so it must say so
    world = World(grid([1]))
    run = world.take()
    world.finish(run, -15)
    assert world.store.get_run(run).state is RunState.KILLED


def test_an_ended_run_cannot_become_preempted() -> None:
    world = World(grid([1]))
    run = world.take()
    world.finish(run, 1)
    with pytest.raises(ConflictError, match="already ended failed"):
        world.preempt(run)


def test_without_retry_a_preempted_point_runs_again_then_the_next() -> None:
    world = World(grid([1, 2]))
    first = world.take()
    world.preempt(first)
    again = world.take()
    rerun = world.store.get_run(again)
    assert (rerun.params, root_of(rerun), attempt_of(rerun)) == ({"x": 1}, first, 2)
    world.finish(again)
    world.finish(world.take())
    (done,) = world.beat()
    assert isinstance(done, Exit)
    assert world.states() == [(1, "preempted"), (1, "finished"), (2, "finished")]


def test_without_retry_preempted_reruns_are_bounded() -> None:
    world = World(grid([1]))
    for _ in range(PREEMPTED_RETRIES + 1):
        world.preempt(world.take())
    (done,) = world.beat()
    assert isinstance(done, Exit)
    assert world.states() == [(1, "preempted")] * (PREEMPTED_RETRIES + 1)


def test_retry_listing_preempted_sets_the_bound() -> None:
    world = World(grid([1, 2], retry={"max_retries": 1, "on": ["preempted"]}))
    world.preempt(world.take())
    world.preempt(world.take())  # the one re-run is preempted too: no third attempt
    world.finish(world.take())
    (done,) = world.beat()
    assert isinstance(done, Exit)
    assert world.states() == [(1, "preempted"), (1, "preempted"), (2, "finished")]


def test_retry_not_listing_preempted_leaves_the_default_rerun() -> None:
    world = World(grid([1], retry={"max_retries": 1, "on": ["crashed"]}))
    world.preempt(world.take())
    world.finish(world.take())
    assert world.states() == [(1, "preempted"), (1, "finished")]


def test_a_preempted_run_is_rerun_at_run_cap_and_counts_once() -> None:
    world = World({"method": "random", "parameters": {"x": {"values": [1]}}, "run_cap": 2})
    world.finish(world.take())
    world.preempt(world.take())
    world.finish(world.take())  # the re-run: the same logical run, not a third one
    (done,) = world.beat()
    assert isinstance(done, Exit)
    assert "run_cap of 2" in done.reason
    assert [attempt_of(run) for run in world.store.list_runs(world.sweep)] == [1, 1, 2]
    assert world.store.get_sweep(world.sweep).state is SweepState.FINISHED
