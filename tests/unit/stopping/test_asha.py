"""ASHA early termination (hypersweep extension), on hand-computed cases."""

from __future__ import annotations

from typing import Any

import pytest

from hypersweep import engine
from hypersweep.config import Severity, SweepConfig, parse_config
from hypersweep.domain import Run, RunState
from hypersweep.errors import ConfigError
from hypersweep.stopping import STOPPING_RULES
from hypersweep.stopping.asha import Asha, rungs


def make_config(goal: str = "minimize", **early: Any) -> SweepConfig:
    raw = {
        "method": "random",
        "parameters": {"x": {"value": 1}},
        "metric": {"name": "loss", "goal": goal},
        "early_terminate": {"type": "asha", **early},
    }
    config, issues = parse_config(raw)
    assert config is not None, [str(issue) for issue in issues]
    return config


def make_run(name: str, state: str | RunState, *values: Any) -> Run:
    return Run(name, RunState(state), {}, [{"loss": value} for value in values])


def stopped(config: SweepConfig, runs: list[Run]) -> list[str]:
    return [order.run for order in Asha().runs_to_stop(config, runs)]


def test_registered() -> None:
    assert STOPPING_RULES["asha"] is Asha


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param((1, 3, None, 100), [1, 3, 9, 27, 81], id="eta3"),
        pytest.param((2, 2, None, 16), [2, 4, 8, 16], id="up-to-longest"),
        pytest.param((1, 3, 27, 100), [1, 3, 9], id="below-max_iter"),
        pytest.param((1, 1.5, None, 10), [1, 2, 3, 5, 7], id="duplicates-dropped"),
        pytest.param((5, 3, None, 4), [], id="none-reached"),
    ],
)
def test_rungs(args: tuple[int, float, int | None, int], expected: list[int]) -> None:
    assert rungs(*args) == expected


def test_not_in_the_top_third_is_stopped() -> None:
    # Rung 1 values [1, 2, 3, 4]: max(1, floor(4 / 3)) = 1 promoted, cutoff 1.
    runs = [
        make_run("a", "finished", 1),
        make_run("b", "finished", 2),
        make_run("c", "crashed", 3),
        make_run("d", "running", 4),
        make_run("e", "running", 1),  # ties the cutoff: kept
    ]
    orders = Asha().runs_to_stop(make_config(min_iter=1), runs)
    assert [order.run for order in orders] == ["d"]
    assert orders[0].reason == (
        "asha: at the rung at iteration 1 loss 4 is not in the top 1 of 5 runs there "
        "(the top 1/3 go on; the last promoted has 1)"
    )


def test_top_fraction_with_more_runs() -> None:
    # 7 runs at rung 2 with eta 2: floor(7 / 2) = 3 promoted: values 1, 2, 3; cutoff 3.
    runs = [make_run(f"f{v}", "finished", 9, v) for v in (1, 2, 5, 6)]
    runs += [make_run("r3", "running", 9, 3), make_run("r4", "running", 9, 4)]
    runs.append(make_run("r7", "running", 9, 7))
    assert stopped(make_config(min_iter=2, eta=2), runs) == ["r4", "r7"]


def test_a_lone_run_at_a_rung_is_promoted() -> None:
    runs = [make_run("a", "running", 100, 100, 100)]
    assert stopped(make_config(min_iter=1), runs) == []


def test_two_runs_at_a_rung_keep_only_the_best() -> None:
    runs = [make_run("a", "running", 1), make_run("b", "running", 2)]
    assert stopped(make_config(min_iter=1, eta=3), runs) == ["b"]


def test_judged_at_the_highest_rung_reached() -> None:
    # Rungs 1, 3, 9. "r" has 5 values: judged at rung 3 on its 3rd value, not at rung 1.
    runs = [
        make_run("a", "finished", 5, 5, 1),
        make_run("b", "finished", 5, 5, 2),
        make_run("r", "running", 0, 0, 3, 0, 0),
    ]
    orders = Asha().runs_to_stop(make_config(min_iter=1), runs)
    assert [order.run for order in orders] == ["r"]
    assert "at the rung at iteration 3 loss 3" in orders[0].reason


def test_before_the_first_rung_nothing_happens() -> None:
    runs = [make_run("a", "finished", 1, 1, 1), make_run("r", "running", 9, 9)]
    assert stopped(make_config(min_iter=3), runs) == []


def test_no_rung_at_or_beyond_max_iter() -> None:
    # Rungs 1 and 3 only; at 10 values "r" is judged at rung 3, where it is best.
    runs = [
        make_run("a", "finished", *([5] * 10)),
        make_run("b", "finished", *([6] * 10)),
        make_run("r", "running", 9, 9, 1, 9, 9, 9, 9, 9, 9, 9),
    ]
    assert stopped(make_config(min_iter=1, max_iter=9), runs) == []
    assert stopped(make_config(min_iter=1), runs) == ["r"]  # rung 9 exists without max_iter


def test_non_running_runs_are_never_stopped() -> None:
    runs = [make_run("best", "finished", 1)]
    runs += [make_run(state, state, 9) for state in ("failed", "killed", "pending", "preempted")]
    assert stopped(make_config(min_iter=1), runs) == []


def test_maximize() -> None:
    runs = [
        make_run("a", "finished", 0.9),
        make_run("b", "running", 0.5),
        make_run("c", "running", 0.95),
    ]
    orders = Asha().runs_to_stop(make_config(goal="maximize", min_iter=1), runs)
    assert [order.run for order in orders] == ["b"]
    assert "loss 0.5 is not in the top 1 of 3 runs" in orders[0].reason
    assert "the last promoted has 0.95" in orders[0].reason


def test_invalid_values_are_not_iterations() -> None:
    history: list[dict[str, Any]] = [{"loss": "x"}, {"loss": float("nan")}, {"loss": 7}]
    runs = [make_run("a", "finished", 1), Run("r", RunState.RUNNING, {}, history)]
    orders = Asha().runs_to_stop(make_config(min_iter=1), runs)
    assert "at the rung at iteration 1 loss 7" in orders[0].reason


def test_through_the_engine() -> None:
    raw = {
        "method": "random",
        "parameters": {"x": {"value": 1}},
        "metric": {"name": "loss"},
        "early_terminate": {"type": "asha", "min_iter": 1},
    }
    runs = [make_run("a", "finished", 1), make_run("b", "running", 2)]
    assert [order.run for order in engine.runs_to_stop(raw, runs)] == ["b"]


INVALID = [
    pytest.param({}, "early_terminate.min_iter", "asha needs min_iter", id="no-min_iter"),
    pytest.param({"min_iter": 0}, "early_terminate.min_iter", "minimum of 1", id="min_iter-0"),
    pytest.param({"min_iter": 1.0}, "early_terminate.min_iter", "min_iter: 1", id="min_iter-f"),
    pytest.param({"min_iter": 1, "eta": 1}, "early_terminate.eta", "greater than 1", id="eta-1"),
    pytest.param({"min_iter": 1, "max_iter": "9"}, "early_terminate.max_iter", "'9'", id="max-s"),
    pytest.param({"min_iter": 3, "max_iter": 3}, "early_terminate.max_iter", "no rung", id="max"),
]


@pytest.mark.parametrize(("early", "path", "phrase"), INVALID)
def test_validation_errors(early: dict[str, Any], path: str, phrase: str) -> None:
    config = make_config(**early)
    errors = [issue for issue in Asha().validate(config) if issue.is_error]
    assert [issue.path for issue in errors] == [path]
    assert phrase in errors[0].message
    with pytest.raises(ConfigError):
        Asha().runs_to_stop(config, [])


def test_unknown_key_is_a_warning() -> None:
    [issue] = Asha().validate(make_config(min_iter=1, strict=True))
    assert issue.severity is Severity.WARNING
    assert issue.path == "early_terminate.strict"
    assert "ignored" in issue.message


def test_valid_config_has_no_issues() -> None:
    assert Asha().validate(make_config(min_iter=1, eta=2, max_iter=81)) == []
