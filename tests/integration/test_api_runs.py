"""The HTTP API's run endpoints over every store: start, history (with the early-termination
answer, spec §5), summary, output, finish (spec §8.2) and import (spec §11)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Api, FakeClock

GRID = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"values": [1, 2, 3, 4, 5, 6]}},
}


def _rows(*values: float, key: str = "loss", start: int = 0) -> dict[str, Any]:
    return {"rows": [{"step": start + i, "metrics": {key: v}} for i, v in enumerate(values)]}


def _new_run(client: Api, config: dict[str, Any] | None = None) -> tuple[str, str, str]:
    """(sweep id, agent id, run id) of a fresh run handed out by heartbeat (still pending)."""
    sweep_id: str = client.create_sweep(config or GRID)["id"]
    agent = client.register_agent(sweep_id)
    run_id: str = client.next_run(agent)["run_id"]
    return sweep_id, agent, run_id


# -- start, read ---------------------------------------------------------------------------------


def test_a_handed_out_run_is_pending_until_started(client: Api, clock: FakeClock) -> None:
    sweep_id, agent, run_id = _new_run(client)
    run = client.run(run_id)
    assert (run["sweep_id"], run["state"], run["agent_id"]) == (sweep_id, "pending", agent)
    assert run["params"] == {"x": 1}
    assert run["name"]
    assert run["started_at"] is None
    clock.advance(5)
    body = {"host": "gpu-1", "agent_id": agent}
    started = client.ok(client.post(f"runs/{run_id}/start", json=body))
    assert (started["state"], started["host"]) == ("running", "gpu-1")
    assert started["started_at"].startswith("2026-03-04T05:06:12")
    again = client.ok(client.post(f"runs/{run_id}/start", json={}))
    assert again["state"] == "running"
    assert again["started_at"] == started["started_at"]
    assert [r["id"] for r in client.ok(client.get(f"sweeps/{sweep_id}/runs"))] == [run_id]


def test_start_records_what_init_says_about_the_run(client: Api) -> None:
    _, agent, run_id = _new_run(client)
    plain = client.ok(client.post(f"runs/{run_id}/start", json={"agent_id": agent}))
    assert (plain["tags"], plain["notes"], plain["group"], plain["job_type"]) == (
        [],
        None,
        None,
        None,
    )
    described = {
        "name": "baseline-lr",
        "tags": ["baseline", "v2"],
        "notes": "first try",
        "group": "cv-fold",
        "job_type": "train",
    }
    run = client.ok(client.post(f"runs/{run_id}/start", json=described))
    assert {key: run[key] for key in described} == described
    assert client.run(run_id)["name"] == "baseline-lr"
    too_long = client.error(client.post(f"runs/{run_id}/start", json={"tags": ["t" * 65]}), 422)
    assert "tags.0" in too_long.message
    assert client.run(run_id)["tags"] == ["baseline", "v2"]  # nothing changed


# -- history, summary, output --------------------------------------------------------------------


def test_history_is_stored_by_step_and_fills_the_summary(client: Api) -> None:
    _, _, run_id = _new_run(client)
    batch = {
        "rows": [
            {"step": 0, "metrics": {"loss": 0.9, "acc": 0.1}},
            {"step": 1, "metrics": {"loss": 0.5}},
            {"step": 2, "metrics": {"acc": 0.7, "note": "ok"}},
        ],
        "summary": {"best_loss": 0.5},
    }
    ack = client.ok(client.post(f"runs/{run_id}/history", json=batch))
    assert ack == {"stop": False, "reason": None}
    run = client.run(run_id)
    assert run["state"] == "running"  # a pending run that logs is running
    # the last logged value of each key, then the batch's summary
    assert run["summary"] == {"loss": 0.5, "acc": 0.7, "note": "ok", "best_loss": 0.5}
    history = client.ok(client.get(f"runs/{run_id}/history"))
    assert history == [
        {"step": 0, "metrics": {"loss": 0.9, "acc": 0.1}},
        {"step": 1, "metrics": {"loss": 0.5}},
        {"step": 2, "metrics": {"acc": 0.7, "note": "ok"}},
    ]
    only_loss = client.ok(client.get(f"runs/{run_id}/history", params={"keys": "loss"}))
    assert only_loss == [
        {"step": 0, "metrics": {"loss": 0.9}},
        {"step": 1, "metrics": {"loss": 0.5}},
    ]
    client.ok(client.post(f"runs/{run_id}/history", json=_rows(0.2, start=3)))
    assert client.ok(client.get(f"runs/{run_id}/history", params={"keys": "loss"}))[-1] == {
        "step": 3,
        "metrics": {"loss": 0.2},
    }


def test_summary_update_merges_key_by_key(client: Api) -> None:
    _, _, run_id = _new_run(client)
    client.ok(client.post(f"runs/{run_id}/summary", json={"summary": {"a": 1, "b": 2}}))
    merged = client.ok(client.post(f"runs/{run_id}/summary", json={"summary": {"b": 3}}))
    assert merged["summary"] == {"a": 1, "b": 3}


def test_output_is_appended_and_read_with_tail(client: Api) -> None:
    _, _, run_id = _new_run(client)
    for stream, text in [("stdout", "epoch 1\n"), ("stderr", "warn\n"), ("stdout", "epoch 2\n")]:
        ack = client.ok(client.post(f"runs/{run_id}/output", json={"stream": stream, "text": text}))
        assert ack == {"ok": True}
    text = client.ok(client.get(f"runs/{run_id}/output"))["text"]
    assert text == "epoch 1\nwarn\nepoch 2\n"
    tail = client.ok(client.get(f"runs/{run_id}/output", params={"tail": 1}))["text"]
    assert tail == "epoch 2\n"
    assert client.ok(client.get(f"runs/{run_id}/output", params={"tail": 0}))["text"] == ""


# -- early termination (spec §5) -----------------------------------------------------------------


HYPERBAND = {
    **GRID,
    "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
}


def test_history_answer_carries_the_hyperband_stop_order(client: Api) -> None:
    """Bands 2, 4, 8...; at band 2 the sweep holds 5, 8 (finished), 4.5 and 9 (running):
    sorted [4.5, 5, 8, 9], threshold sorted[floor(4 / 2)] = 8, and 9 > 8 stops the last run
    (spec §5.4, §5.5, strict)."""
    sweep = client.create_sweep(HYPERBAND)
    assert sweep["config"]["early_terminate"]["strict"] is True
    sweep_id = sweep["id"]
    for losses in [(10, 5, 4, 3), (10, 8, 7, 6)]:
        body = {"params": {"x": 9}, "history": _rows(*losses)["rows"]}
        client.ok(client.post(f"sweeps/{sweep_id}/runs", json=body), 201)
    good_agent, bad_agent = client.register_agent(sweep_id), client.register_agent(sweep_id)
    good = client.next_run(good_agent)["run_id"]
    bad = client.next_run(bad_agent)["run_id"]
    for run_id in (good, bad):
        client.ok(client.post(f"runs/{run_id}/start", json={}))
    assert client.ok(client.post(f"runs/{good}/history", json=_rows(10, 4.5))) == {
        "stop": False,
        "reason": None,
    }
    assert client.ok(client.post(f"runs/{bad}/history", json=_rows(1))) == {
        "stop": False,
        "reason": None,
    }  # one value: no band reached yet
    ack = client.ok(client.post(f"runs/{bad}/history", json=_rows(9, start=1)))
    assert ack["stop"] is True
    assert ack["reason"]
    assert "threshold 8" in ack["reason"]  # the reason names the threshold it missed
    flagged = client.run(bad)
    assert (flagged["state"], flagged["stopped"]) == ("running", True)
    assert flagged["stop_reason"] == ack["reason"]
    assert not client.run(good)["stopped"]
    # the agent's next heartbeat carries the order, on every heartbeat until the run is gone
    for _ in range(2):
        assert client.heartbeat(bad_agent, [bad]) == [
            {"type": "stop", "run_id": bad, "reason": ack["reason"]}
        ]
    assert client.heartbeat(good_agent, [good]) == []
    # a later batch still answers stop
    again = client.ok(client.post(f"runs/{bad}/history", json=_rows(9.5, start=2)))
    assert again == ack
    # it died of SIGTERM or exited 1: either way an early-stopped run ends killed (spec §5.7)
    ended = client.ok(client.post(f"runs/{bad}/finish", json={"exit_code": 1}))
    assert (ended["state"], ended["stopped"], ended["exit_code"]) == ("killed", True, 1)
    assert client.next_run(bad_agent)["run_id"] not in (good, bad)


def test_without_early_terminate_history_never_stops(client: Api) -> None:
    _, _, run_id = _new_run(client)
    for start, value in enumerate([1.0, 100.0, 1000.0]):
        ack = client.ok(client.post(f"runs/{run_id}/history", json=_rows(value, start=start)))
        assert ack == {"stop": False, "reason": None}


# -- finish (spec §8.2) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "state"),
    [
        pytest.param({"exit_code": 0}, "finished", id="exit-0"),
        pytest.param({"exit_code": 1}, "failed", id="exit-1"),
        pytest.param({"exit_code": -15}, "killed", id="signal"),
        pytest.param({}, "finished", id="no-code"),
        pytest.param({"exit_code": 1, "state": "crashed"}, "crashed", id="explicit"),
    ],
)
def test_finish_derives_the_state(
    client: Api, clock: FakeClock, body: dict[str, Any], state: str
) -> None:
    _, _, run_id = _new_run(client)
    client.ok(client.post(f"runs/{run_id}/start", json={}))
    clock.advance(60)
    ended = client.ok(client.post(f"runs/{run_id}/finish", json=body))
    assert ended["state"] == state
    assert ended["exit_code"] == body.get("exit_code")
    assert ended["ended_at"].startswith("2026-03-04T05:07:07")
    assert client.run(run_id) == ended


def test_finish_is_retryable_but_recorded_once(client: Api) -> None:
    _, _, run_id = _new_run(client)
    first = client.ok(client.post(f"runs/{run_id}/finish", json={"exit_code": 0}))
    assert client.ok(client.post(f"runs/{run_id}/finish", json={"exit_code": 0})) == first
    error = client.error(client.post(f"runs/{run_id}/finish", json={"exit_code": 2}), 409)
    assert error.error == "ConflictError"
    assert error.message == (
        f"run {run_id} already ended finished with exit code 0 and cannot become failed; "
        "a run's end is recorded once"
    )
    assert client.run(run_id) == first


def test_an_ended_run_refuses_more_history_with_409(client: Api) -> None:
    _, _, run_id = _new_run(client)
    client.ok(client.post(f"runs/{run_id}/finish", json={"exit_code": 0}))
    error = client.error(client.post(f"runs/{run_id}/history", json=_rows(1.0)), 409)
    assert run_id in error.message


# -- import (spec §11) ---------------------------------------------------------------------------


def test_import_run_adds_a_whole_ended_run(client: Api) -> None:
    sweep = client.create_sweep(GRID, project="p")
    body = {
        "run_id": "prior-1",
        "name": "from-laptop",
        "params": {"x": 3},
        "history": _rows(0.8, 0.4)["rows"],
        "summary": {"note": "offline"},
        "exit_code": 0,
    }
    run = client.ok(client.post(f"sweeps/p/{sweep['id']}/runs", json=body), 201)
    assert (run["id"], run["name"], run["state"]) == ("prior-1", "from-laptop", "finished")
    assert (run["sweep_id"], run["params"], run["exit_code"]) == (sweep["id"], {"x": 3}, 0)
    assert run["summary"] == {"loss": 0.4, "note": "offline"}
    assert len(client.ok(client.get("runs/prior-1/history"))) == 2
    assert client.sweep(sweep["id"])["best"] == {"run_id": "prior-1", "value": 0.4}
    taken = client.error(client.post(f"sweeps/{sweep['id']}/runs", json=body), 409)
    assert "run id 'prior-1' is already taken" in taken.message
    fresh = client.ok(
        client.post(f"sweeps/{sweep['id']}/runs", json={"params": {"x": 4}, "state": "failed"}),
        201,
    )
    assert fresh["id"] != "prior-1"
    assert fresh["state"] == "failed"


# -- malformed requests and unknown runs ---------------------------------------------------------


@pytest.mark.parametrize("store", ["memory"], indirect=True)
@pytest.mark.parametrize(
    ("path", "body", "names"),
    [
        pytest.param(
            "history", {"rows": [{"step": -1, "metrics": {}}]}, ["rows.0.step:"], id="step"
        ),
        pytest.param("history", {"rows": [{"step": 0}]}, ["rows.0.metrics"], id="metrics"),
        pytest.param("history", {"row": []}, ["rows: field required", "row: unknown"], id="rows"),
        pytest.param("output", {"stream": "stdlog", "text": "x"}, ["stream:"], id="stream"),
        pytest.param("summary", {"summary": [1]}, ["summary:"], id="summary"),
        pytest.param("finish", {"state": "done"}, ["state:", "'done'"], id="state"),
        pytest.param("finish", {"exit_code": "zero"}, ["exit_code:"], id="exit-code"),
        pytest.param("start", {"hostname": "h"}, ["hostname: unknown field"], id="start"),
    ],
)
def test_malformed_run_bodies_are_422_naming_the_field(
    client: Api, path: str, body: dict[str, Any], names: list[str]
) -> None:
    _, _, run_id = _new_run(client)
    before = client.run(run_id)
    error = client.error(client.post(f"runs/{run_id}/{path}", json=body), 422)
    assert error.error == "ValidationError"
    assert f"POST /api/v1/runs/{run_id}/{path}" in error.message
    for name in names:
        assert name in error.message
    assert client.run(run_id) == before


@pytest.mark.parametrize("store", ["memory"], indirect=True)
def test_malformed_import_and_query_are_422(client: Api) -> None:
    sweep_id, _, run_id = _new_run(client)
    running = {"params": {"x": 1}, "state": "running"}
    error = client.error(client.post(f"sweeps/{sweep_id}/runs", json=running), 422)
    assert "state:" in error.message
    error = client.error(client.post(f"sweeps/{sweep_id}/runs", json={}), 422)
    assert "params: field required" in error.message
    error = client.error(client.get(f"runs/{run_id}/output", params={"tail": -1}), 422)
    assert "tail:" in error.message


def test_unknown_run_is_404_on_every_run_endpoint(client: Api) -> None:
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "", None),
        ("POST", "/start", {}),
        ("POST", "/history", {"rows": []}),
        ("GET", "/history", None),
        ("POST", "/summary", {"summary": {}}),
        ("POST", "/output", {"stream": "stdout", "text": "x"}),
        ("GET", "/output", None),
        ("POST", "/finish", {"exit_code": 0}),
    ]
    for method, suffix, body in calls:
        error = client.error(client.request(method, f"runs/missing{suffix}", json=body), 404)
        assert (error.error, error.message) == ("NotFoundError", "no run with id 'missing'")


# -- values no store could hold (the SQL columns' limits, enforced for every store) ---------------


def _post_raw(client: Api, path: str, body: dict[str, Any]) -> Any:
    """POST with Python's JSON, which writes NaN and Infinity as the bare tokens curl could send."""
    raw = json.dumps(body)
    return client.post(path, content=raw, headers={"content-type": "application/json"})


def test_nan_and_infinity_are_stored_as_null(client: Api) -> None:
    sweep_id, _, run_id = _new_run(client, HYPERBAND)
    client.ok(client.post(f"runs/{run_id}/start", json={}))
    rows = {
        "rows": [
            {"step": 0, "metrics": {"loss": math.nan, "grad": math.inf}},
            {"step": 1, "metrics": {"loss": -math.inf, "nested": {"v": [math.nan, 1.0]}}},
        ],
        "summary": {"best": math.nan},
    }
    assert client.ok(_post_raw(client, f"runs/{run_id}/history", rows)) == {
        "stop": False,
        "reason": None,
    }
    assert client.ok(client.get(f"runs/{run_id}/history")) == [
        {"step": 0, "metrics": {"loss": None, "grad": None}},
        {"step": 1, "metrics": {"loss": None, "nested": {"v": [None, 1.0]}}},
    ]
    ran = client.run(run_id)
    assert ran["summary"] == {
        "loss": None,
        "grad": None,
        "nested": {"v": [None, 1.0]},
        "best": None,
    }
    client.ok(_post_raw(client, f"runs/{run_id}/summary", {"summary": {"acc": math.inf}}))
    assert client.run(run_id)["summary"]["acc"] is None
    imported = {"params": {"x": math.nan}, "history": rows["rows"], "summary": {"s": math.inf}}
    prior = client.ok(_post_raw(client, f"sweeps/{sweep_id}/runs", imported), 201)
    assert prior["params"] == {"x": None}
    assert prior["summary"]["s"] is None
    assert client.sweep(sweep_id)["best"] is None  # null is no value of the metric


def test_output_nul_bytes_are_kept_as_replacement_characters(client: Api) -> None:
    _, _, run_id = _new_run(client)
    body = {"stream": "stdout", "text": "bin\x00ary\n"}
    client.ok(client.post(f"runs/{run_id}/output", json=body))
    assert client.ok(client.get(f"runs/{run_id}/output"))["text"] == "bin\ufffdary\n"


def test_run_values_no_store_can_hold_are_422(client: Api) -> None:
    sweep_id, _, run_id = _new_run(client)
    cases: list[tuple[str, dict[str, Any], str]] = [
        (f"runs/{run_id}/history", _rows(1.0, start=2**63), "rows.0.step: must be between"),
        (f"runs/{run_id}/finish", {"exit_code": 2**64}, "exit_code: must be between"),
        (f"runs/{run_id}/start", {"host": "h" * 257}, "host: is 257 characters long"),
        (f"sweeps/{sweep_id}/runs", {"params": {}, "run_id": "a/b"}, "run_id: contains '/'"),
        (f"sweeps/{sweep_id}/runs", {"params": {}, "run_id": "r" * 65}, "run_id: is 65 char"),
        (f"sweeps/{sweep_id}/runs", {"params": {}, "name": "n" * 257}, "name: is 257 char"),
        (
            f"sweeps/{sweep_id}/runs",
            {"params": {}, "history": [{"step": 2**63, "metrics": {}}]},
            "history.0.step: must be between",
        ),
    ]
    before = client.run(run_id)
    for path, body, name in cases:
        error = client.error(client.post(path, json=body), 422)
        assert name in error.message, (path, error.message)
    assert client.run(run_id) == before
    assert len(client.ok(client.get(f"sweeps/{sweep_id}/runs"))) == 1
    # the limits themselves are fine: 64-bit steps (tokens, samples) and exit codes
    client.ok(client.post(f"runs/{run_id}/history", json=_rows(1.0, start=2**63 - 1)))
    client.ok(client.post(f"runs/{run_id}/finish", json={"exit_code": -(2**63)}))


def test_grid_skips_the_points_of_imported_runs(client: Api) -> None:
    """spec §11: prior runs are ordinary members of the sweep; grid skips their combinations."""
    config = {"method": "grid", "parameters": {"x": {"values": [1, 2, 3]}}}
    sweep_id = client.create_sweep(config)["id"]
    client.ok(client.post(f"sweeps/{sweep_id}/runs", json={"params": {"x": 2}}), 201)
    agent = client.register_agent(sweep_id)
    handed = []
    for _ in range(2):
        command = client.next_run(agent)
        handed.append(command["params"]["x"])
        client.ok(client.post(f"runs/{command['run_id']}/finish", json={"exit_code": 0}))
    assert sorted(handed) == [1, 3]
    assert [c["type"] for c in client.heartbeat(agent)] == ["exit"]


@pytest.mark.parametrize("store", ["memory"], indirect=True)
@pytest.mark.parametrize(
    ("body", "state"),
    [
        ({"exit_code": 0}, "killed"),  # spec §5.7: however it exited
        ({"exit_code": 1, "state": "failed"}, "killed"),
        # its agent saw it exit 0 before the order reached it: its results are whole
        ({"exit_code": 0, "state": "finished"}, "finished"),
    ],
)
def test_a_stopped_run_is_killed_unless_it_finished_before_the_order_reached_it(
    client: Api, body: dict[str, Any], state: str
) -> None:
    sweep_id, _, run_id = _new_run(client)
    client.ok(client.post(f"runs/{run_id}/start", json={}))
    client.ok(client.post(f"sweeps/{sweep_id}/state", json={"action": "cancel"}))
    assert client.run(run_id)["stopped"] is True
    ended = client.ok(client.post(f"runs/{run_id}/finish", json=body))
    assert (ended["state"], ended["stopped"], ended["stop_reason"]) == (
        state,
        True,
        "sweep canceled",
    )


def test_a_retried_history_batch_is_stored_once(client: Api) -> None:
    _, _, run_id = _new_run(client)
    client.ok(client.post(f"runs/{run_id}/start", json={}))
    first = {**_rows(1.0, 0.5), "batch": 1}
    client.ok(client.post(f"runs/{run_id}/history", json=first))
    client.ok(client.post(f"runs/{run_id}/history", json=first))  # its answer was lost
    client.ok(client.post(f"runs/{run_id}/history", json={**_rows(0.2, start=2), "batch": 2}))
    steps = [row["step"] for row in client.ok(client.get(f"runs/{run_id}/history"))]
    assert steps == [0, 1, 2]
    error = client.error(client.post(f"runs/{run_id}/history", json={**first, "batch": 0}), 422)
    assert "batch" in error.message
