"""A sweep with ``controller: {type: local}`` over the API (spec §10): the server neither
searches nor stops; a local controller schedules each run for an idle agent and stops runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from hypersweep import engine

if TYPE_CHECKING:
    from conftest import Api

LOCAL: dict[str, Any] = {
    "method": "grid",
    "controller": {"type": "local"},
    "metric": {"name": "loss"},
    "parameters": {"x": {"values": [1, 2, 3]}},
    "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2},
}


def schedule(client: Api, sweep_id: str, agent_id: str, params: dict[str, Any]) -> Any:
    body = {"agent_id": agent_id, "params": params, "info": {"by": "my search"}}
    return client.post(f"sweeps/{sweep_id}/schedule", json=body)


def test_idle_agents_wait_for_the_local_controller_and_get_what_it_schedules(
    client: Api,
) -> None:
    sweep_id = client.create_sweep(LOCAL)["id"]
    agent = client.register_agent(sweep_id)
    assert client.heartbeat(agent) == []  # the server does not search this sweep
    assert client.heartbeat(agent) == []
    run = client.ok(schedule(client, sweep_id, agent, {"x": 7, "opt": {"lr": 0.1}}), 201)
    assert (run["state"], run["agent_id"], run["params"]) == (
        "pending",
        agent,
        {"x": 7, "opt": {"lr": 0.1}},
    )
    assert client.sweep(sweep_id)["state"] == "running"
    (command,) = client.heartbeat(agent)
    assert (command["type"], command["run_id"], command["params"]) == (
        "run",
        run["id"],
        {"x": 7, "opt": {"lr": 0.1}},
    )
    # one run at a time: the agent now has it
    refused = client.error(schedule(client, sweep_id, agent, {"x": 8}), 409)
    assert f"agent {agent} has run {run['id']} alive" in refused.message


def test_the_server_applies_no_stopping_rule_and_the_controller_stops_runs(client: Api) -> None:
    sweep_id = client.create_sweep(LOCAL)["id"]
    agents = [client.register_agent(sweep_id) for _ in range(3)]
    runs = [
        client.ok(schedule(client, sweep_id, agent, {"x": i}), 201)["id"]
        for i, agent in enumerate(agents)
    ]
    losses = (0.1, 0.2, 9.0)  # the third is far worse than the two before it at every step
    for agent, run_id, loss in zip(agents, runs, losses, strict=True):
        client.heartbeat(agent)
        client.ok(client.post(f"runs/{run_id}/start", json={"agent_id": agent}))
        rows = [{"step": step, "metrics": {"loss": loss}} for step in range(4)]
        answer = client.ok(client.post(f"runs/{run_id}/history", json={"rows": rows}))
        assert answer["stop"] is False, "the server stopped a run of a locally controlled sweep"
    # the same rule, as the engine would apply it, stops the third: the server held back
    views = [
        engine.Run(run_id, "running", {"x": i}, [{"loss": loss}] * 4)
        for i, (run_id, loss) in enumerate(zip(runs, losses, strict=True))
    ]
    assert [order.run for order in engine.runs_to_stop(LOCAL, views)] == [runs[2]]
    stopped = client.ok(client.post(f"runs/{runs[2]}/stop", json={"reason": "my rule: too slow"}))
    assert (stopped["stopped"], stopped["stop_reason"]) == (True, "my rule: too slow")
    (command,) = client.heartbeat(agents[2], [runs[2]])
    assert (command["type"], command["run_id"]) == ("stop", runs[2])
    ended = client.ok(client.post(f"runs/{runs[2]}/finish", json={"exit_code": -15}))
    assert ended["state"] == "killed"
    refused = client.error(client.post(f"runs/{runs[2]}/stop", json={"reason": "again"}), 409)
    assert "killed" in refused.message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"controller": {"type": "cloud"}}, "is searched by the server"),
        ({"run_cap": 1}, "reached its run_cap of 1 runs"),
    ],
)
def test_a_schedule_the_sweep_cannot_take_is_refused_with_the_reason(
    client: Api, change: dict[str, Any], expected: str
) -> None:
    sweep_id = client.create_sweep({**LOCAL, **change})["id"]
    first, second = client.register_agent(sweep_id), client.register_agent(sweep_id)
    if "run_cap" in change:
        run_id = client.ok(schedule(client, sweep_id, first, {"x": 1}), 201)["id"]
        client.ok(client.post(f"runs/{run_id}/finish", json={"exit_code": 0}))
    refused = client.error(schedule(client, sweep_id, second, {"x": 2}), 409)
    assert expected in refused.message


def test_an_agent_of_another_sweep_no_agent_or_a_stopped_sweep_is_refused(client: Api) -> None:
    sweep_id = client.create_sweep(LOCAL)["id"]
    agent = client.register_agent(sweep_id)
    other = client.register_agent(client.create_sweep(LOCAL)["id"])
    refused = client.error(schedule(client, sweep_id, other, {"x": 1}), 409)
    assert f"agent {other} is of sweep" in refused.message
    missing = client.error(schedule(client, sweep_id, "nosuchagent", {"x": 1}), 404)
    assert "nosuchagent" in missing.message
    client.ok(client.post(f"sweeps/{sweep_id}/state", json={"action": "stop"}))
    refused = client.error(schedule(client, sweep_id, agent, {"x": 1}), 409)
    assert "is finished and hands out no runs" in refused.message


def test_an_agent_that_leaves_gets_nothing_more_and_its_unstarted_run_is_crashed_at_once(
    client: Api,
) -> None:
    sweep_id = client.create_sweep(LOCAL)["id"]
    agent = client.register_agent(sweep_id)
    run = client.ok(schedule(client, sweep_id, agent, {"x": 1}), 201)
    left = client.ok(client.post(f"agents/{agent}/leave"))
    assert left["state"] == "finished"
    ended = client.run(run["id"])  # the sweep's one outstanding run does not wait a minute
    assert (ended["state"], ended["stop_reason"]) == (
        "crashed",
        f"its agent {agent} left before starting it",
    )
    refused = client.error(schedule(client, sweep_id, agent, {"x": 2}), 409)
    assert f"agent {agent} is finished" in refused.message
