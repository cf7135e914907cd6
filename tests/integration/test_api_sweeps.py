"""The HTTP API's health, sweep and schema endpoints over every store (spec §2.4, §2.5, §8.1)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import hypersweep

if TYPE_CHECKING:
    from conftest import Api, FakeClock

#: For what the store cannot change (routing, schema, body validation): memory only, for speed.
memory_only = pytest.mark.parametrize("store", ["memory"], indirect=True)

GRID = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"lr": {"values": [0.1, 0.01]}, "layers": {"values": [1, 2]}},
}

#: Every endpoint as ``protocol``'s module docstring lists it (OpenAPI path syntax).
ENDPOINTS = {
    ("get", "/api/v1/health"),
    ("post", "/api/v1/sweeps"),
    ("get", "/api/v1/sweeps"),
    ("get", "/api/v1/sweeps/{sweep}"),
    ("post", "/api/v1/sweeps/{sweep}/state"),
    ("get", "/api/v1/sweeps/{sweep}/runs"),
    ("post", "/api/v1/sweeps/{sweep}/runs"),
    ("post", "/api/v1/sweeps/{sweep}/agents"),
    ("get", "/api/v1/sweeps/{sweep}/agents"),
    ("post", "/api/v1/sweeps/{sweep}/schedule"),
    ("get", "/api/v1/sweeps/{sweep}/events"),
    ("get", "/api/v1/sweeps/{sweep}/importance"),
    ("get", "/api/v1/sweeps/{sweep}/predictions"),
    ("post", "/api/v1/agents/{agent}/heartbeat"),
    ("get", "/api/v1/runs/{run}"),
    ("get", "/api/v1/runs/{run}/search-info"),
    ("post", "/api/v1/runs/{run}/start"),
    ("post", "/api/v1/runs/{run}/history"),
    ("get", "/api/v1/runs/{run}/history"),
    ("post", "/api/v1/runs/{run}/summary"),
    ("post", "/api/v1/runs/{run}/output"),
    ("get", "/api/v1/runs/{run}/output"),
    ("post", "/api/v1/runs/{run}/stop"),
    ("post", "/api/v1/agents/{agent}/leave"),
    ("post", "/api/v1/runs/{run}/finish"),
    ("get", "/api/v1/auth"),
    ("post", "/api/v1/keys"),
    ("get", "/api/v1/keys"),
    ("delete", "/api/v1/keys/{key}"),
}


# -- health, paths, schema -----------------------------------------------------------------------


def test_health_names_the_version_and_store_kind(
    client: Api, request: pytest.FixtureRequest
) -> None:
    kind = {"memory": "memory", "sqlite": "sqlite", "postgres": "postgresql"}
    expected = kind[request.node.callspec.params["store"]]
    body = client.ok(client.get("health"))
    assert body == {"status": "ok", "version": hypersweep.__version__, "store": expected}


@memory_only
def test_unknown_paths_are_404_error_bodies(client: Api) -> None:
    inside = client.error(client.get("no-such-thing"), 404)
    assert inside.error == "NotFoundError"
    assert "/api/v1/no-such-thing" in inside.message
    outside = client.error(client.get("http://testserver/sweeps"), 404)
    assert "the API is under /api/v1" in outside.message


@memory_only
def test_wrong_method_is_405_naming_it(client: Api) -> None:
    error = client.error(client.delete("health"), 405)
    assert "DELETE is not allowed on /api/v1/health" in error.message


@memory_only
def test_openapi_schema_lists_every_endpoint(client: Api) -> None:
    schema = client.ok(client.get("openapi.json"))
    listed = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert listed == ENDPOINTS
    assert {"SweepCreate", "HeartbeatReply", "RunFinish"} <= set(schema["components"]["schemas"])


@memory_only
def test_the_api_doc_lists_every_endpoint(client: Api) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    rows = re.findall(r"^\| (GET|POST|DELETE) \| `([^`?]+)", doc, flags=re.MULTILINE)
    listed = {(method.lower(), "/api/v1" + path) for method, path in rows}
    assert listed == ENDPOINTS
    for name in ("SweepCreate", "RunImport", "AgentRegister", "HistoryBatch", "RunFinish"):
        assert f"`{name}`" in doc


@memory_only
def test_every_listed_endpoint_is_served(client: Api) -> None:
    """Each schema path answers (a 404 names the missing sweep or run, not the endpoint), and
    each ``/sweeps/{sweep}`` route also answers as ``/sweeps/{project}/{sweep}``."""
    paths = [(method, path.removeprefix("/api/v1/")) for method, path in sorted(ENDPOINTS)]
    paths += [
        (method, path.replace("{sweep}", "proj/{sweep}"))
        for method, path in paths
        if "{sweep}" in path
    ]
    for method, path in paths:
        url = path.format(sweep="nosuch", run="nosuch", agent="nosuch", key="nosuch")
        response = client.request(method.upper(), url, json={} if method == "post" else None)
        assert response.status_code != 405, (method, path)
        if response.status_code == 404:
            assert not response.json()["message"].startswith("no endpoint"), (method, path)


# -- create --------------------------------------------------------------------------------------


def test_create_sweep_stores_the_config_with_defaults_filled(client: Api, clock: FakeClock) -> None:
    config: dict[str, Any] = {
        "method": "random",
        "name": "lr-search",
        "project": "mnist",
        "metric": {"name": "loss"},
        "early_terminate": {"type": "hyperband", "min_iter": 2},
        "parameters": {
            "lr": {"min": 0.001, "max": 0.1},
            "layers": {"min": 1, "max": 4},
            "opt": {"values": ["adam", "sgd"]},
            "epochs": {"value": 10},
        },
    }
    sweep = client.create_sweep(config)
    assert sweep["state"] == "pending"
    assert sweep["project"] == "mnist"
    assert sweep["name"] == "lr-search"
    assert sweep["warnings"] == []
    assert sweep["created_at"] == sweep["updated_at"]
    assert sweep["created_at"].startswith("2026-03-04T05:06:07")
    stored = sweep["config"]
    params = stored["parameters"]
    assert params["lr"] == {"distribution": "uniform", "min": 0.001, "max": 0.1}
    assert params["layers"] == {"distribution": "int_uniform", "min": 1, "max": 4}
    assert params["opt"]["distribution"] == "categorical"
    assert params["epochs"]["distribution"] == "constant"
    assert stored["early_terminate"] == {
        "type": "hyperband",
        "min_iter": 2,
        "eta": 3,
        "strict": True,
    }
    # spec §2.5: metric.goal is not filled in; it is a use-time default
    assert stored["metric"] == {"name": "loss"}
    assert set(sweep["run_counts"]) >= {"pending", "running", "finished", "failed", "killed"}
    assert not any(sweep["run_counts"].values())
    assert sweep["best"] is None
    # what the sweep answers later is what creation answered, minus the warnings
    again = client.sweep(sweep["id"])
    assert again == {key: value for key, value in sweep.items() if key != "warnings"}


def test_soft_violations_create_the_sweep_with_warnings(client: Api) -> None:
    config = {
        **GRID,
        "method": "random",
        "colour": "blue",
        "parameters": {"scale": {"distribution": "log_uniform", "min": 0, "max": 1}},
    }
    sweep = client.create_sweep(config)
    warnings = {issue["path"]: issue for issue in sweep["warnings"]}
    assert set(warnings) == {"colour", "parameters.scale"}
    assert all(issue["severity"] == "warning" for issue in warnings.values())
    assert "'colour' was unexpected" in warnings["colour"]["message"]
    assert "log_uniform_values" in warnings["parameters.scale"]["message"]
    assert client.sweep(sweep["id"])["state"] == "pending"


def test_strict_refuses_a_config_with_warnings(client: Api) -> None:
    response = client.post("sweeps", json={"config": {**GRID, "colour": "blue"}, "strict": True})
    error = client.error(response, 422)
    assert error.error == "ConfigError"
    assert [issue.path for issue in error.issues] == ["colour"]
    assert client.ok(client.get("sweeps")) == []


def test_bad_config_is_422_with_every_issue_naming_its_key(client: Api) -> None:
    config = {
        "method": "grid",
        "parameters": {
            "lr": {"min": 0.5, "max": 0.1},
            "width": {"min": 1, "max": 2.0},
            "act": {"values": []},
        },
    }
    error = client.error(client.post("sweeps", json={"config": config}), 422)
    assert error.error == "ConfigError"
    errors = {issue.path: issue.message for issue in error.issues if issue.severity == "error"}
    assert set(errors) == {"parameters.lr", "parameters.width", "parameters.act.values"}
    assert "min 0.5 is not less than max 0.1" in errors["parameters.lr"]
    assert "Parameter width is ambiguous" in errors["parameters.width"]
    assert "non-empty" in errors["parameters.act.values"]
    for path in errors:
        assert path in error.message
    assert client.ok(client.get("sweeps")) == []


@memory_only
@pytest.mark.parametrize(
    ("body", "names"),
    [
        pytest.param({}, ["config: field required"], id="no-config"),
        pytest.param({"config": [1, 2]}, ["config:"], id="config-not-object"),
        pytest.param({"config": GRID, "strict": "very"}, ["strict:"], id="strict-not-bool"),
        pytest.param({"config": GRID, "projct": "x"}, ["projct: unknown field"], id="typo"),
    ],
)
def test_malformed_create_body_is_422_naming_the_field(
    client: Api, body: dict[str, Any], names: list[str]
) -> None:
    error = client.error(client.post("sweeps", json=body), 422)
    assert error.error == "ValidationError"
    assert error.message.startswith("invalid request to POST /api/v1/sweeps: ")
    for name in names:
        assert name in error.message


@memory_only
def test_create_body_that_is_not_json_is_422(client: Api) -> None:
    response = client.post(
        "sweeps", content=b"method: grid", headers={"content-type": "application/json"}
    )
    assert "not valid JSON" in client.error(response, 422).message


def test_project_and_name_come_from_the_body_then_the_config(client: Api) -> None:
    plain = client.create_sweep(GRID)
    assert (plain["project"], plain["name"]) == ("uncategorized", None)
    from_config = client.create_sweep({**GRID, "project": "cfg", "name": "n1"})
    assert (from_config["project"], from_config["name"]) == ("cfg", "n1")
    from_body = client.create_sweep({**GRID, "project": "cfg"}, project="body", name="n2")
    assert (from_body["project"], from_body["name"]) == ("body", "n2")


# -- read ----------------------------------------------------------------------------------------


def test_get_and_list_by_id_and_by_project(client: Api) -> None:
    a = client.create_sweep(GRID, project="alpha")
    b = client.create_sweep(GRID, project="beta")
    assert client.sweep(a["id"])["project"] == "alpha"
    assert client.ok(client.get(f"sweeps/alpha/{a['id']}"))["id"] == a["id"]
    assert {s["id"] for s in client.ok(client.get("sweeps"))} == {a["id"], b["id"]}
    assert [s["id"] for s in client.ok(client.get("sweeps", params={"project": "beta"}))] == [
        b["id"]
    ]
    assert client.ok(client.get("sweeps", params={"project": "gamma"})) == []
    # the PROJECT/ID form reaches the sub-resources too
    assert client.ok(client.get(f"sweeps/alpha/{a['id']}/runs")) == []
    assert client.ok(client.get(f"sweeps/alpha/{a['id']}/agents")) == []


def test_wrong_project_or_unknown_sweep_is_404(client: Api) -> None:
    sweep = client.create_sweep(GRID, project="alpha")
    wrong = client.error(client.get(f"sweeps/beta/{sweep['id']}"), 404)
    assert f"is in project 'alpha', not 'beta'; use alpha/{sweep['id']}" in wrong.message
    for method, path in [
        ("GET", "sweeps/nosuch"),
        ("GET", "sweeps/alpha/nosuch"),
        ("GET", "sweeps/nosuch/runs"),
        ("GET", "sweeps/nosuch/agents"),
    ]:
        error = client.error(client.request(method, path), 404)
        assert error.error == "NotFoundError"
        assert "nosuch" in error.message
    for path, body in [
        ("sweeps/nosuch/state", {"action": "pause"}),
        ("sweeps/nosuch/agents", {"host": "h", "pid": 1}),
        ("sweeps/nosuch/runs", {"params": {}}),
    ]:
        assert "nosuch" in client.error(client.post(path, json=body), 404).message


def test_run_counts_and_best_follow_the_runs(client: Api) -> None:
    sweep = client.create_sweep(GRID)
    for loss, state in [(0.5, "finished"), (0.2, "finished"), (0.1, "failed")]:
        body = {"params": {"lr": 0.1, "layers": 1}, "summary": {"loss": loss}, "state": state}
        client.ok(client.post(f"sweeps/{sweep['id']}/runs", json=body), 201)
    again = client.sweep(sweep["id"])
    assert again["run_counts"]["finished"] == 2
    assert again["run_counts"]["failed"] == 1
    runs = client.ok(client.get(f"sweeps/{sweep['id']}/runs"))
    # the best finite summary value of the metric, whatever the run's end
    assert again["best"] == {"run_id": runs[2]["id"], "value": 0.1}


# -- state changes (spec §8.1) -------------------------------------------------------------------


def _sweep_in(client: Api, state: str) -> str:
    """A fresh sweep brought to ``state`` through the API's own actions."""
    sweep_id: str = client.create_sweep(GRID)["id"]
    steps = {
        "pending": [],
        "running": ["resume"],
        "paused": ["resume", "pause"],
        "finished": ["stop"],
        "canceled": ["cancel"],
    }[state]
    for action in steps:
        client.ok(client.post(f"sweeps/{sweep_id}/state", json={"action": action}))
    assert client.sweep(sweep_id)["state"] == state
    return sweep_id


#: (state, action) -> the new state, or the start of the 409 message (W&B's words, spec §8.1).
TRANSITIONS: dict[tuple[str, str], str] = {
    ("pending", "pause"): "409 Cannot pause pending sweep.",
    ("pending", "resume"): "running",
    ("pending", "stop"): "finished",
    ("pending", "cancel"): "canceled",
    ("running", "pause"): "paused",
    ("running", "resume"): "running",
    ("running", "stop"): "finished",
    ("running", "cancel"): "canceled",
    ("paused", "pause"): "paused",
    ("paused", "resume"): "running",
    ("paused", "stop"): "finished",
    ("paused", "cancel"): "canceled",
    ("finished", "pause"): "409 Cannot pause finished sweep.",
    ("finished", "resume"): "running",
    ("finished", "stop"): "409 Sweep already finished.",
    ("finished", "cancel"): "409 Sweep already finished.",
    ("canceled", "pause"): "409 Cannot pause canceled sweep.",
    ("canceled", "resume"): "running",
    ("canceled", "stop"): "409 Sweep already canceled.",
    ("canceled", "cancel"): "409 Sweep already canceled.",
}


def test_sweep_actions_follow_the_state_table(client: Api, clock: FakeClock) -> None:
    # one test walks the whole table: 20 fresh sweeps are cheap, 20 PostgreSQL schemas are not
    for (state, action), expected in TRANSITIONS.items():
        sweep_id = _sweep_in(client, state)
        before = client.sweep(sweep_id)
        clock.advance(1)
        response = client.post(f"sweeps/{sweep_id}/state", json={"action": action})
        if expected.startswith("409 "):
            error = client.error(response, 409)
            assert error.error == "ConflictError"
            assert error.message.startswith(expected[4:]), (state, action, error.message)
            assert sweep_id in error.message
            assert "resume it first" in error.message or state == "pending"
            assert client.sweep(sweep_id) == before
        else:
            changed = client.ok(response)
            assert changed["state"] == expected, (state, action)
            if expected != state:
                assert changed["updated_at"] > before["updated_at"], (state, action)


def test_state_change_by_project_path_and_unknown_action(client: Api) -> None:
    sweep = client.create_sweep(GRID, project="p")
    changed = client.ok(client.post(f"sweeps/p/{sweep['id']}/state", json={"action": "stop"}))
    assert changed["state"] == "finished"
    bad = client.error(client.post(f"sweeps/{sweep['id']}/state", json={"action": "halt"}), 422)
    assert "action:" in bad.message
    assert "'halt'" in bad.message


def test_paused_sweep_hands_out_nothing_until_resumed(client: Api) -> None:
    sweep_id = _sweep_in(client, "paused")
    agent = client.register_agent(sweep_id)
    assert client.heartbeat(agent) == []
    assert client.ok(client.get(f"sweeps/{sweep_id}/runs")) == []
    client.ok(client.post(f"sweeps/{sweep_id}/state", json={"action": "resume"}))
    assert client.next_run(agent)["sweep_id"] == sweep_id


def test_pausing_lets_the_running_run_continue(client: Api) -> None:
    sweep = client.create_sweep(GRID)
    agent = client.register_agent(sweep["id"])
    run_id = client.next_run(agent)["run_id"]
    client.ok(client.post(f"runs/{run_id}/start", json={}))
    client.ok(client.post(f"sweeps/{sweep['id']}/state", json={"action": "pause"}))
    assert client.heartbeat(agent, [run_id]) == []
    ack = client.ok(
        client.post(
            f"runs/{run_id}/history", json={"rows": [{"step": 0, "metrics": {"loss": 1.0}}]}
        )
    )
    assert ack == {"stop": False, "reason": None}
    assert client.ok(client.post(f"runs/{run_id}/finish", json={"exit_code": 0}))["state"] == (
        "finished"
    )
    assert client.heartbeat(agent) == []  # idle, and the sweep is paused: wait


def test_stop_lets_runs_finish_then_agents_exit(client: Api) -> None:
    sweep = client.create_sweep(GRID)
    agent = client.register_agent(sweep["id"])
    run_id = client.next_run(agent)["run_id"]
    client.ok(client.post(f"runs/{run_id}/start", json={}))
    client.ok(client.post(f"sweeps/{sweep['id']}/state", json={"action": "stop"}))
    assert client.heartbeat(agent, [run_id]) == []  # its run continues to completion
    assert client.run(run_id)["state"] == "running"
    client.ok(client.post(f"runs/{run_id}/finish", json={"exit_code": 0}))
    (command,) = client.heartbeat(agent)
    assert command["type"] == "exit"
    assert command["kill"] is False
    assert sweep["id"] in command["reason"]


def test_cancel_kills_pending_and_stops_running_runs(client: Api) -> None:
    sweep = client.create_sweep(GRID)
    first, second = client.register_agent(sweep["id"]), client.register_agent(sweep["id"])
    running = client.next_run(first)["run_id"]
    pending = client.next_run(second)["run_id"]
    client.ok(client.post(f"runs/{running}/start", json={}))
    client.ok(client.post(f"sweeps/{sweep['id']}/state", json={"action": "cancel"}))
    killed = client.run(pending)
    assert (killed["state"], killed["stop_reason"]) == ("killed", "sweep canceled")
    flagged = client.run(running)
    assert (flagged["state"], flagged["stopped"]) == ("running", True)
    commands = client.heartbeat(first, [running])
    assert [c["type"] for c in commands] == ["stop", "exit"]
    assert commands[0]["run_id"] == running
    assert commands[1]["kill"] is True
    assert "canceled" in commands[1]["reason"]
    # the process died of the kill: a non-zero exit is still recorded killed (spec §8.1)
    ended = client.ok(client.post(f"runs/{running}/finish", json={"exit_code": 1}))
    assert ended["state"] == "killed"
    assert client.sweep(sweep["id"])["run_counts"]["killed"] == 2


# -- values no store could hold (the SQL columns' limits, enforced for every store) ---------------


@pytest.mark.parametrize(
    ("body", "names"),
    [
        pytest.param(
            {"config": GRID, "project": "p" * 129},
            ["project: is 129 characters long; shorten it to 128"],
            id="long-project",
        ),
        pytest.param(
            {"config": GRID, "project": "team/mnist"}, ["project: contains '/'"], id="slash-project"
        ),
        pytest.param(
            {"config": {**GRID, "project": "a/b"}},
            ["config.project: contains '/'"],
            id="slash-config-project",
        ),
        pytest.param(
            {"config": GRID, "name": "n" * 257},
            ["name: is 257 characters long; shorten it to 256"],
            id="long-name",
        ),
        pytest.param(
            {"config": {**GRID, "name": "a\x00b"}},
            ["config.name: contains a NUL"],
            id="nul-config-name",
        ),
    ],
)
def test_create_values_no_store_can_hold_are_422(
    client: Api, body: dict[str, Any], names: list[str]
) -> None:
    error = client.error(client.post("sweeps", json=body), 422)
    assert error.error == "ValidationError"
    for name in names:
        assert name in error.message
    assert client.ok(client.get("sweeps")) == []


def test_non_finite_numbers_in_a_config_are_stored_as_null(client: Api) -> None:
    config = {"method": "grid", "parameters": {"x": {"values": [1.5, "NaN-placeholder"]}}}
    raw = json.dumps({"config": config}).replace('"NaN-placeholder"', "NaN")
    response = client.post("sweeps", content=raw, headers={"content-type": "application/json"})
    sweep = client.ok(response, 201)
    assert sweep["config"]["parameters"]["x"]["values"] == [1.5, None]
    assert client.sweep(sweep["id"])["config"] == sweep["config"]
