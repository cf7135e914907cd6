"""The local controller's decisions (spec §10), against a fake server API: what it schedules,
stops and finishes, and when it waits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from hypersweep import engine
from hypersweep.client._controller import LocalController, controller
from hypersweep.domain import RunState
from hypersweep.errors import ConflictError, HypersweepError
from hypersweep.protocol import AgentOut, HistoryRowOut, RunOut, SweepOut

T0 = datetime(2026, 3, 4, tzinfo=timezone.utc)


def grid(values: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": values}},
        "controller": {"type": "local"},
        **extra,
    }


class FakeApi:
    """One sweep's server as the controller sees it; records what the controller asks for."""

    def __init__(self, config: Mapping[str, Any], state: str = "running") -> None:
        self.sweep = SweepOut(
            id="s1",
            project="p",
            name=None,
            config=engine.stored_config(dict(config)),
            state=state,  # type: ignore[arg-type]
            created_at=T0,
            updated_at=T0,
            run_counts={},
        )
        self.runs: list[RunOut] = []
        self.agents: list[AgentOut] = []
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.scheduled: list[tuple[str, dict[str, Any], Mapping[str, Any] | None]] = []
        self.stopped: list[tuple[str, str]] = []
        self.actions: list[str] = []
        self.history_reads: list[str] = []
        self.instant = False  # True: each scheduled run is finished by the next read
        self.refuse: str | None = None  # the server's 409 for every schedule

    # -- what a test sets up ---------------------------------------------------------------

    def agent(self, agent_id: str = "a1", state: str = "running") -> None:
        self.agents.append(
            AgentOut(
                id=agent_id,
                sweep_id="s1",
                host="h",
                pid=1,
                state=state,  # type: ignore[arg-type]
                created_at=T0,
                last_heartbeat=T0,
            )
        )

    def run(
        self,
        state: str,
        x: Any,
        losses: Sequence[float] = (),
        *,
        agent_id: str | None = None,
        summary: dict[str, Any] | None = None,
        stopped: bool = False,
    ) -> RunOut:
        run_id = f"r{len(self.runs) + 1}"
        self.rows[run_id] = [{"loss": loss} for loss in losses]
        out = RunOut(
            id=run_id,
            sweep_id="s1",
            name=run_id,
            params={"x": x},
            state=RunState(state),
            created_at=T0,
            agent_id=agent_id,
            summary=summary if summary is not None else ({"loss": losses[-1]} if losses else {}),
            stopped=stopped,
            history_rows=len(losses),
        )
        self.runs.append(out)
        return out

    # -- the API ---------------------------------------------------------------------------

    def get_sweep(self, sweep_id: str) -> SweepOut:
        return self.sweep

    def list_runs(self, sweep_id: str) -> list[RunOut]:
        if self.instant:
            self.runs = [
                run.model_copy(update={"state": RunState.FINISHED})
                if run.state is RunState.PENDING
                else run
                for run in self.runs
            ]
        return list(self.runs)

    def list_agents(self, sweep_id: str) -> list[AgentOut]:
        return list(self.agents)

    def history(
        self, run_id: str, keys: Sequence[str] | None = None, samples: int | None = None
    ) -> list[HistoryRowOut]:
        self.history_reads.append(run_id)
        return [HistoryRowOut(step=i, metrics=row) for i, row in enumerate(self.rows[run_id])]

    def schedule_run(
        self,
        sweep_id: str,
        agent_id: str,
        params: Mapping[str, Any],
        info: Mapping[str, Any] | None = None,
    ) -> RunOut:
        if self.refuse is not None:
            raise ConflictError(self.refuse)
        self.scheduled.append((agent_id, dict(params), info))
        run = self.run("pending", None, agent_id=agent_id)
        self.runs[-1] = run = run.model_copy(update={"params": dict(params)})
        return run

    def stop_run(self, run_id: str, reason: str) -> RunOut:
        self.stopped.append((run_id, reason))
        i = next(i for i, run in enumerate(self.runs) if run.id == run_id)
        self.runs[i] = self.runs[i].model_copy(update={"stopped": True, "stop_reason": reason})
        return self.runs[i]

    def sweep_action(self, sweep_id: str, action: str) -> SweepOut:
        self.actions.append(action)
        self.sweep = self.sweep.model_copy(update={"state": "finished"})
        return self.sweep

    def close(self) -> None:
        pass


def test_the_custom_search_s_params_go_to_the_idle_agent() -> None:
    api = FakeApi(grid([1, 2]))
    api.agent("a1")
    seen: list[tuple[dict[str, Any], list[engine.Run]]] = []

    def search(config: dict[str, Any], runs: list[engine.Run]) -> dict[str, Any]:
        seen.append((config, runs))
        return {"x": 42, "opt": {"name": "adam"}}

    ctl = LocalController(api, "s1")
    ctl.configure_search(search)
    ctl.step()
    assert api.scheduled == [("a1", {"x": 42, "opt": {"name": "adam"}}, None)]
    assert seen[0][0]["method"] == "grid"
    assert ctl.status() == "Sweep: s1 (custom) | Runs: 1 (Pending: 1) | Stopped: 0"


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(engine.Suggestion({"x": 7}, {"why": "mine"}), id="suggestion"),
        pytest.param(SimpleNamespace(config={"x": {"value": 7}}), id="sweeprun-config"),
    ],
)
def test_a_suggestion_or_a_w_and_b_style_run_is_taken_too(answer: Any) -> None:
    api = FakeApi(grid([1, 2]))
    api.agent()
    ctl = LocalController(api, "s1")
    ctl.configure_search(lambda config, runs: answer)
    ctl.step()
    assert [params for _, params, _ in api.scheduled] == [{"x": 7}]


def test_a_search_answer_of_another_kind_is_an_error_naming_it() -> None:
    api = FakeApi(grid([1, 2]))
    api.agent()
    ctl = LocalController(api, "s1")
    ctl.configure_search(lambda config, runs: 7)
    with pytest.raises(HypersweepError, match=r"returned 7 \(int\); return a dict"):
        ctl.step()


def test_the_engine_searches_without_a_custom_function_and_skips_taken_points() -> None:
    api = FakeApi(grid([1, 2, 3]))
    api.run("finished", 1, [0.5])
    api.agent()
    LocalController(api, "s1").step()
    assert [params for _, params, _ in api.scheduled] == [{"x": 2}]


def test_an_exhausted_grid_finishes_the_sweep() -> None:
    api = FakeApi(grid([1, 2]))
    api.run("finished", 1, [0.5])
    api.run("finished", 2, [0.4])
    api.agent()
    ctl = LocalController(api, "s1")
    ctl.step()
    assert (api.scheduled, api.actions) == ([], ["stop"])
    assert ctl.done()


def test_a_custom_search_returning_none_finishes_the_sweep() -> None:
    api = FakeApi(grid([1, 2]))
    api.agent()
    ctl = LocalController(api, "s1")
    ctl.configure_search(lambda config, runs: None)
    ctl.step()
    assert api.actions == ["stop"]
    assert ctl.done()


def test_run_cap_is_the_servers_to_count_and_a_refused_schedule_ends_nothing() -> None:
    # the server counts run_cap (prior runs left out), refuses the schedule at the cap and
    # finishes the sweep at the agents' next heartbeat; the controller only waits for that
    api = FakeApi(grid([1, 2, 3, 4], run_cap=1))
    api.run("finished", 1, [0.5])
    api.agent()
    api.refuse = "sweep s1 reached its run_cap of 1 runs"
    ctl = LocalController(api, "s1")
    ctl.step()
    assert (api.scheduled, api.actions, ctl.done()) == ([], [], False)
    api.sweep = api.sweep.model_copy(update={"state": "finished"})
    ctl.step()
    assert ctl.done()


def test_one_suggestion_is_outstanding_at_a_time() -> None:
    api = FakeApi(grid([1, 2, 3]))
    api.run("pending", 1, agent_id="a1")  # scheduled, not started yet
    api.agent("a1")
    api.agent("a2")  # idle, but it waits for the first suggestion to be taken
    LocalController(api, "s1").step()
    assert api.scheduled == []


@pytest.mark.parametrize(
    ("agent_state", "run_state"),
    [
        pytest.param("running", "running", id="busy"),
        pytest.param("lost", None, id="lost"),
        pytest.param("finished", None, id="finished"),
    ],
)
def test_nothing_is_scheduled_without_an_idle_running_agent(
    agent_state: str, run_state: str | None
) -> None:
    api = FakeApi(grid([1, 2, 3]))
    api.agent("a1", agent_state)
    if run_state is not None:
        api.run(run_state, 1, agent_id="a1")
    searched: list[int] = []
    ctl = LocalController(api, "s1")
    ctl.configure_search(lambda config, runs: searched.append(1))
    ctl.step()
    assert (api.scheduled, api.actions, searched) == ([], [], [])


def test_the_custom_stopping_function_stops_running_runs_it_names() -> None:
    api = FakeApi(grid([1, 2, 3, 4]))
    api.run("running", 1, [3.0], agent_id="a1")
    api.run("running", 2, [1.0], agent_id="a2")
    api.run("finished", 3, [9.0])
    api.run("running", 4, [9.0], agent_id="a3", stopped=True)  # stopped already

    def worst(config: dict[str, Any], runs: list[engine.Run]) -> list[Any]:
        return [runs[0], SimpleNamespace(id="r3"), "r4"]

    ctl = LocalController(api, "s1")
    ctl.configure_stopping(worst)
    ctl.step()
    assert [run_id for run_id, _ in api.stopped] == ["r1"]
    assert "worst" in api.stopped[0][1]
    assert ctl.status().endswith("| Stopped: 2 (Stopping: 2)")


def test_hyperband_is_applied_by_the_controller_with_the_runs_histories() -> None:
    config = grid([1, 2, 3, 4], early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2})
    api = FakeApi(config)
    api.run("finished", 1, [1.0, 0.5, 0.4, 0.3])
    api.run("finished", 2, [1.0, 0.6, 0.5, 0.4])
    api.run("running", 3, [5.0, 5.0], agent_id="a1")
    runs = [engine.Run(r.id, r.state, r.params, api.rows[r.id], r.summary) for r in api.runs]
    expected = [(order.run, order.reason) for order in engine.runs_to_stop(config, runs)]
    assert expected, "the scenario must make hyperband stop a run"
    LocalController(api, "s1").step()
    assert api.stopped == expected


def test_an_ended_run_s_history_is_read_once() -> None:
    api = FakeApi(grid([1, 2, 3], early_terminate={"type": "hyperband", "min_iter": 2}))
    api.run("finished", 1, [1.0, 0.5])
    api.run("running", 2, [1.0], agent_id="a1")
    ctl = LocalController(api, "s1")
    ctl.step()
    ctl.step()
    api.rows["r2"].append({"loss": 0.9})
    api.runs[1] = api.runs[1].model_copy(update={"history_rows": 2})
    ctl.step()
    assert api.history_reads == ["r1", "r2", "r2"]


def test_a_sweep_that_is_over_is_done_and_left_alone() -> None:
    api = FakeApi(grid([1, 2]), state="paused")
    api.agent()
    ctl = LocalController(api, "s1")
    ctl.step()
    assert ctl.done()
    assert (api.scheduled, api.actions) == ([], [])


def test_a_sweep_searched_by_the_server_has_no_local_controller() -> None:
    config = grid([1, 2])
    del config["controller"]
    with pytest.raises(ConflictError, match="hypersweep sweep --controller CONFIG"):
        LocalController(FakeApi(config), "s1")


def test_the_builder_form_is_refused_with_the_forms_that_work() -> None:
    with pytest.raises(HypersweepError, match=r"builder form .* is not supported; pass a sweep"):
        controller()


def test_configure_search_takes_a_function_or_the_sweep_s_own_method() -> None:
    ctl = LocalController(FakeApi(grid([1, 2])), "s1")
    ctl.configure_search("grid")  # the config's method: the engine searches
    with pytest.raises(HypersweepError, match="sweep's method is 'grid'"):
        ctl.configure_search("bayes")
    with pytest.raises(HypersweepError, match="expected a function"):
        ctl.configure_search(3)  # type: ignore[arg-type]


def test_run_prints_the_status_and_actions_until_the_sweep_is_over(
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = FakeApi(grid([1], early_terminate={"type": "hyperband", "min_iter": 2}))
    api.agent()
    api.instant = True
    LocalController(api, "s1").run(print_actions=True, interval=0)
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "Schedule run r1 on agent a1: {'x': 1}",
        "Sweep: s1 (grid,hyperband) | Runs: 1 (Pending: 1) | Stopped: 0",
        "Finish sweep s1: its search has no more runs (every grid point is handed out)",
        "Sweep: s1 (grid,hyperband) | Runs: 1 (Finished: 1) | Stopped: 0",
    ]
    assert "Sweep s1 is finished: its search has no more runs" in err


def test_ctrl_c_stops_the_controller_and_says_how_to_start_it_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = FakeApi(grid([1, 2]))
    ctl = LocalController(api, "s1")

    def interrupted(sweep_id: str) -> SweepOut:
        raise KeyboardInterrupt

    api.get_sweep = interrupted  # type: ignore[method-assign]
    ctl.run(interval=0)
    assert "hypersweep controller p/s1" in capsys.readouterr().err
