"""A sweep with ``controller: {type: local}`` against a live in-process server (spec §10): the
test thread runs the ``LocalController`` (search and stopping rule), a function agent in another
thread runs the runs it schedules."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import hypersweep
from hypersweep import engine
from hypersweep.client import ApiClient, LocalController

# agents heartbeat fast; `server` is the live server of tests/integration/conftest.py
pytestmark = pytest.mark.usefixtures("fast_heartbeats")


def local_grid(values: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": values}},
        "controller": {"type": "local"},
        **extra,
    }


class AgentThread(threading.Thread):
    """``hypersweep.agent(sweep_id, function=train)`` in a thread; keeps what it raised."""

    def __init__(self, sweep_id: str, train: Any) -> None:
        super().__init__(daemon=True)
        self.sweep_id, self.train = sweep_id, train
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            hypersweep.agent(self.sweep_id, function=self.train)
        except BaseException as exc:
            self.error = exc

    def finish(self) -> None:
        self.join(timeout=30)
        assert not self.is_alive(), "the agent did not exit when the sweep finished"
        assert self.error is None, self.error


@pytest.mark.timeout(120)
def test_the_custom_search_runs_every_point_once_then_the_sweep_finishes(server: str) -> None:
    seen: list[tuple[Any, Any]] = []

    def train() -> None:
        hypersweep.init()
        seen.append((hypersweep.config.x, hypersweep.config.chosen_by))
        hypersweep.log({"loss": float(hypersweep.config.x)})

    def backwards(config: dict[str, Any], runs: list[engine.Run]) -> dict[str, Any] | None:
        # the grid's points, last first; None once each was handed out
        taken = {run.params["x"] for run in runs}
        left = [x for x in config["parameters"]["x"]["values"] if x not in taken]
        return {"x": left[-1], "chosen_by": "backwards"} if left else None

    sweep_id = hypersweep.sweep(local_grid([1, 2, 3]), project="local")
    agent = AgentThread(sweep_id, train)
    agent.start()
    with ApiClient(server) as api:
        ctl = LocalController(api, sweep_id)
        ctl.configure_search(backwards)
        ctl.run(print_status=False, interval=0.05)
        agent.finish()
        runs = api.list_runs(sweep_id)
        assert api.get_sweep(sweep_id).state == "finished"
    assert seen == [(3, "backwards"), (2, "backwards"), (1, "backwards")]
    assert sorted((run.params["x"], run.state.value) for run in runs) == [
        (1, "finished"),
        (2, "finished"),
        (3, "finished"),
    ]


@pytest.mark.timeout(120)
def test_the_controller_applies_hyperband_and_the_agent_obeys(server: str) -> None:
    logged: dict[Any, int] = {}

    def train() -> None:
        hypersweep.init()
        x = hypersweep.config.x
        for step in range(2000):
            logged[x] = step + 1
            hypersweep.log({"loss": x + 1.0 / (step + 1)})
            if x > 1:
                time.sleep(0.01)

    config = local_grid([0, 0.1, 5], early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2})
    sweep_id = hypersweep.sweep(config)
    agent = AgentThread(sweep_id, train)
    agent.start()
    with ApiClient(server) as api:
        with hypersweep.controller(sweep_id) as ctl:
            ctl.run(print_status=False, interval=0.05)
        agent.finish()
        bad = next(run for run in api.list_runs(sweep_id) if run.params["x"] == 5)
        assert api.get_sweep(sweep_id).state == "finished"
    assert (bad.state.value, bad.stopped) == ("killed", True)
    assert bad.stop_reason is not None and bad.stop_reason.startswith("hyperband")
    assert logged[5] < 2000
