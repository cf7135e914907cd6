"""The dashboard's server side: its pages and assets, Plotly.js from the installed package, the
parameter importance endpoint and the sweep's server-sent events."""

from __future__ import annotations

import gzip
import json
import math
import random
import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import httpx
import pytest

import hypersweep.dashboard as dashboard
from _servers import auth_headers, server_thread
from hypersweep.domain import RunState
from hypersweep.server import events
from hypersweep.store import MemoryStore, Store

if TYPE_CHECKING:
    from conftest import Api

ROOT = "http://testserver"
CONFIG: dict[str, Any] = {
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "lr": {"min": 0.0, "max": 1.0},
        "opt": {"values": ["adam", "sgd"]},
        "width": {"value": 64},
    },
}


def import_run(client: Api, sweep_id: str, **body: Any) -> dict[str, Any]:
    run: dict[str, Any] = client.ok(client.post(f"sweeps/{sweep_id}/runs", json=body), 201)
    return run


# -- pages and assets -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "script"),
    [
        ("/", "/static/index.js"),
        ("/sweeps/some-sweep", "/static/sweep.js"),
        ("/sweeps/proj/some-sweep", "/static/sweep.js"),
        ("/runs/some-run", "/static/run.js"),
    ],
)
def test_each_page_is_html_whose_assets_are_all_served(client: Api, path: str, script: str) -> None:
    page = client.get(ROOT + path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert script in assets
    assert "/static/plotly.min.js" in assets
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text), "nothing from the internet"
    for asset in assets:
        response = client.get(ROOT + asset)
        assert response.status_code == 200, asset
        assert response.content


def test_unknown_asset_is_a_404_error_body(client: Api) -> None:
    error = client.error(client.get(f"{ROOT}/static/nothing.js"), 404)
    assert "nothing.js" in error.message
    assert "dashboard starts at /" in error.message


def test_plotly_is_served_from_the_installed_package_gzipped(client: Api) -> None:
    path = dashboard.plotly_js_path()
    assert path is not None
    assert path.parts[-3:] == ("plotly", "package_data", "plotly.min.js")
    expected = path.read_bytes()
    client.event_hooks = {"response": []}  # the checking hook would read (and decode) the body
    with client.stream(
        "GET", f"{ROOT}/static/plotly.min.js", headers={"accept-encoding": "gzip"}
    ) as response:
        raw = b"".join(response.iter_raw())
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"].startswith("text/javascript")
    assert len(raw) < len(expected) / 2
    assert gzip.decompress(raw) == expected

    plain = client.get(f"{ROOT}/static/plotly.min.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == expected


def test_plotly_missing_is_a_404_that_names_the_fix(
    client: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "plotly_js_path", lambda: None)
    error = client.error(client.get(f"{ROOT}/static/plotly.min.js"), 404)
    assert "pip install plotly" in error.message


# -- parameter importance ---------------------------------------------------------------------


def test_importance_finds_the_parameter_that_drives_the_metric(client: Api) -> None:
    sweep = client.create_sweep(CONFIG, project="p")
    rng = random.Random(7)
    for _ in range(30):
        lr, opt = rng.random(), rng.choice(["adam", "sgd"])
        # lr drives the loss up strongly, sgd adds a little; width never changes
        loss = 3 * lr + (0.3 if opt == "sgd" else 0.0) + rng.random() * 0.01
        import_run(
            client,
            sweep["id"],
            params={"lr": lr, "opt": opt, "width": 64, "sleep": 0.2},
            summary={"loss": loss},
        )
    # neither a failed run nor a run without the metric counts
    import_run(client, sweep["id"], params={"lr": 0.5}, summary={"loss": 99.0}, state="failed")
    import_run(client, sweep["id"], params={"lr": 0.5}, summary={"acc": 1.0})

    body = client.ok(client.get(f"sweeps/{sweep['id']}/importance"))
    assert body["metric"] == "loss"
    assert body["goal"] == "minimize"
    assert body["runs_used"] == 30
    assert body["message"] is None
    params = {p["name"]: p for p in body["params"]}
    assert set(params) == {"lr", "opt", "width", "sleep"}
    assert body["params"][0]["name"] == "lr", "sorted by importance"
    assert params["lr"]["kind"] == "numeric"
    assert params["lr"]["importance"] > 0.7
    assert params["lr"]["correlation"] > 0.9
    assert sum(p["importance"] for p in body["params"]) == pytest.approx(1.0)
    assert params["width"]["importance"] == 0.0
    assert params["width"]["correlation"] is None, "a constant has no correlation"
    # 0.2 thirty times sums to no exact 6.0: the mean's rounding is no variation either
    assert params["sleep"]["correlation"] is None
    opt = params["opt"]
    assert opt["kind"] == "categorical"
    assert opt["correlation"] is None
    levels = {level["value"]: level["correlation"] for level in opt["levels"]}
    assert levels["sgd"] > 0 > levels["adam"]
    assert levels["sgd"] == pytest.approx(-levels["adam"])
    # the PROJECT/ID path answers the same
    assert client.ok(client.get(f"sweeps/p/{sweep['id']}/importance")) == body


def test_importance_is_fitted_again_only_when_the_runs_change(
    client: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hypersweep.server import importance

    fits: list[int] = []
    fit = importance.importance_of

    def counting(config: Any, runs: Any) -> Any:
        fits.append(len(runs))
        return fit(config, runs)

    monkeypatch.setattr(importance, "importance_of", counting)
    sweep = client.create_sweep(CONFIG, project="p")
    for lr in (0.1, 0.2, 0.3):
        import_run(client, sweep["id"], params={"lr": lr}, summary={"loss": lr})
    first = client.ok(client.get(f"sweeps/{sweep['id']}/importance"))
    assert client.ok(client.get(f"sweeps/p/{sweep['id']}/importance")) == first
    assert fits == [3]  # the second answer came from the cache
    import_run(client, sweep["id"], params={"lr": 0.4}, summary={"loss": 0.4})
    assert client.ok(client.get(f"sweeps/{sweep['id']}/importance"))["runs_used"] == 4
    assert fits == [3, 4]


def test_importance_with_nested_list_and_mixed_params_does_not_crash(client: Api) -> None:
    sweep = client.create_sweep(CONFIG)
    values: list[Any] = [[1, 2], True, "x", None, 3]
    for index in range(10):
        params = {"opt": {"lr": index / 10}, "layers": values[index % len(values)]}
        import_run(client, sweep["id"], params=params, summary={"loss": float(index)})
    body = client.ok(client.get(f"sweeps/{sweep['id']}/importance"))
    params = {p["name"]: p for p in body["params"]}
    assert set(params) == {"opt.lr", "layers"}
    assert params["opt.lr"]["correlation"] == pytest.approx(1.0)
    assert params["layers"]["kind"] == "categorical"
    assert {level["value"] for level in params["layers"]["levels"]} == {
        "[1, 2]",
        "true",
        "x",
        "(missing)",
        "3",
    }


def test_importance_needs_three_finished_runs(client: Api) -> None:
    sweep = client.create_sweep(CONFIG)
    for loss in (1.0, 2.0):
        import_run(client, sweep["id"], params={"lr": loss}, summary={"loss": loss})
    body = client.ok(client.get(f"sweeps/{sweep['id']}/importance"))
    assert body["params"] == []
    assert body["runs_used"] == 2
    assert "at least 3 finished runs" in body["message"]
    assert "'loss'" in body["message"]


def test_importance_without_a_metric_says_so(client: Api) -> None:
    config = {key: value for key, value in CONFIG.items() if key != "metric"}
    sweep = client.create_sweep(config)
    body = client.ok(client.get(f"sweeps/{sweep['id']}/importance"))
    assert body["params"] == []
    assert "no metric" in body["message"]


def test_importance_of_an_unknown_sweep_is_a_404(client: Api) -> None:
    error = client.error(client.get("sweeps/nope/importance"), 404)
    assert "nope" in error.message


def test_events_of_an_unknown_sweep_is_a_404(client: Api) -> None:
    error = client.error(client.get("sweeps/nope/events"), 404)
    assert "nope" in error.message


# -- model predictions ------------------------------------------------------------------------

BAYES: dict[str, Any] = {
    "method": "bayes",
    "metric": {"name": "loss", "goal": "maximize"},
    "parameters": {"x": {"min": 0.0, "max": 1.0}},
}


def run_bayes(client: Api, sweep_id: str, runs: int) -> list[str]:
    """``runs`` runs handed out by the controller, each finished with loss = -(x - 0.3)^2."""
    agent = client.register_agent(sweep_id)
    ids = []
    for _ in range(runs):
        command = client.next_run(agent)
        run_id = command["run_id"]
        client.ok(client.post(f"runs/{run_id}/start", json={"agent_id": agent}))
        loss = -((command["params"]["x"] - 0.3) ** 2)
        client.ok(client.post(f"runs/{run_id}/summary", json={"summary": {"loss": loss}}))
        client.ok(client.post(f"runs/{run_id}/finish", json={"exit_code": 0}))
        ids.append(run_id)
    return ids


def test_bayes_predictions_pair_each_model_choice_with_the_value_reached(client: Api) -> None:
    sweep = client.create_sweep(BAYES)
    ids = run_bayes(client, sweep["id"], 7)
    body = client.ok(client.get(f"sweeps/{sweep['id']}/predictions"))
    assert (body["metric"], body["goal"], body["message"]) == ("loss", "maximize", None)
    # the warm-up runs come from the design and predict nothing; every later one does
    assert 1 <= body["runs_with_prediction"] == len(body["points"]) <= 4
    points = {point["run_id"]: point for point in body["points"]}
    assert set(points) <= set(ids[3:])
    for run_id, point in points.items():
        run = client.run(run_id)
        assert point["actual"] == run["summary"]["loss"]
        assert point["state"] == "finished"
        info = client.ok(client.get(f"runs/{run_id}/search-info"))["search_info"]
        # in the metric's units, not negated though the goal is maximize
        assert point["predicted"] == info["predicted_metric"] == -info["predicted_value"]
        assert point["std"] == info["predicted_value_std_dev"] > 0
        assert info["phase"] == "model"
    created = [point["created_at"] for point in body["points"]]
    assert created == sorted(created)
    latest = client.ok(
        client.get(f"sweeps/uncategorized/{sweep['id']}/predictions", params={"limit": 1})
    )
    assert latest["points"] == body["points"][-1:]
    assert latest["runs_with_prediction"] == body["runs_with_prediction"]


def test_a_warm_up_run_has_search_info_without_a_prediction(client: Api) -> None:
    sweep = client.create_sweep(BAYES)
    (first,) = run_bayes(client, sweep["id"], 1)
    info = client.ok(client.get(f"runs/{first}/search-info"))
    assert info["run_id"] == first
    assert "predicted_metric" not in info["search_info"]
    body = client.ok(client.get(f"sweeps/{sweep['id']}/predictions"))
    assert body["points"] == []
    assert "warm-up" in body["message"]


def test_predictions_of_a_random_sweep_say_which_method_makes_them(client: Api) -> None:
    sweep = client.create_sweep(CONFIG)
    body = client.ok(client.get(f"sweeps/{sweep['id']}/predictions"))
    assert body["points"] == []
    assert "'random'" in body["message"] and "bayes" in body["message"]
    assert client.ok(client.get(f"sweeps/{sweep['id']}/predictions?limit=0"))["points"] == []
    error = client.error(client.get(f"sweeps/{sweep['id']}/predictions?limit=-1"), 422)
    assert "limit" in error.message


def test_predictions_and_search_info_of_unknown_ids_are_404s(client: Api) -> None:
    assert "nope" in client.error(client.get("sweeps/nope/predictions"), 404).message
    assert "nope" in client.error(client.get("runs/nope/search-info"), 404).message


# -- server-sent events -----------------------------------------------------------------------


def read_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(event, data)`` pairs of a ``text/event-stream``; comment lines are skipped."""
    name, data = "message", ""
    for line in response.iter_lines():
        if line == "":
            if data:
                yield name, json.loads(data)
            name, data = "message", ""
        elif line.startswith("event:"):
            name = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data += line[len("data:") :].strip()


def next_delta(events: Iterator[tuple[str, dict[str, Any]]], deadline: float) -> dict[str, Any]:
    for name, data in events:
        assert name == "delta", (name, data)
        return data
    raise AssertionError(f"the stream ended; {deadline - time.monotonic():.1f} s were left")


def test_events_send_a_snapshot_then_only_what_changed(store: Store) -> None:
    with (
        server_thread(store) as url,
        httpx.Client(base_url=f"{url}/api/v1/", headers=auth_headers(url)) as api,
    ):
        sweep = api.post("sweeps", json={"config": CONFIG}).json()
        old = api.post(
            f"sweeps/{sweep['id']}/runs", json={"params": {"lr": 0.1}, "summary": {"loss": 1.0}}
        ).json()
        timeout = httpx.Timeout(10.0)  # a bounded read: no event in 10 s fails the test
        with httpx.stream(
            "GET",
            f"{url}/api/v1/sweeps/{sweep['id']}/events?interval=0.2",
            timeout=timeout,
            headers=auth_headers(url),
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = read_events(response)
            deadline = time.monotonic() + 10
            name, snapshot = next(events)
            assert name == "snapshot"
            assert snapshot["sweep"]["id"] == sweep["id"]
            assert [run["id"] for run in snapshot["runs"]] == [old["id"]]

            # an agent starts a run, which logs two rows
            agent = api.post(f"sweeps/{sweep['id']}/agents", json={"host": "h", "pid": 1}).json()
            command = api.post(f"agents/{agent['id']}/heartbeat", json={"running": []}).json()
            run_id = command["commands"][0]["run_id"]
            api.post(f"runs/{run_id}/start", json={"host": "h"}).raise_for_status()
            rows = [{"step": 0, "metrics": {"loss": 0.9}}, {"step": 1, "metrics": {"loss": 0.5}}]
            api.post(f"runs/{run_id}/history", json={"rows": rows}).raise_for_status()

            seen_runs: dict[str, dict[str, Any]] = {}
            seen_rows: list[dict[str, Any]] = []
            while len(seen_rows) < 2 or seen_runs.get(run_id, {}).get("state") != "running":
                delta = next_delta(events, deadline)
                assert old["id"] not in {run["id"] for run in delta["runs"]}, "unchanged run sent"
                seen_runs.update({run["id"]: run for run in delta["runs"]})
                for chunk in delta["history"]:
                    assert chunk["run_id"] == run_id
                    assert chunk["start"] == len(seen_rows), "rows sent twice or skipped"
                    seen_rows += chunk["rows"]
                assert time.monotonic() < deadline
            assert [row["step"] for row in seen_rows] == [0, 1]

            # only the new row comes next, then the finish
            more = [{"step": 2, "metrics": {"loss": 0.25}}]
            api.post(f"runs/{run_id}/history", json={"rows": more}).raise_for_status()
            delta = next_delta(events, deadline)
            while not delta["history"]:
                delta = next_delta(events, deadline)
            assert delta["history"] == [{"run_id": run_id, "start": 2, "rows": more}]
            api.post(f"runs/{run_id}/finish", json={"exit_code": 0}).raise_for_status()
            delta = next_delta(events, deadline)
            while run_id not in {run["id"] for run in delta["runs"]}:
                delta = next_delta(events, deadline)
            run = next(run for run in delta["runs"] if run["id"] == run_id)
            assert run["state"] == "finished"
        # the client went away; the server goes on answering
        assert api.get("health").status_code == 200


def test_the_event_stream_stops_polling_when_the_client_goes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    polls: list[float] = []
    delta = events.SweepWatcher.delta

    def counting(self: events.SweepWatcher) -> str | None:
        polls.append(time.monotonic())
        return delta(self)

    monkeypatch.setattr(events.SweepWatcher, "delta", counting)
    with server_thread(MemoryStore()) as url:
        headers = auth_headers(url)
        sweep = httpx.post(f"{url}/api/v1/sweeps", json={"config": CONFIG}, headers=headers).json()
        stream_url = f"{url}/api/v1/sweeps/{sweep['id']}/events?interval=0.1"
        with httpx.stream("GET", stream_url, timeout=10.0, headers=headers) as response:
            # held: dropping the generator would close the connection right away
            stream = read_events(response)
            assert next(stream)[0] == "snapshot"
            wait_until_polled = time.monotonic() + 5
            while len(polls) < 3:
                assert time.monotonic() < wait_until_polled, "the stream never polled"
                time.sleep(0.05)
        time.sleep(0.5)  # the server notices the closed connection
        after_close = len(polls)
        time.sleep(1.0)
        assert len(polls) <= after_close + 1, "the stream kept polling after the client left"


def test_a_nan_in_the_store_goes_out_as_null_not_as_invalid_json() -> None:
    store = MemoryStore()
    with (
        server_thread(store) as url,
        httpx.Client(base_url=f"{url}/api/v1/", headers=auth_headers(url)) as api,
    ):
        sweep = api.post("sweeps", json={"config": CONFIG}).json()
        agent = api.post(f"sweeps/{sweep['id']}/agents", json={"host": "h", "pid": 1}).json()
        command = api.post(f"agents/{agent['id']}/heartbeat", json={"running": []}).json()
        run_id = command["commands"][0]["run_id"]
        stream_url = f"{url}/api/v1/sweeps/{sweep['id']}/events?interval=0.1"
        with httpx.stream("GET", stream_url, timeout=10.0, headers=api.headers) as response:
            stream = read_events(response)
            assert next(stream)[0] == "snapshot"
            # written past the API, which would have turned the NaN into null itself
            store.update_run(run_id, datetime.now(timezone.utc), summary={"loss": math.nan})
            deadline = time.monotonic() + 10
            delta = next_delta(stream, deadline)
            while run_id not in {run["id"] for run in delta["runs"]}:
                delta = next_delta(stream, deadline)
    run = next(run for run in delta["runs"] if run["id"] == run_id)
    assert run["summary"] == {"loss": None}


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_watcher_sends_a_run_once_per_change_even_with_a_nan(kind: str, tmp_path: Any) -> None:
    from hypersweep.controller import Controller
    from hypersweep.server._context import AppContext
    from hypersweep.store import SqlStore

    store: Store = MemoryStore() if kind == "memory" else SqlStore(f"sqlite:///{tmp_path}/h.db")
    now = datetime.now(timezone.utc)
    sweep = store.create_sweep("p", CONFIG, now)
    runs = [store.create_run(sweep.id, {"lr": i / 10}, now) for i in range(3)]
    watcher = events.SweepWatcher(AppContext(store, Controller(store), lambda: now), sweep.id)
    assert len(json.loads(watcher.snapshot())["runs"]) == 3
    assert watcher.delta() is None
    store.update_run(runs[1].id, now, summary={"loss": math.nan})
    changed = watcher.delta()
    assert changed is not None
    assert [(run["id"], run["summary"]) for run in json.loads(changed)["runs"]] == [
        (runs[1].id, {"loss": None})
    ]
    assert watcher.delta() is None, "a NaN, unequal to itself, is not a change every time"
    store.update_run(runs[2].id, now, summary={"loss": 0.5})
    changed = watcher.delta()
    assert changed is not None
    assert [run["id"] for run in json.loads(changed)["runs"]] == [runs[2].id]
    assert watcher.delta() is None


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_watcher_sends_the_sweep_only_when_it_or_its_runs_change(
    kind: str, tmp_path: Any
) -> None:
    from hypersweep.controller import Controller
    from hypersweep.server._context import AppContext
    from hypersweep.store import SqlStore, SweepState

    store: Store = MemoryStore() if kind == "memory" else SqlStore(f"sqlite:///{tmp_path}/h.db")
    now = datetime.now(timezone.utc)
    sweep = store.create_sweep("p", CONFIG, now)
    run = store.create_run(sweep.id, {"lr": 0.5}, now)
    watcher = events.SweepWatcher(AppContext(store, Controller(store), lambda: now), sweep.id)
    assert json.loads(watcher.snapshot())["sweep"]["run_counts"]["pending"] == 1
    store.log_history(run.id, [(0, {"loss": 2.0})], now)
    changed = watcher.delta()
    assert changed is not None
    assert json.loads(changed)["sweep"] is None, "history alone leaves the sweep as it was"
    store.update_run(run.id, now, state=RunState.RUNNING)
    changed = watcher.delta()
    assert changed is not None
    counts = json.loads(changed)["sweep"]["run_counts"]
    assert (counts["pending"], counts["running"]) == (0, 1)
    assert watcher.delta() is None
    store.set_sweep_state(sweep.id, SweepState.PAUSED, now)
    changed = watcher.delta()
    assert changed is not None
    data = json.loads(changed)
    assert (data["sweep"]["state"], data["runs"], data["history"]) == ("paused", [], [])
    assert watcher.delta() is None


def _sqlite_sweep(tmp_path: Any, runs: int) -> tuple[Store, str, list[str]]:
    from hypersweep.store import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path}/h.db")
    now = datetime.now(timezone.utc)
    sweep = store.create_sweep("p", CONFIG, now)
    ids = [store.create_run(sweep.id, {"lr": i / 10}, now).id for i in range(runs)]
    return store, sweep.id, ids


def test_the_snapshot_holds_each_run_as_the_api_writes_it(tmp_path: Any) -> None:
    from hypersweep.controller import Controller
    from hypersweep.server._context import AppContext
    from hypersweep.server._convert import run_out, sweep_out

    store, sweep_id, ids = _sqlite_sweep(tmp_path, 3)
    now = datetime.now(timezone.utc)
    store.update_run(ids[0], now, summary={"loss": math.inf, "note": "naïve\n"})
    store.update_run(ids[1], now, state=RunState.RUNNING, host="h")
    snapshot = events.SweepWatcher(AppContext(store, Controller(store), lambda: now), sweep_id)
    data = json.loads(snapshot.snapshot())
    assert data == {
        "sweep": sweep_out(store, store.get_sweep(sweep_id)).model_dump(mode="json"),
        "runs": [run_out(run).model_dump(mode="json") for run in store.list_runs(sweep_id)],
    }
    assert data["runs"][0]["summary"] == {"loss": None, "note": "naïve\n"}


def test_runs_are_encoded_once_per_version_for_every_stream(tmp_path: Any) -> None:
    store, sweep_id, ids = _sqlite_sweep(tmp_path, 4)
    cache = events.RunJsonCache()
    first = cache.encode(sweep_id, store.list_runs(sweep_id, shared=True))
    again = cache.encode(sweep_id, store.list_runs(sweep_id, shared=True))
    assert all(a is b for a, b in zip(first, again, strict=True)), "an unchanged run re-encoded"
    store.update_run(ids[2], datetime.now(timezone.utc), summary={"loss": 0.25})
    after = cache.encode(sweep_id, store.list_runs(sweep_id, shared=True))
    assert [a is b for a, b in zip(first, after, strict=True)] == [True, True, False, True]
    assert json.loads(after[2])["summary"] == {"loss": 0.25}
    # records equal to the cached ones (a store that copies them) still find their JSON
    copies = cache.encode(sweep_id, store.list_runs(sweep_id))
    assert all(a is b for a, b in zip(after, copies, strict=True))


def test_the_run_json_cache_drops_the_least_recent_sweep_beyond_its_budget(
    tmp_path: Any,
) -> None:
    store, first_id, _ = _sqlite_sweep(tmp_path, 3)
    now = datetime.now(timezone.utc)
    second = store.create_sweep("p", CONFIG, now)
    for i in range(3):
        store.create_run(second.id, {"lr": i / 10}, now)
    cache = events.RunJsonCache(kept=4)
    first = cache.encode(first_id, store.list_runs(first_id, shared=True))
    cache.encode(second.id, store.list_runs(second.id, shared=True))  # 6 runs: the first goes
    again = cache.encode(first_id, store.list_runs(first_id, shared=True))
    assert again == first
    assert not any(a is b for a, b in zip(first, again, strict=True)), "kept beyond the budget"


def test_a_second_page_gets_the_first_pages_encoded_runs(tmp_path: Any) -> None:
    from hypersweep.controller import Controller
    from hypersweep.server._context import AppContext

    store, sweep_id, ids = _sqlite_sweep(tmp_path, 3)
    now = datetime.now(timezone.utc)
    cache = events.RunJsonCache()
    ctx = AppContext(store, Controller(store), lambda: now)
    one = events.SweepWatcher(ctx, sweep_id, cache)
    two = events.SweepWatcher(ctx, sweep_id, cache)
    assert one.snapshot() == two.snapshot()
    store.update_run(ids[0], now, summary={"loss": 1.5})
    # each stream reports the change once, though the first to poll encoded it for both
    for watcher in (one, two):
        changed = watcher.delta()
        assert changed is not None
        assert [run["summary"] for run in json.loads(changed)["runs"]] == [{"loss": 1.5}]
        assert watcher.delta() is None
