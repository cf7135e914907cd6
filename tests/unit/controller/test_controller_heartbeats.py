"""``Controller.heartbeats``: agents that heartbeat together are answered as each would be
alone, and the idle ones of a sweep get their runs in one store transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from _controller_harness import Harness

from hypersweep.controller import AssignRun, Exit
from hypersweep.errors import NotFoundError
from hypersweep.store import MakeParams, RunRecord, SweepState

GRID_5 = {"method": "grid", "parameters": {"a": {"values": [1, 2, 3, 4, 5]}}}


def _spy_on_assign_runs(h: Harness) -> list[int]:
    """How many agents each ``assign_runs`` call of the harness's store was asked for."""
    calls: list[int] = []
    original = h.store.assign_runs

    def assign_runs(
        sweep_id: str, agent_ids: Any, make_params: MakeParams, now: datetime
    ) -> list[RunRecord]:
        calls.append(len(agent_ids))
        return original(sweep_id, agent_ids, make_params, now)

    h.store.assign_runs = assign_runs  # type: ignore[method-assign]
    return calls


def test_idle_agents_of_a_sweep_get_distinct_runs_in_one_assignment(h: Harness) -> None:
    sweep = h.sweep(GRID_5)
    agents = [h.agent(sweep) for _ in range(3)]
    calls = _spy_on_assign_runs(h)
    answers = h.controller.heartbeats([(agent, [], []) for agent in agents], h.clock.advance(1))
    assert calls == [3]
    runs = [answer[0] for answer in answers if isinstance(answer, list)]
    assert all(isinstance(command, AssignRun) for command in runs)
    assigned = [
        h.store.get_run(command.run_id) for command in runs if isinstance(command, AssignRun)
    ]
    assert [run.agent_id for run in assigned] == agents
    assert sorted(run.params["a"] for run in assigned) == [1, 2, 3]


def test_when_the_grid_runs_out_in_a_burst_the_rest_are_told_to_exit(h: Harness) -> None:
    sweep = h.sweep(GRID_5)
    agents = [h.agent(sweep) for _ in range(7)]
    answers = h.controller.heartbeats([(agent, [], []) for agent in agents], h.clock.advance(1))
    kinds = [type(answer[0]).__name__ for answer in answers if isinstance(answer, list)]
    assert kinds == ["AssignRun"] * 5 + ["Exit"] * 2
    assert h.store.get_sweep(sweep).state is SweepState.FINISHED
    assert len(h.store.list_runs(sweep)) == 5


def test_an_unknown_agent_gets_its_error_and_the_others_their_runs(h: Harness) -> None:
    sweep = h.sweep(GRID_5)
    agent = h.agent(sweep)
    lost, served = h.controller.heartbeats(
        [("no-such-agent", [], []), (agent, [], [])], h.clock.advance(1)
    )
    assert isinstance(lost, NotFoundError)
    assert isinstance(served, list) and isinstance(served[0], AssignRun)


def test_a_repeated_heartbeat_in_one_burst_gets_the_same_run_again(h: Harness) -> None:
    sweep = h.sweep(GRID_5)
    agent = h.agent(sweep)
    first, again = h.controller.heartbeats([(agent, [], []), (agent, [], [])], h.clock.advance(1))
    assert isinstance(first, list) and isinstance(again, list)
    assert isinstance(first[0], AssignRun) and isinstance(again[0], AssignRun)
    assert again[0].run_id == first[0].run_id  # offered again, as a lost answer is
    assert len(h.store.list_runs(sweep)) == 1


def test_heartbeat_alone_raises_what_heartbeats_returns(h: Harness) -> None:
    sweep = h.sweep(GRID_5)
    h.store.set_sweep_state(sweep, SweepState.FINISHED, h.clock())
    (command,) = h.beat(h.agent(sweep))
    assert isinstance(command, Exit)
    with pytest.raises(NotFoundError, match="no-such-agent"):
        h.beat("no-such-agent")


RANDOM = {"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}}


def _count_reads(h: Harness) -> dict[str, int]:
    """How many times the controller asks the harness's store for a sweep and for a sweep's
    runs (the memory store's own ``assign_runs`` lists runs too; those are not counted)."""
    counts = {"get_sweep": 0, "list_runs": 0}
    depth = [0]  # spied calls in progress: only the outermost is the controller's

    def spy(name: str) -> None:
        original = getattr(h.store, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            if name in counts and depth[0] == 0:
                counts[name] += 1
            depth[0] += 1
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1

        setattr(h.store, name, counted)

    for name in (*counts, "assign_runs"):
        spy(name)
    return counts


def test_a_burst_reads_each_sweep_and_its_agents_runs_once(h: Harness) -> None:
    sweeps = [h.sweep(RANDOM), h.sweep(GRID_5)]
    busy, stopped, idle = (h.agent(sweeps[0]) for _ in range(3))
    other = h.agent(sweeps[1])
    busy_run, stopped_run = h.take(busy).run_id, h.take(stopped).run_id
    h.store.update_run(stopped_run, h.clock(), stopped=True, stop_reason="hyperband: worse")
    reads = _count_reads(h)
    answers = h.controller.heartbeats(
        [(busy, [busy_run], []), (stopped, [stopped_run], []), (idle, [], []), (other, [], [])],
        h.clock.advance(1),
    )
    assert reads == {"get_sweep": 2, "list_runs": 2}  # one of each per sweep, not per agent
    assert answers[0] == []
    assert [type(c).__name__ for c in answers[1]] == ["StopRun"]  # type: ignore[union-attr]
    assert [type(c).__name__ for c in answers[2]] == ["AssignRun"]  # type: ignore[union-attr]
    assert [type(c).__name__ for c in answers[3]] == ["AssignRun"]  # type: ignore[union-attr]
    for agent, answer in zip((idle, other), answers[2:], strict=True):
        assert isinstance(answer, list) and isinstance(answer[0], AssignRun)
        assert h.store.get_run(answer[0].run_id).agent_id == agent


def test_a_run_ended_in_a_burst_is_recorded_before_its_agent_gets_the_next(h: Harness) -> None:
    sweep = h.sweep(GRID_5)
    first, second = h.agent(sweep), h.agent(sweep)
    done = h.take(first).run_id
    answers = h.controller.heartbeats([(first, [], [(done, 0)]), (second, [], [])], h.clock())
    assert h.store.get_run(done).state.value == "finished"
    assigned = [a[0] for a in answers if isinstance(a, list) and isinstance(a[0], AssignRun)]
    assert len(assigned) == 2 and done not in {command.run_id for command in assigned}
