"""The HTTP API's agent endpoints over every store: register, heartbeat (spec §7.1, §8.1)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Api, FakeClock

#: 3 x 4 = 12 grid points.
GRID12 = {
    "method": "grid",
    "parameters": {
        "lr": {"values": [0.1, 0.01, 0.001]},
        "opt": {"parameters": {"name": {"values": ["adam", "sgd", "rmsprop", "adagrad"]}}},
        "epochs": {"value": 3},
    },
}


def test_register_agent_answers_201_with_the_agent(client: Api, clock: FakeClock) -> None:
    sweep = client.create_sweep(GRID12, project="p")
    response = client.post(f"sweeps/{sweep['id']}/agents", json={"host": "gpu-7", "pid": 99})
    agent = client.ok(response, 201)
    assert agent["sweep_id"] == sweep["id"]
    assert (agent["host"], agent["pid"], agent["state"]) == ("gpu-7", 99, "running")
    assert agent["created_at"] == agent["last_heartbeat"]
    assert agent["created_at"].startswith("2026-03-04T05:06:07")
    second = {"host": "gpu-8", "pid": 1}
    by_project = client.ok(client.post(f"sweeps/p/{sweep['id']}/agents", json=second), 201)
    listed = client.ok(client.get(f"sweeps/{sweep['id']}/agents"))
    assert {a["id"] for a in listed} == {agent["id"], by_project["id"]}
    assert client.ok(client.get(f"sweeps/p/{sweep['id']}/agents")) == listed


@pytest.mark.parametrize("action", ["stop", "cancel"])
def test_register_agent_on_an_ended_sweep_is_409(client: Api, action: str) -> None:
    sweep_id = client.create_sweep(GRID12)["id"]
    client.ok(client.post(f"sweeps/{sweep_id}/state", json={"action": action}))
    state = {"stop": "finished", "cancel": "canceled"}[action]
    body = {"host": "h", "pid": 1}
    error = client.error(client.post(f"sweeps/{sweep_id}/agents", json=body), 409)
    assert error.error == "ConflictError"
    assert error.message == (
        f"Sweep {sweep_id} is not running (it is {state}); resume it first to start agents on it"
    )
    client.ok(client.post(f"sweeps/{sweep_id}/state", json={"action": "resume"}))
    client.ok(client.post(f"sweeps/{sweep_id}/agents", json=body), 201)


@pytest.mark.parametrize("store", ["memory"], indirect=True)
@pytest.mark.parametrize(
    ("body", "names"),
    [
        pytest.param({"host": "h"}, ["pid: field required"], id="no-pid"),
        pytest.param({"host": "h", "pid": "abc"}, ["pid:", "'abc'"], id="pid-not-int"),
        pytest.param({"host": "h", "pid": 1, "gpu": 0}, ["gpu: unknown field"], id="extra"),
    ],
)
def test_malformed_register_body_is_422_naming_the_field(
    client: Api, body: dict[str, Any], names: list[str]
) -> None:
    sweep_id = client.create_sweep(GRID12)["id"]
    error = client.error(client.post(f"sweeps/{sweep_id}/agents", json=body), 422)
    for name in names:
        assert name in error.message
    assert client.ok(client.get(f"sweeps/{sweep_id}/agents")) == []


@pytest.mark.parametrize("store", ["memory"], indirect=True)
def test_malformed_heartbeat_is_422_naming_the_field(client: Api) -> None:
    agent = client.register_agent(client.create_sweep(GRID12)["id"])
    error = client.error(client.post(f"agents/{agent}/heartbeat", json={"running": "r1"}), 422)
    assert "running:" in error.message
    error = client.error(client.post(f"agents/{agent}/heartbeat", json={"runing": []}), 422)
    assert "runing: unknown field" in error.message


def test_heartbeat_of_unknown_agent_is_404(client: Api) -> None:
    error = client.error(client.post("agents/ghost/heartbeat", json={}), 404)
    assert error.error == "NotFoundError"
    assert "ghost" in error.message


def test_grid_of_12_over_3_agents_hands_out_12_distinct_points_then_exit(client: Api) -> None:
    sweep = client.create_sweep(GRID12, project="grid")
    agents = [client.register_agent(sweep["id"], host=f"node-{i}") for i in range(3)]
    seen: list[tuple[float, str, int]] = []
    exits: dict[str, dict[str, Any]] = {}
    for _ in range(10):  # rounds: 4 runs each, then one more heartbeat to exit
        for agent in agents:
            if agent in exits:
                continue
            (command,) = client.heartbeat(agent)
            if command["type"] == "exit":
                exits[agent] = command
                continue
            assert command["type"] == "run"
            assert (command["sweep_id"], command["project"]) == (sweep["id"], "grid")
            params = command["params"]
            # nested parameters arrive plain and nested, as the program sees them (spec §3.5)
            seen.append((params["lr"], params["opt"]["name"], params["epochs"]))
            run_id = command["run_id"]
            client.ok(client.post(f"runs/{run_id}/start", json={"agent_id": agent}))
            client.ok(client.post(f"runs/{run_id}/finish", json={"exit_code": 0}))
        if len(exits) == len(agents):
            break
    assert len(seen) == 12
    assert len(set(seen)) == 12
    assert {lr for lr, _, _ in seen} == {0.1, 0.01, 0.001}
    assert {epochs for _, _, epochs in seen} == {3}
    assert set(exits) == set(agents)
    assert all(not command["kill"] for command in exits.values())
    ended = client.sweep(sweep["id"])
    assert ended["state"] == "finished"
    assert ended["run_counts"]["finished"] == 12
    agents_after = client.ok(client.get(f"sweeps/{sweep['id']}/agents"))
    assert {a["state"] for a in agents_after} == {"finished"}
    # the grid is exhausted for new agents too (spec §8.1: 409, not another run)
    client.error(client.post(f"sweeps/{sweep['id']}/agents", json={"host": "h", "pid": 1}), 409)


def test_resuming_an_exhausted_grid_finishes_it_again(client: Api) -> None:
    config = {"method": "grid", "parameters": {"x": {"values": [1]}}}
    sweep_id = client.create_sweep(config)["id"]
    agent = client.register_agent(sweep_id)
    run_id = client.next_run(agent)["run_id"]
    client.ok(client.post(f"runs/{run_id}/finish", json={"exit_code": 0}))
    assert [c["type"] for c in client.heartbeat(agent)] == ["exit"]
    client.ok(client.post(f"sweeps/{sweep_id}/state", json={"action": "resume"}))
    again = client.register_agent(sweep_id)
    (command,) = client.heartbeat(again)
    assert command["type"] == "exit"
    assert "every grid point" in command["reason"]
    assert client.sweep(sweep_id)["state"] == "finished"


def test_run_cap_ends_the_sweep(client: Api) -> None:
    config = {"method": "random", "run_cap": 2, "parameters": {"x": {"min": 0.0, "max": 1.0}}}
    sweep_id = client.create_sweep(config)["id"]
    agent = client.register_agent(sweep_id)
    for _ in range(2):
        run_id = client.next_run(agent)["run_id"]
        client.ok(client.post(f"runs/{run_id}/finish", json={"exit_code": 0}))
    (command,) = client.heartbeat(agent)
    assert command["type"] == "exit"
    assert "run_cap of 2" in command["reason"]
    assert client.sweep(sweep_id)["run_counts"]["finished"] == 2


def test_busy_agent_gets_no_new_run(client: Api) -> None:
    sweep_id = client.create_sweep(GRID12)["id"]
    agent = client.register_agent(sweep_id)
    run_id = client.next_run(agent)["run_id"]
    assert client.heartbeat(agent, [run_id]) == []
    assert client.heartbeat(agent, [run_id, run_id]) == []
    assert len(client.ok(client.get(f"sweeps/{sweep_id}/runs"))) == 1


def test_a_run_its_agent_stops_reporting_is_crashed(client: Api, clock: FakeClock) -> None:
    sweep_id = client.create_sweep(GRID12)["id"]
    agent = client.register_agent(sweep_id, host="node-9")
    run_id = client.next_run(agent)["run_id"]
    client.ok(client.post(f"runs/{run_id}/start", json={"agent_id": agent}))
    clock.advance(30)
    replacement = client.next_run(agent)  # idle again: its run is gone, so it gets another
    assert replacement["run_id"] != run_id
    crashed = client.run(run_id)
    assert crashed["state"] == "crashed"
    assert f"agent {agent} on node-9 stopped reporting it alive" in crashed["stop_reason"]
    assert crashed["ended_at"].startswith("2026-03-04T05:06:37")


def test_an_agent_silent_for_the_heartbeat_timeout_is_lost_and_its_run_crashed(
    client: Api, clock: FakeClock
) -> None:
    sweep_id = client.create_sweep(GRID12)["id"]
    silent, alive = client.register_agent(sweep_id), client.register_agent(sweep_id)
    run_id = client.next_run(silent)["run_id"]
    client.ok(client.post(f"runs/{run_id}/start", json={}))
    clock.advance(50)
    other = client.next_run(alive)["run_id"]
    assert client.run(run_id)["state"] == "running"  # 50 s of the 60 s timeout: not yet lost
    clock.advance(11)
    assert client.heartbeat(alive, [other]) == []
    lost = client.run(run_id)
    assert lost["state"] == "crashed"
    assert "sent no heartbeat for 60 s" in lost["stop_reason"]
    states = {a["id"]: a["state"] for a in client.ok(client.get(f"sweeps/{sweep_id}/agents"))}
    assert states == {silent: "lost", alive: "running"}


def test_metric_target_finishes_the_sweep(client: Api) -> None:
    config = {
        "method": "random",
        "metric": {"name": "acc", "goal": "maximize", "target": 0.9},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
    sweep_id = client.create_sweep(config)["id"]
    agent = client.register_agent(sweep_id)
    run_id = client.next_run(agent)["run_id"]
    rows = {"rows": [{"step": 0, "metrics": {"acc": 0.95}}]}
    client.ok(client.post(f"runs/{run_id}/history", json=rows))
    client.ok(client.post(f"runs/{run_id}/finish", json={"exit_code": 0}))
    (command,) = client.heartbeat(agent)
    assert command["type"] == "exit"
    assert client.sweep(sweep_id)["state"] == "finished"


@pytest.mark.parametrize(
    ("body", "name"),
    [
        pytest.param({"host": "h", "pid": 2**63}, "pid: must be between", id="pid"),
        pytest.param({"host": "h" * 300, "pid": 1}, "host: is 300 characters long", id="host"),
        pytest.param({"host": "a\x00b", "pid": 1}, "host: contains a NUL", id="nul"),
    ],
)
def test_register_values_no_store_can_hold_are_422(
    client: Api, body: dict[str, Any], name: str
) -> None:
    sweep_id = client.create_sweep(GRID12)["id"]
    error = client.error(client.post(f"sweeps/{sweep_id}/agents", json=body), 422)
    assert name in error.message
    assert client.ok(client.get(f"sweeps/{sweep_id}/agents")) == []


def test_concurrent_agents_never_get_the_same_grid_point(client: Api) -> None:
    """6 agents heartbeating at once from 6 threads: the store assigns each point once."""
    sweep_id = client.create_sweep(GRID12)["id"]
    agents = [client.register_agent(sweep_id, host=f"node-{i}") for i in range(6)]
    barrier = threading.Barrier(len(agents))

    def work(agent: str) -> list[str]:
        barrier.wait()
        handed: list[str] = []
        for _ in range(20):
            (command,) = client.heartbeat(agent)
            if command["type"] == "exit":
                return handed
            handed.append(json.dumps(command["params"], sort_keys=True))
            client.ok(client.post(f"runs/{command['run_id']}/finish", json={"exit_code": 0}))
        raise AssertionError(f"agent {agent} never got exit")

    with ThreadPoolExecutor(len(agents)) as pool:
        handed = [params for result in pool.map(work, agents) for params in result]
    assert len(handed) == 12
    assert len(set(handed)) == 12
    assert client.sweep(sweep_id)["run_counts"]["finished"] == 12


def test_runs_crashed_without_metrics_do_not_count_against_run_cap(client: Api) -> None:
    """spec §4.6: a crashed or killed run with no summary metrics leaves its slot free."""
    config = {
        "method": "random",
        "metric": {"name": "loss"},
        "run_cap": 1,
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
    sweep_id = client.create_sweep(config)["id"]
    agent = client.register_agent(sweep_id)
    lost = client.next_run(agent)["run_id"]
    client.ok(client.post(f"runs/{lost}/start", json={}))
    second = client.next_run(agent)["run_id"]  # it reported no run alive: `lost` crashed
    assert client.run(lost)["state"] == "crashed"
    rows = {"rows": [{"step": 0, "metrics": {"loss": 0.3}}]}
    client.ok(client.post(f"runs/{second}/history", json=rows))
    client.ok(client.post(f"runs/{second}/finish", json={"exit_code": 0}))
    (command,) = client.heartbeat(agent)
    assert command["type"] == "exit"
    assert "run_cap of 1" in command["reason"]


def test_a_heartbeat_reports_a_run_that_ended_and_gets_the_next_in_one_request(
    client: Api,
) -> None:
    sweep_id = client.create_sweep(GRID12)["id"]
    agent = client.register_agent(sweep_id)
    first = client.next_run(agent)["run_id"]
    client.ok(client.post(f"runs/{first}/start", json={}))
    body = {"running": [], "ended": [{"run_id": first, "exit_code": 3}]}
    (command,) = client.ok(client.post(f"agents/{agent}/heartbeat", json=body))["commands"]
    assert command["type"] == "run"
    assert command["run_id"] != first
    ended = client.run(first)
    assert (ended["state"], ended["exit_code"]) == ("failed", 3)  # not crashed: it was reported
    # a repeat (the answer was lost and the agent sends it again) changes nothing
    body = {"running": [command["run_id"]], "ended": [{"run_id": first, "exit_code": 3}]}
    assert client.ok(client.post(f"agents/{agent}/heartbeat", json=body))["commands"] == []
    assert client.run(first)["state"] == "failed"


def test_a_run_whose_assignment_never_reached_the_agent_is_offered_again(client: Api) -> None:
    """The server stored the run but its answer was lost (it stopped before replying): the
    agent's next heartbeat lists nothing alive, and gets the same run again, not a crash."""
    sweep_id = client.create_sweep(GRID12)["id"]
    agent = client.register_agent(sweep_id)
    first = client.next_run(agent)
    again = client.next_run(agent)
    assert (again["run_id"], again["params"]) == (first["run_id"], first["params"])
    assert client.run(first["run_id"])["state"] == "pending"
    assert len(client.ok(client.get(f"sweeps/{sweep_id}/runs"))) == 1
    client.ok(client.post(f"runs/{first['run_id']}/start", json={"agent_id": agent}))
    assert client.heartbeat(agent, [first["run_id"]]) == []
