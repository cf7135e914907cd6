"""``retry:`` (our extension): a run that ended crashed (or as the policy says) runs again with
the same parameters, as a new attempt of the same logical run."""

from __future__ import annotations

from typing import Any

from _controller_harness import Harness

from hypersweep.controller import AssignRun, Exit, attempt_of, root_of
from hypersweep.domain import RunState
from hypersweep.store import SweepState


def grid(values: list[Any], **retry: Any) -> dict[str, Any]:
    return {
        "method": "grid",
        "metric": {"name": "loss"},
        "parameters": {"x": {"values": values}},
        "retry": retry,
    }


def test_a_crashed_grid_point_is_run_again_and_the_sweep_ends_with_every_point_finished(
    h: Harness,
) -> None:
    sweep = h.sweep(grid([1, 2], max_retries=2))
    agent = h.agent(sweep)
    first = h.take(agent)
    h.controller.start_run(first.run_id, h.clock())
    # the agent no longer reports it: crashed; the same point comes back as attempt 2
    (again,) = h.beat(agent, [])
    assert isinstance(again, AssignRun)
    assert again.params == first.params
    retried = h.store.get_run(again.run_id)
    assert (root_of(retried), attempt_of(retried)) == (first.run_id, 2)
    h.run_to_end(again.run_id, [{"loss": 1.0}])
    h.run_to_end(h.take(agent).run_id, [{"loss": 2.0}])
    (done,) = h.beat(agent)
    assert isinstance(done, Exit)
    states = sorted((run.params["x"], run.state.value) for run in h.store.list_runs(sweep))
    assert states == [(1, "crashed"), (1, "finished"), (2, "finished")]
    assert h.store.get_sweep(sweep).state is SweepState.FINISHED


def test_retries_stop_at_max_retries(h: Harness) -> None:
    sweep = h.sweep(grid([1], max_retries=2))
    agent = h.agent(sweep)
    run = h.take(agent).run_id
    for _ in range(2):  # the first run and its first re-run crash; each brings the next
        h.controller.start_run(run, h.clock())
        (command,) = h.beat(agent, [])
        assert isinstance(command, AssignRun)
        run = command.run_id
    h.controller.start_run(run, h.clock())
    (last,) = h.beat(agent, [])  # the second re-run crashes too: no third
    assert isinstance(last, Exit)
    runs = h.store.list_runs(sweep)
    assert [attempt_of(run) for run in runs] == [1, 2, 3]
    assert {run.state for run in runs} == {RunState.CRASHED}
    assert h.store.get_sweep(sweep).state is SweepState.FINISHED


def test_only_the_listed_states_are_retried(h: Harness) -> None:
    sweep = h.sweep(grid([1, 2], max_retries=1, on=["failed"]))
    agent = h.agent(sweep)
    h.run_to_end(h.take(agent).run_id, [{"loss": 1.0}], exit_code=1)  # failed: retried
    retry = h.take(agent)
    assert retry.params == {"x": 1}
    h.run_to_end(retry.run_id, [{"loss": 1.0}])
    crashed = h.take(agent).run_id
    h.controller.start_run(crashed, h.clock())
    (last,) = h.beat(agent, [])  # crashed is not in `on`: the sweep is done
    assert isinstance(last, Exit)


def test_an_exhausted_grid_waits_while_a_run_that_may_need_a_retry_is_alive(h: Harness) -> None:
    sweep = h.sweep(grid([1], max_retries=1))
    busy, idle = h.agent(sweep), h.agent(sweep)
    run = h.take(busy).run_id
    h.controller.start_run(run, h.clock())
    assert h.beat(idle) == []  # no exit yet: the running run may crash
    assert h.store.get_sweep(sweep).state is SweepState.RUNNING
    (again,) = h.beat(busy, [])  # it crashed; its agent, idle now, gets the re-run
    assert isinstance(again, AssignRun)
    assert again.params == {"x": 1}


def test_a_preempted_run_that_ran_again_is_not_in_flight_for_the_model(h: Harness) -> None:
    sweep = h.sweep(
        {
            "method": "bayes",
            "metric": {"name": "loss"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}},
        }
    )
    agent = h.agent(sweep)

    def loss(run_id: str) -> dict[str, float]:
        params = h.store.get_run(run_id).params
        return {"loss": (params["x"] - 0.3) ** 2 + (params["y"] - 0.7) ** 2}

    for _ in range(12):
        run = h.take(agent).run_id
        h.run_to_end(run, [loss(run)])
    preempted = h.take(agent).run_id
    h.controller.start_run(preempted, h.clock())
    h.controller.finish_run(preempted, h.clock(), exit_code=-15, state="preempted")
    again = h.take(agent)  # the same parameters, as attempt 2
    assert (again.params, root_of(h.store.get_run(again.run_id))) == (
        h.store.get_run(preempted).params,
        preempted,
    )
    h.run_to_end(again.run_id, [loss(again.run_id)])
    info = h.store.get_run(h.take(agent).run_id).search_info
    assert info["phase"] == "model"
    # the attempt's re-run finished: nothing is in flight, and the point is observed once
    assert (info["n_fantasised"], info["n_observations"]) == (0, 13)
