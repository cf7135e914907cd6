"""``hypersweep runs``: a sweep's runs best first by its metric, as a table or as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from _servers import free_port, server_thread
from hypersweep.cli import main
from hypersweep.client import ApiClient
from hypersweep.domain import RunState
from hypersweep.store import MemoryStore

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def config(goal: str) -> dict[str, object]:
    return {
        "method": "random",
        "metric": {"name": "acc", "goal": goal},
        "parameters": {
            "lr": {"min": 0.0001, "max": 0.1},
            "opt": {"parameters": {"name": {"values": ["adam", "sgd"]}}},
        },
    }


@pytest.fixture
def served() -> Iterator[tuple[str, MemoryStore]]:
    store = MemoryStore()
    with server_thread(store) as url:
        yield url, store


def add_run(
    store: MemoryStore,
    sweep_id: str,
    run_id: str,
    summary: dict[str, object],
    state: RunState = RunState.FINISHED,
    seconds: int = 2,
    **changes: object,
) -> None:
    store.create_run(sweep_id, {"lr": 0.01, "opt": {"name": "adam"}}, T0, run_id=run_id)
    store.update_run(run_id, T0, state=RunState.RUNNING)
    store.update_run(
        run_id, T0 + timedelta(seconds=seconds), state=state, summary=summary, **changes
    )


def make_sweep(url: str, goal: str) -> str:
    with ApiClient(url) as client:
        return client.create_sweep(config(goal), project="p").id


def runs(url: str, *args: str) -> tuple[int, str, str]:
    # rich reads the terminal's width from COLUMNS
    result = CliRunner().invoke(main, ["runs", *args, "--server", url], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("goal", "order"),
    [("maximize", ["high", "low", "none", "text"]), ("minimize", ["low", "high", "none", "text"])],
)
def test_json_is_sorted_by_goal_with_metricless_runs_last(
    served: tuple[str, MemoryStore], goal: str, order: list[str]
) -> None:
    url, store = served
    sweep_id = make_sweep(url, goal)
    add_run(store, sweep_id, "none", {}, state=RunState.FAILED)
    add_run(store, sweep_id, "low", {"acc": 0.5})
    add_run(store, sweep_id, "high", {"acc": 0.9}, seconds=75)
    add_run(store, sweep_id, "text", {"acc": "n/a"})
    code, out, _ = runs(url, "--json", f"p/{sweep_id}")
    assert code == 0
    rows = json.loads(out)
    assert [row["id"] for row in rows] == order
    high = rows[order.index("high")]
    assert (high["metric"], high["runtime_seconds"], high["state"]) == (0.9, 75.0, "finished")
    assert high["params"] == {"lr": 0.01, "opt": {"name": "adam"}}
    assert rows[order.index("text")]["metric"] is None


def test_table_has_flat_params_metric_runtime_and_stop_reason(
    served: tuple[str, MemoryStore],
) -> None:
    url, store = served
    sweep_id = make_sweep(url, "maximize")
    add_run(store, sweep_id, "best", {"acc": 0.9}, seconds=75)
    add_run(
        store,
        sweep_id,
        "cut",
        {"acc": 0.2},
        state=RunState.KILLED,
        stopped=True,
        stop_reason="hyperband: below the band",
    )
    code, out, _ = runs(url, sweep_id)
    assert code == 0
    header = next(line for line in out.splitlines() if "run" in line and "state" in line)
    assert header.index("lr") < header.index("opt.name") < header.index("acc ↑")
    best = next(line for line in out.splitlines() if "best" in line)
    cut = next(line for line in out.splitlines() if "cut" in line)
    assert out.index("best") < out.index("cut")
    assert "0.9" in best and "1m15s" in best and "adam" in best
    assert "killed (stopped: hyperband: below the band)" in cut
    assert f"sweep p/{sweep_id} (pending): 2 runs" in out


def test_empty_sweep_prints_an_empty_table(served: tuple[str, MemoryStore]) -> None:
    url, _ = served
    sweep_id = make_sweep(url, "minimize")
    code, out, _ = runs(url, sweep_id)
    assert code == 0
    assert "0 runs" in out
    assert json.loads(runs(url, "--json", sweep_id)[1]) == []


def test_unknown_sweep_and_server_down_are_one_line(served: tuple[str, MemoryStore]) -> None:
    url, _ = served
    code, out, err = runs(url, "nosuch12")
    assert (code, out) == (1, "")
    assert err.startswith("Error: ") and "'nosuch12'" in err and err.count("\n") == 1
    down = f"http://127.0.0.1:{free_port()}"
    code, _, err = runs(down, "nosuch12")
    assert code == 1
    assert f"could not reach the hypersweep server at {down}" in err
    assert "Traceback" not in err
