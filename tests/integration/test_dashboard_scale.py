"""The dashboard at scale, server side: the runs table's paging, sorting and filtering
(``GET /sweeps/{sweep}/runs?offset=&limit=&sort=&order=&state=&filter=``) and history
downsampling (``GET /runs/{run}/history?samples=N``), over every store."""

from __future__ import annotations

import itertools
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Api

CONFIG: dict[str, Any] = {
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"lr": {"min": 0.0, "max": 1.0}, "opt": {"values": ["adam", "sgd"]}},
}
# (name, lr, opt, loss or None, state): created in this order
RUNS: list[tuple[str, float, str, float | None, str]] = [
    ("r0", 0.5, "adam", 0.30, "finished"),
    ("r1", 0.1, "sgd", 0.10, "finished"),
    ("r2", 0.9, "adam", None, "failed"),
    ("r3", 0.3, "sgd", 0.50, "finished"),
    ("r4", 0.7, "adam", 0.20, "killed"),
    ("r5", 0.2, "sgd", None, "crashed"),
    ("r6", 0.6, "adam", 0.40, "finished"),
]


def _sweep_with_runs(client: Api) -> str:
    sweep_id: str = client.create_sweep(CONFIG)["id"]
    for name, lr, opt, loss, state in RUNS:
        body: dict[str, Any] = {
            # hex ids: a random id of letters could hold "sgd" and match the text filter below
            "run_id": f"{name}x{secrets.token_hex(4)}",
            "name": name,
            "params": {"lr": lr, "opt": opt, "nested": {"depth": int(lr * 10)}},
            "summary": {} if loss is None else {"loss": loss},
            "state": state,
            "exit_code": 0 if state == "finished" else 1,
        }
        client.ok(client.post(f"sweeps/{sweep_id}/runs", json=body), 201)
    return sweep_id


def _names(client: Api, sweep_id: str, **query: Any) -> tuple[list[str], str | None]:
    response = client.get(f"sweeps/{sweep_id}/runs", params=query)
    runs = client.ok(response)
    return [run["name"] for run in runs], response.headers.get("X-Total-Count")


def test_without_paging_parameters_the_answer_is_every_run_without_a_count(client: Api) -> None:
    sweep_id = _sweep_with_runs(client)
    names, total = _names(client, sweep_id)
    assert names == [name for name, *_ in RUNS]
    assert total is None


def test_limit_and_offset_page_in_creation_order_and_count_all(client: Api) -> None:
    sweep_id = _sweep_with_runs(client)
    assert _names(client, sweep_id, limit=3) == (["r0", "r1", "r2"], "7")
    assert _names(client, sweep_id, limit=3, offset=3) == (["r3", "r4", "r5"], "7")
    assert _names(client, sweep_id, limit=3, offset=6) == (["r6"], "7")
    assert _names(client, sweep_id, limit=3, offset=9) == ([], "7")
    # the PROJECT/SWEEP path answers alike
    project = client.sweep(sweep_id)["project"]
    response = client.get(f"sweeps/{project}/{sweep_id}/runs", params={"limit": 2, "offset": 1})
    assert [run["name"] for run in client.ok(response)] == ["r1", "r2"]
    assert response.headers["X-Total-Count"] == "7"


def test_sort_by_a_parameter_a_nested_parameter_and_a_field(client: Api) -> None:
    sweep_id = _sweep_with_runs(client)
    by_lr = [name for name, *_ in sorted(RUNS, key=lambda run: run[1])]
    assert _names(client, sweep_id, sort="params.lr")[0] == by_lr
    assert _names(client, sweep_id, sort="params.lr", order="desc")[0] == by_lr[::-1]
    # params.nested.depth: int(lr * 10), so the same order as lr
    assert _names(client, sweep_id, sort="params.nested.depth", limit=2) == (by_lr[:2], "7")
    assert _names(client, sweep_id, sort="name", order="desc")[0] == [
        f"r{index}" for index in range(6, -1, -1)
    ]
    assert _names(client, sweep_id, order="desc", limit=2) == (["r6", "r5"], "7")
    states = _names(client, sweep_id, sort="state")[0]
    assert states[:2] == ["r5", "r2"]  # crashed, failed, then finished ...


def test_sort_by_summary_puts_runs_without_the_value_above_every_value(client: Api) -> None:
    # as PostgreSQL's NULL: last ascending, first descending (ties in creation order)
    sweep_id = _sweep_with_runs(client)
    assert _names(client, sweep_id, sort="summary.loss")[0] == [
        "r1", "r4", "r0", "r6", "r3", "r2", "r5"
    ]  # fmt: skip
    assert _names(client, sweep_id, sort="summary.loss", order="desc")[0] == [
        "r2", "r5", "r3", "r6", "r0", "r4", "r1"
    ]  # fmt: skip


def test_filter_by_states_and_by_text_with_paging(client: Api) -> None:
    sweep_id = _sweep_with_runs(client)
    assert _names(client, sweep_id, state="failed,crashed") == (["r2", "r5"], None)
    response = client.get(
        f"sweeps/{sweep_id}/runs", params=[("state", "killed"), ("state", "failed"), ("limit", 1)]
    )
    assert [run["name"] for run in client.ok(response)] == ["r2"]
    assert response.headers["X-Total-Count"] == "2"
    # text: any parameter or summary value, the name or the id, case-insensitive
    assert _names(client, sweep_id, filter="SGD", sort="params.lr", limit=2) == (["r1", "r5"], "3")
    assert _names(client, sweep_id, filter="Killed")[0] == ["r4"]
    assert _names(client, sweep_id, filter="0.5")[0] == ["r0", "r3"]  # lr 0.5 and loss 0.5
    assert _names(client, sweep_id, filter="nothing-like-this", limit=5) == ([], "0")


def test_bad_sort_key_state_or_page_is_a_422_naming_it(client: Api) -> None:
    sweep_id = _sweep_with_runs(client)
    error = client.error(client.get(f"sweeps/{sweep_id}/runs", params={"sort": "loss"}), 422)
    assert "sort" in error.message
    assert "'loss'" in error.message
    assert "summary.KEY" in error.message
    error = client.error(client.get(f"sweeps/{sweep_id}/runs", params={"sort": "params."}), 422)
    assert "'params.'" in error.message
    error = client.error(client.get(f"sweeps/{sweep_id}/runs", params={"state": "done"}), 422)
    assert "'done'" in error.message
    assert "finished" in error.message
    for query in ({"limit": 0}, {"offset": -1}, {"order": "up"}):
        error = client.error(client.get(f"sweeps/{sweep_id}/runs", params=query), 422)
        assert next(iter(query)) in error.message


def _run_with_history(client: Api, steps: list[int], key_every: int = 1) -> str:
    sweep_id: str = client.create_sweep(CONFIG)["id"]
    history = [
        {"step": step, "metrics": {"loss": step / 10} if index % key_every == 0 else {"acc": 1}}
        for index, step in enumerate(steps)
    ]
    body = {"params": {"lr": 0.1, "opt": "sgd"}, "history": history, "summary": {}}
    run_id: str = client.ok(client.post(f"sweeps/{sweep_id}/runs", json=body), 201)["id"]
    return run_id


def _steps(client: Api, run_id: str, **query: Any) -> list[int]:
    rows = client.ok(client.get(f"runs/{run_id}/history", params=query))
    return [row["step"] for row in rows]


def test_samples_keeps_at_most_n_evenly_spaced_rows_with_both_ends(client: Api) -> None:
    run_id = _run_with_history(client, list(range(1000)))
    assert _steps(client, run_id) == list(range(1000))
    steps = _steps(client, run_id, samples=100)
    assert len(steps) == 100
    assert (steps[0], steps[-1]) == (0, 999)
    gaps = {later - earlier for earlier, later in itertools.pairwise(steps)}
    assert gaps <= {10, 11}, gaps  # 999 / 99 ≈ 10.09 steps apart
    assert _steps(client, run_id, samples=2) == [0, 999]
    assert _steps(client, run_id, samples=1000) == list(range(1000))
    assert _steps(client, run_id, samples=5000) == list(range(1000))
    rows = client.ok(client.get(f"runs/{run_id}/history", params={"samples": 3}))
    assert rows[1] == {"step": 500, "metrics": {"loss": 50.0}}


def test_samples_spaces_by_step_not_by_row_and_applies_after_keys(client: Api) -> None:
    # ten rows at steps 0..9, then one at step 1000: by step, the middle of the run is step 500
    run_id = _run_with_history(client, [*range(10), 1000])
    assert _steps(client, run_id, samples=3) == [0, 1000]
    # loss only on every other row: the sample is taken among the rows that hold it
    run_id = _run_with_history(client, list(range(200)), key_every=2)
    steps = _steps(client, run_id, keys="loss", samples=11)
    assert steps == [0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 198]


def test_samples_below_two_is_a_422_naming_it(client: Api) -> None:
    run_id = _run_with_history(client, [0, 1, 2])
    for bad in ("1", "0", "many"):
        error = client.error(client.get(f"runs/{run_id}/history", params={"samples": bad}), 422)
        assert "samples" in error.message


def test_the_client_asks_for_samples(client: Api, admin_key: str) -> None:
    from hypersweep.client._http import ApiClient

    run_id = _run_with_history(client, list(range(50)))
    # the TestClient's transport: the client's requests reach the same app in this process
    with ApiClient("http://testserver", api_key=admin_key, transport=client._transport) as api:
        assert [row.step for row in api.history(run_id, ["loss"], samples=3)] == [0, 25, 49]
        assert len(api.history(run_id)) == 50
