"""``hypersweep.sweep`` and ``hypersweep.agent(sweep_id, function=f)`` in this process against a
live in-process server (spec §7.9): jobs, counts, failures and early stopping."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import pytest

import hypersweep
from hypersweep.client import ApiClient

# agents heartbeat fast; `server` is the live server of tests/integration/conftest.py
pytestmark = pytest.mark.usefixtures("fast_heartbeats")


def grid(values: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": values}},
        **extra,
    }


def test_the_function_agent_runs_every_grid_point_in_this_process(server: str) -> None:
    seen: list[Any] = []

    def train() -> None:
        run = hypersweep.init(config={"x": -1, "epochs": 3})
        seen.append((run.sweep_id, hypersweep.config.x))
        for epoch in range(hypersweep.config.epochs):
            hypersweep.log({"loss": hypersweep.config.x / (epoch + 1)})

    sweep_id = hypersweep.sweep(grid([1, 2, 3]), project="fn")
    hypersweep.agent(sweep_id, function=train)
    assert sorted(x for _, x in seen) == [1, 2, 3]
    assert {sid for sid, _ in seen} == {sweep_id}
    with ApiClient(server) as api:
        runs = api.list_runs(sweep_id)
        assert {run.state.value for run in runs} == {"finished"}
        assert sorted(run.summary["loss"] for run in runs) == pytest.approx([1 / 3, 2 / 3, 1.0])
        assert all(len(api.history(run.id)) == 3 for run in runs)
        assert api.get_sweep(sweep_id).project == "fn"
    # the agent leaves no sweep behind: a later init() is a plain run
    assert "WANDB_SWEEP_ID" not in os.environ


def test_what_init_says_about_a_run_reaches_the_server(server: str) -> None:
    def train() -> None:
        hypersweep.init(
            name="baseline", tags=["v2", "cv"], notes="first try", group="fold-1", job_type="train"
        )
        hypersweep.log({"loss": 1.0})

    sweep_id = hypersweep.sweep(grid([1]), project="fn")
    hypersweep.agent(sweep_id, function=train)
    with ApiClient(server) as api:
        [run] = api.list_runs(sweep_id)
    assert (run.name, run.tags, run.notes) == ("baseline", ["v2", "cv"], "first try")
    assert (run.group, run.job_type) == ("fold-1", "train")


def test_count_limits_the_jobs_and_a_raising_job_is_a_failed_run(server: str) -> None:
    def train() -> None:
        hypersweep.init()
        hypersweep.log({"loss": 1.0})
        if hypersweep.config.x == 2:
            raise ValueError("diverged")

    sweep_id = hypersweep.sweep(grid([1, 2, 3, 4]))
    hypersweep.agent(sweep_id, function=train, count=2)
    with ApiClient(server) as api:
        states = sorted((run.params["x"], run.state.value) for run in api.list_runs(sweep_id))
    assert states == [(1, "finished"), (2, "failed")]


def test_a_stopped_run_ends_at_its_next_log_and_keeps_its_metrics(server: str) -> None:
    logged: dict[Any, int] = {}

    def train() -> None:
        hypersweep.init()
        x = hypersweep.config.x
        for step in range(2000):
            logged[x] = step + 1
            hypersweep.log({"loss": x + 1.0 / (step + 1)})
            if x > 1:
                time.sleep(0.01)

    config = grid([0, 0.1, 5], early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2})
    sweep_id = hypersweep.sweep(config)
    hypersweep.agent(sweep_id, function=train)
    with ApiClient(server) as api:
        bad = next(run for run in api.list_runs(sweep_id) if run.params["x"] == 5)
        kept = len(api.history(bad.id))
    assert (bad.state.value, bad.stopped) == ("killed", True)
    assert bad.stop_reason is not None and bad.stop_reason.startswith("hyperband")
    assert logged[5] < 2000
    assert kept >= 2


def test_a_run_judged_at_its_last_log_ended_on_its_own_and_is_finished(server: str) -> None:
    def train() -> None:  # two iterations: the rule's first band is the last one
        hypersweep.init()
        for step in range(2):
            hypersweep.log({"loss": hypersweep.config.x + 1.0 / (step + 1)})

    config = grid([0, 0.1, 5], early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2})
    sweep_id = hypersweep.sweep(config)
    hypersweep.agent(sweep_id, function=train)
    with ApiClient(server) as api:
        late = next(run for run in api.list_runs(sweep_id) if run.params["x"] == 5)
        rows = len(api.history(late.id))
    # flagged by the rule, but the order never reached it: its results are whole
    assert (late.stopped, late.state.value, rows) == (True, "finished", 2)
    assert late.stop_reason is not None and late.stop_reason.startswith("hyperband")


def test_sys_exit_or_finish_with_a_code_in_a_job_ends_that_job_with_it_and_the_agent_goes_on(
    server: str,
) -> None:
    def train() -> None:
        hypersweep.init()
        hypersweep.log({"loss": 1.0})
        if hypersweep.config.x == 2:
            sys.exit(3)
        if hypersweep.config.x == 3:
            sys.exit()
        if hypersweep.config.x == 5:
            hypersweep.finish(exit_code=2)  # W&B records it failed, though the job returns

    sweep_id = hypersweep.sweep(grid([1, 2, 3, 4, 5]))
    hypersweep.agent(sweep_id, function=train)  # returns: the caller's script goes on
    with ApiClient(server) as api:
        ends = sorted(
            (run.params["x"], run.state.value, run.exit_code) for run in api.list_runs(sweep_id)
        )
    assert ends == [
        (1, "finished", 0),
        (2, "failed", 3),
        (3, "finished", 0),
        (4, "finished", 0),
        (5, "failed", 2),
    ]


def test_prior_runs_are_copied_into_a_new_sweep(server: str) -> None:
    def train() -> None:
        hypersweep.init()
        hypersweep.log({"loss": float(hypersweep.config.x)})

    first = hypersweep.sweep(grid([1, 2]))
    hypersweep.agent(first, function=train)
    with ApiClient(server) as api:
        prior = [run.id for run in api.list_runs(first)]
        second = hypersweep.sweep(grid([1, 2, 3]), prior_runs=prior)
        copied = api.list_runs(second)
    assert sorted(run.params["x"] for run in copied) == [1, 2]
    assert sorted(run.summary["loss"] for run in copied) == [1.0, 2.0]


def test_an_invalid_config_names_the_key(server: str) -> None:
    with pytest.raises(hypersweep.ConfigError) as error:
        hypersweep.sweep({"method": "grid", "parameters": {"x": {"values": []}}})
    assert "parameters.x" in str(error.value)


def test_jobs_that_exit_with_a_code_are_no_failures_and_giving_up_returns(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def train() -> None:
        hypersweep.init()
        hypersweep.log({"loss": 1.0})
        mode = hypersweep.config.x
        if mode in ("exit-a", "exit-b", "exit-c"):
            sys.exit(3)  # spec §7.6: an in-process failure is an exception, not an exit code
        if mode.startswith("raise"):
            raise ValueError("diverged")

    values = ["exit-a", "exit-b", "exit-c", "ok", "raise-1", "raise-2", "raise-3", "late"]
    sweep_id = hypersweep.sweep(grid(values))
    hypersweep.agent(sweep_id, function=train)  # gives up after three raises, and returns
    assert "Detected 3 failed runs in the first 60 seconds" in capsys.readouterr().err
    with ApiClient(server) as api:
        ran = {run.params["x"]: run.state.value for run in api.list_runs(sweep_id)}
    assert ran == {
        **dict.fromkeys(["exit-a", "exit-b", "exit-c"], "failed"),
        "ok": "finished",
        **dict.fromkeys(["raise-1", "raise-2", "raise-3"], "failed"),
    }
