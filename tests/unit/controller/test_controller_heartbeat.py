"""The heartbeat rules (spec §7.1.5, §8.1, §4.6): what an agent is told, and what it changes."""

from __future__ import annotations

from typing import Any

import pytest
from _controller_harness import Harness

from hypersweep.controller import AssignRun, Exit, StopRun
from hypersweep.domain import RunState
from hypersweep.store import AgentState, SweepState

GRID_12 = {
    "method": "grid",
    "parameters": {"a": {"values": [1, 2, 3]}, "b": {"values": [1, 2, 3, 4]}},
}
RANDOM = {
    "method": "random",
    "metric": {"name": "loss"},
    "parameters": {"x": {"min": 0.0, "max": 1.0}},
}


def test_a_grid_of_12_goes_to_3_agents_as_12_distinct_points_then_exit(h: Harness) -> None:
    sweep = h.sweep(GRID_12)
    agents = [h.agent(sweep, f"host{i}") for i in range(3)]
    seen: list[tuple[Any, Any]] = []
    for _ in range(4):
        taken = [h.take(agent) for agent in agents]  # three runs alive at once
        assert h.store.get_sweep(sweep).state is SweepState.RUNNING
        for command in taken:
            seen.append((command.params["a"], command.params["b"]))
            assert command.sweep_id == sweep
            assert command.project == "p"
            h.run_to_end(command.run_id, [{"loss": 1.0}])
    assert len(set(seen)) == 12
    reasons = []
    for agent in agents:
        (command,) = h.beat(agent)
        assert isinstance(command, Exit)
        assert not command.kill
        reasons.append(command.reason)
    # the agent that finds the grid exhausted is told so; the others find the sweep finished
    assert "every grid point" in reasons[0]
    assert reasons[1:] == [f"sweep {sweep} is finished"] * 2
    assert h.store.get_sweep(sweep).state is SweepState.FINISHED
    assert h.store.get_agent(agents[0]).state is AgentState.FINISHED


def test_the_first_heartbeat_starts_a_pending_sweep(h: Harness) -> None:
    sweep = h.sweep(GRID_12)
    assert h.store.get_sweep(sweep).state is SweepState.PENDING
    h.take(h.agent(sweep))
    assert h.store.get_sweep(sweep).state is SweepState.RUNNING


def test_an_agent_with_a_run_alive_gets_no_new_run(h: Harness) -> None:
    sweep = h.sweep(GRID_12)
    agent = h.agent(sweep)
    run = h.take(agent).run_id
    h.controller.start_run(run, h.clock())
    assert h.beat(agent, [run]) == []
    assert len(h.store.list_runs(sweep)) == 1


def test_run_cap_skips_runs_that_ended_crashed_or_killed_without_summary(h: Harness) -> None:
    sweep = h.sweep({**RANDOM, "run_cap": 3})
    agent = h.agent(sweep)
    h.run_to_end(h.take(agent).run_id, [{"loss": 0.5}])  # counts (1)
    silent = h.take(agent).run_id  # the agent drops it: crashed, empty summary, not counted
    h.controller.start_run(silent, h.clock())
    empty_kill = h.take(agent).run_id  # killed with no metrics: not counted
    assert h.store.get_run(silent).state is RunState.CRASHED
    h.controller.start_run(empty_kill, h.clock())
    h.controller.finish_run(empty_kill, h.clock(), exit_code=-15)
    assert h.store.get_run(empty_kill).state is RunState.KILLED
    logged = h.take(agent).run_id  # logs, then crashes: it has metrics, so it counts (2)
    h.controller.start_run(logged, h.clock())
    h.controller.on_history(logged, [(0, {"loss": 0.7})], None, h.clock())
    h.run_to_end(h.take(agent).run_id, [{"loss": 0.4}])  # the crash is seen here; counts (3)
    assert h.store.get_run(logged).state is RunState.CRASHED
    (command,) = h.beat(agent)
    assert isinstance(command, Exit)
    assert "run_cap of 3" in command.reason
    assert len(h.store.list_runs(sweep)) == 5
    assert h.store.get_sweep(sweep).state is SweepState.FINISHED


def test_run_cap_counts_the_runs_the_sweep_created_not_its_prior_runs(h: Harness) -> None:
    sweep = h.sweep({**RANDOM, "run_cap": 2})
    for loss in (0.5, 0.4):  # seeded from before the sweep (spec §11): not created by it
        h.controller.import_run(sweep, h.clock(), params={}, summary={"loss": loss}, prior=True)
    h.controller.import_run(sweep, h.clock(), params={}, summary={"loss": 0.3})  # synced: counts
    agent = h.agent(sweep)
    h.run_to_end(h.take(agent).run_id, [{"loss": 0.2}])
    (command,) = h.beat(agent)
    assert isinstance(command, Exit)
    assert "run_cap of 2" in command.reason
    assert len(h.store.list_runs(sweep)) == 4


def test_a_run_reaching_the_target_finishes_the_sweep(h: Harness) -> None:
    sweep = h.sweep({**RANDOM, "metric": {"name": "acc", "goal": "maximize", "target": 0.9}})
    agent, other = h.agent(sweep), h.agent(sweep)
    h.run_to_end(h.take(agent).run_id, [{"acc": 0.5}])
    busy = h.take(other).run_id
    h.controller.start_run(busy, h.clock())
    assert h.store.get_sweep(sweep).state is SweepState.RUNNING
    h.run_to_end(h.take(agent).run_id, [{"acc": 0.95}])
    assert h.beat(other, [busy]) == []  # a running run continues to completion
    assert h.store.get_sweep(sweep).state is SweepState.FINISHED
    (command,) = h.beat(agent)
    assert isinstance(command, Exit)


@pytest.mark.parametrize(
    ("goal", "values"), [("minimize", [0.5, 0.05, 0.2]), ("maximize", [0.5, 0.95, 0.6])]
)
def test_a_value_logged_on_the_way_reaches_the_target_though_the_summary_moved_on(
    h: Harness, goal: str, values: list[float]
) -> None:
    target = 0.1 if goal == "minimize" else 0.9
    sweep = h.sweep({**RANDOM, "metric": {"name": "loss", "goal": goal, "target": target}})
    agent, other = h.agent(sweep), h.agent(sweep)
    run, busy = h.take(agent).run_id, h.take(other).run_id
    h.controller.start_run(busy, h.clock())
    h.controller.start_run(run, h.clock())
    h.controller.on_history(run, [(0, {"loss": values[0]})], None, h.clock())
    assert h.store.get_sweep(sweep).state is SweepState.RUNNING
    h.controller.on_history(
        run, [(1, {"loss": values[1]}), (2, {"loss": values[2]})], None, h.clock()
    )
    assert h.store.get_run(run).summary["loss"] == values[2]  # the last value, as in W&B
    assert h.store.get_sweep(sweep).state is SweepState.FINISHED
    h.controller.finish_run(run, h.clock(), exit_code=0)
    assert h.beat(other, [busy]) == []  # a running run continues to completion
    (command,) = h.beat(agent)
    assert isinstance(command, Exit)


def test_a_run_the_agent_no_longer_reports_is_crashed_and_the_agent_gets_another(
    h: Harness,
) -> None:
    sweep = h.sweep(GRID_12)
    agent = h.agent(sweep)
    run = h.take(agent).run_id
    h.controller.start_run(run, h.clock())
    (command,) = h.beat(agent, [])
    assert isinstance(command, AssignRun)
    assert command.run_id != run
    crashed = h.store.get_run(run)
    assert crashed.state is RunState.CRASHED
    assert crashed.stop_reason is not None
    assert "stopped reporting it alive" in crashed.stop_reason


def test_a_pending_run_the_agent_never_received_is_offered_again_for_one_timeout(
    h: Harness,
) -> None:
    sweep = h.sweep(GRID_12)
    agent = h.agent(sweep)
    first = h.take(agent)
    h.clock.advance(30)
    (again,) = h.beat(agent, [])
    assert isinstance(again, AssignRun)
    assert (again.run_id, again.params) == (first.run_id, first.params)
    assert h.store.get_run(first.run_id).state is RunState.PENDING
    h.clock.advance(31)  # past the agent timeout since it was handed out: the agent drops it
    (other,) = h.beat(agent, [])
    assert isinstance(other, AssignRun)
    assert other.run_id != first.run_id
    dropped = h.store.get_run(first.run_id)
    assert dropped.state is RunState.CRASHED
    assert dropped.stop_reason is not None and "stopped reporting it alive" in dropped.stop_reason


def test_a_canceled_sweep_offers_no_unreceived_run_again(h: Harness) -> None:
    sweep = h.sweep(GRID_12)
    agent = h.agent(sweep)
    h.take(agent)
    h.store.set_sweep_state(sweep, SweepState.CANCELED, h.clock())
    (command,) = h.beat(agent, [])
    assert isinstance(command, Exit) and command.kill


def test_a_run_whose_agent_is_silent_for_the_timeout_is_crashed(h: Harness) -> None:
    sweep = h.sweep(GRID_12)
    silent, busy = h.agent(sweep), h.agent(sweep)
    lost_run = h.take(silent).run_id
    run = h.take(busy).run_id
    h.clock.advance(50)
    h.beat(busy, [run])
    assert h.store.get_run(lost_run).state is RunState.PENDING
    h.clock.advance(20)
    h.beat(busy, [run])
    assert h.store.get_run(lost_run).state is RunState.CRASHED
    assert h.store.get_agent(silent).state is AgentState.LOST
    assert h.store.get_run(run).state is RunState.PENDING


def test_a_run_left_preempting_ends_preempted_at_its_agents_next_heartbeat(h: Harness) -> None:
    # a server stopped inside the two-step move running -> preempting -> preempted
    sweep = h.sweep(GRID_12)
    agent = h.agent(sweep)
    run = h.take(agent).run_id
    h.controller.start_run(run, h.clock())
    h.store.update_run(run, h.clock(), state=RunState.PREEMPTING, exit_code=-15)
    h.beat(agent, [])
    left = h.store.get_run(run)
    assert left.state is RunState.PREEMPTED
    assert left.stop_reason is not None and left.stop_reason.startswith("preempted")


def test_a_run_left_preempting_by_a_lost_agent_ends_preempted_too(h: Harness) -> None:
    sweep = h.sweep(GRID_12)
    agent = h.agent(sweep)
    run = h.take(agent).run_id
    h.controller.start_run(run, h.clock())
    h.store.update_run(run, h.clock(), state=RunState.PREEMPTING)
    assert h.controller.reap(h.clock.advance(70)) == 1
    assert h.store.get_run(run).state is RunState.PREEMPTED


def test_reap_finds_a_lost_agent_with_no_other_agent_heartbeating(h: Harness) -> None:
    sweep = h.sweep(GRID_12)
    only = h.agent(sweep)
    run = h.take(only).run_id
    assert h.controller.reap(h.clock.advance(30)) == 0
    assert h.store.get_run(run).state is RunState.PENDING
    assert h.controller.reap(h.clock.advance(40)) == 1
    crashed = h.store.get_run(run)
    assert crashed.state is RunState.CRASHED
    assert crashed.stop_reason is not None
    assert "sent no heartbeat for 60 s" in crashed.stop_reason
    assert h.controller.reap(h.clock.advance(100)) == 0  # found once


def test_pause_gives_no_runs_and_resume_gives_them_again(h: Harness) -> None:
    sweep = h.sweep(RANDOM)
    agent = h.agent(sweep)
    h.run_to_end(h.take(agent).run_id, [{"loss": 1.0}])
    h.controller_action = None
    from hypersweep.controller import sweep_action

    sweep_action(h.store, sweep, "pause", h.clock())
    assert h.beat(agent) == []
    assert h.beat(agent) == []
    sweep_action(h.store, sweep, "resume", h.clock())
    h.take(agent)


def test_stop_lets_running_runs_finish_and_exits_idle_agents(h: Harness) -> None:
    from hypersweep.controller import sweep_action

    sweep = h.sweep(RANDOM)
    idle, busy = h.agent(sweep), h.agent(sweep)
    h.run_to_end(h.take(idle).run_id, [{"loss": 1.0}])
    run = h.take(busy).run_id
    h.controller.start_run(run, h.clock())
    sweep_action(h.store, sweep, "stop", h.clock())
    (command,) = h.beat(idle)
    assert command == Exit(f"sweep {sweep} is finished", kill=False)
    assert h.beat(busy, [run]) == []
    h.controller.finish_run(run, h.clock(), exit_code=0)
    assert h.store.get_run(run).state is RunState.FINISHED
    (command,) = h.beat(busy)
    assert isinstance(command, Exit)


def test_cancel_kills_pending_runs_and_tells_agents_to_exit_with_kill(h: Harness) -> None:
    from hypersweep.controller import sweep_action

    sweep = h.sweep(RANDOM)
    waiting, busy = h.agent(sweep), h.agent(sweep)
    pending = h.take(waiting).run_id
    running = h.take(busy).run_id
    h.controller.start_run(running, h.clock())
    sweep_action(h.store, sweep, "cancel", h.clock())
    assert h.store.get_run(pending).state is RunState.KILLED
    commands = h.beat(busy, [running])
    assert commands[-1] == Exit("sweep canceled", kill=True)
    # the agent SIGKILLs the run and reports its end: killed, whatever the exit code
    h.controller.finish_run(running, h.clock(), exit_code=-9)
    assert h.store.get_run(running).state is RunState.KILLED


def test_a_stop_order_is_repeated_on_every_heartbeat_until_the_run_is_gone(h: Harness) -> None:
    sweep = h.sweep(RANDOM)
    agent = h.agent(sweep)
    run = h.take(agent).run_id
    h.controller.start_run(run, h.clock())
    h.store.update_run(run, h.clock(), stopped=True, stop_reason="user stop")
    for _ in range(2):
        assert h.beat(agent, [run]) == [StopRun(run, "user stop")]
    # the agent killed it but its finish was lost: it ends killed (spec §5.7), not crashed
    (command,) = h.beat(agent, [])
    assert isinstance(command, AssignRun)
    assert h.store.get_run(run).state is RunState.KILLED


def test_heartbeats_look_for_lost_agents_at_most_every_5_s_per_sweep(h: Harness) -> None:
    sweep = h.sweep(GRID_12)
    silent, busy = h.agent(sweep), h.agent(sweep)
    lost_run = h.take(silent).run_id
    run = h.take(busy).run_id
    h.clock.advance(57)
    h.beat(busy, [run])  # 59 s of silence: it looks, nobody is lost yet
    h.clock.advance(2)
    h.beat(busy, [run])  # 62 s of silence, but the last look was 3 s ago
    assert h.store.get_run(lost_run).state is RunState.PENDING
    h.clock.advance(2)
    h.beat(busy, [run])  # 6 s after the last look
    assert h.store.get_run(lost_run).state is RunState.CRASHED
    assert h.store.get_agent(silent).state is AgentState.LOST


def test_a_heartbeat_reads_only_alive_runs_unless_the_search_or_target_needs_all(
    h: Harness,
) -> None:
    asked: list[Any] = []
    list_runs = h.store.list_runs

    def spy(sweep_id: str, states: Any = None, *, agents: Any = None, shared: bool = False) -> Any:
        asked.append(states)
        return list_runs(sweep_id, states, agents=agents, shared=shared)

    h.store.list_runs = spy  # type: ignore[method-assign]
    bayes = {**RANDOM, "method": "bayes"}
    target = {**RANDOM, "metric": {"name": "loss", "target": 0.1}}
    for config, reads_all in ((RANDOM, False), (GRID_12, False), (bayes, True), (target, True)):
        agent = h.agent(h.sweep(config))
        asked.clear()
        h.take(agent)
        assert (None in asked[:1]) is reads_all, config


def test_a_process_stores_an_agents_heartbeat_at_most_every_tenth_of_the_timeout(
    h: Harness,
) -> None:
    sweep = h.sweep(GRID_12)
    agent = h.agent(sweep)
    run = h.take(agent).run_id  # stored: the first heartbeat this process saw
    stored = h.store.get_agent(agent).last_heartbeat
    assert stored == h.clock()
    for _ in range(5):  # 1 to 5 s later: within 6 s, a tenth of the 60 s timeout
        h.beat(agent, [run])
    assert h.store.get_agent(agent).last_heartbeat == stored
    h.beat(agent, [run])  # 6 s later
    assert h.store.get_agent(agent).last_heartbeat == h.clock()


def test_an_agent_registered_through_the_controller_is_not_stored_again_at_its_first_heartbeat(
    h: Harness,
) -> None:
    sweep = h.sweep(GRID_12)
    agent = h.controller.register_agent(sweep, "h", 1, h.clock()).id
    registered = h.store.get_agent(agent).last_heartbeat
    run = h.take(agent).run_id  # 1 s later: within the window of the registration's beat
    assert h.store.get_agent(agent).last_heartbeat == registered
    for _ in range(5):  # 6 s after the registration the heartbeat is stored
        h.beat(agent, [run])
    assert h.store.get_agent(agent).last_heartbeat == h.clock()


def test_an_agent_told_to_exit_is_running_again_at_its_next_heartbeat(h: Harness) -> None:
    sweep = h.sweep(GRID_12)
    agent = h.agent(sweep)
    h.run_to_end(h.take(agent).run_id)
    h.store.set_sweep_state(sweep, SweepState.FINISHED, h.clock())
    (command,) = h.beat(agent, [])
    assert isinstance(command, Exit)
    assert h.store.get_agent(agent).state is AgentState.FINISHED
    h.store.set_sweep_state(sweep, SweepState.RUNNING, h.clock())
    h.beat(agent, [])  # 1 s later, within the window: stored all the same
    assert h.store.get_agent(agent).state is AgentState.RUNNING


def test_an_agent_back_after_it_was_found_lost_is_running_again(h: Harness) -> None:
    sweep = h.sweep(GRID_12)
    agent = h.agent(sweep)
    h.take(agent)
    assert h.controller.reap(h.clock.advance(70)) == 1
    assert h.store.get_agent(agent).state is AgentState.LOST
    h.beat(agent, [])
    back = h.store.get_agent(agent)
    assert (back.state, back.last_heartbeat) == (AgentState.RUNNING, h.clock())


@pytest.mark.parametrize(
    ("exit_code", "state", "expected"),
    [
        (0, "finished", RunState.FINISHED),  # ended on its own before the order reached it
        (0, None, RunState.KILLED),  # spec §5.7: a stopped run ends killed however it exited
        (1, "finished", RunState.KILLED),
        (1, "failed", RunState.KILLED),
        (-15, "preempted", RunState.KILLED),
    ],
)
def test_a_stopped_run_ends_killed_unless_it_finished_before_the_order_reached_it(
    h: Harness, exit_code: int, state: str | None, expected: RunState
) -> None:
    sweep = h.sweep(RANDOM)
    run = h.take(h.agent(sweep)).run_id
    h.controller.start_run(run, h.clock())
    h.store.update_run(run, h.clock(), stopped=True, stop_reason="hyperband: band 2")
    ended = h.controller.finish_run(run, h.clock(), exit_code=exit_code, state=state)
    assert (ended.state, ended.stopped, ended.stop_reason) == (expected, True, "hyperband: band 2")
