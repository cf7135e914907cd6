"""The median stopping rule (hypersweep extension), on hand-computed cases."""

from __future__ import annotations

from typing import Any

import pytest

from hypersweep import engine
from hypersweep.config import Severity, SweepConfig, parse_config
from hypersweep.domain import Run, RunState
from hypersweep.errors import ConfigError
from hypersweep.stopping import STOPPING_RULES
from hypersweep.stopping.median import Median


def make_config(goal: str = "minimize", **early: Any) -> SweepConfig:
    raw = {
        "method": "random",
        "parameters": {"x": {"value": 1}},
        "metric": {"name": "loss", "goal": goal},
        "early_terminate": {"type": "median", **early},
    }
    config, issues = parse_config(raw)
    assert config is not None, [str(issue) for issue in issues]
    return config


def make_run(name: str, state: str | RunState, *values: Any) -> Run:
    return Run(name, RunState(state), {}, [{"loss": value} for value in values])


def stopped(config: SweepConfig, runs: list[Run]) -> list[str]:
    return [order.run for order in Median().runs_to_stop(config, runs)]


def test_registered() -> None:
    assert STOPPING_RULES["median"] is Median


# Other runs at iteration 2 average (10 + 0) / 2 = 5, 4 and 6: median 5.
OTHERS = [
    make_run("a", "finished", 10, 0),
    make_run("b", "finished", 4, 4),
    make_run("c", "crashed", 6, 6, 100),  # only its first 2 values count at iteration 2
]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param((7, 4.9), [], id="better-than-median"),
        pytest.param((7, 5), [], id="tie-survives"),
        pytest.param((7, 5.1), ["r"], id="worse-than-median"),
        pytest.param((4, 7), [], id="best-so-far-counts"),
    ],
)
def test_best_so_far_against_the_median_of_running_averages(
    values: tuple[float, ...], expected: list[str]
) -> None:
    runs = [*OTHERS, make_run("r", "running", *values)]
    assert stopped(make_config(), runs) == expected


def test_reason() -> None:
    [order] = Median().runs_to_stop(make_config(), [*OTHERS, make_run("r", "running", 7, 5.5)])
    assert order.reason == (
        "median: at iteration 2 the best loss so far 5.5 is worse than the median 5 of the "
        "running averages of 3 other runs up to that iteration"
    )


def test_running_runs_are_judged_against_each_other_not_themselves() -> None:
    # At iteration 1: "4" sees others [1, 2, 3], median 2: stop; "3" sees [1, 2, 4], median 2:
    # stop; "2" sees [1, 3, 4], median 3: keep; "1" keeps.
    runs = [make_run(str(v), "running", v) for v in (1, 2, 3, 4)]
    assert stopped(make_config(), runs) == ["3", "4"]


def test_even_number_of_others_averages_the_middle_two() -> None:
    # Others at iteration 1: [1, 2, 3, 4]: median 2.5.
    runs = [make_run(f"o{v}", "finished", v) for v in (1, 2, 3, 4)]
    assert stopped(make_config(), [*runs, make_run("r", "running", 2.5)]) == []
    assert stopped(make_config(), [*runs, make_run("r", "running", 2.6)]) == ["r"]


def test_min_runs() -> None:
    runs = [make_run("a", "finished", 1), make_run("b", "finished", 1)]
    runs.append(make_run("r", "running", 9))
    assert stopped(make_config(), runs) == []  # 2 other runs < default min_runs 3
    assert stopped(make_config(min_runs=2), runs) == ["r"]


def test_only_runs_that_reached_the_iteration_count() -> None:
    runs = [make_run(name, "finished", 1) for name in "abc"]  # 1 value each
    runs.append(make_run("r", "running", 9, 9))  # at iteration 2: no other run is there
    assert stopped(make_config(), runs) == []


def test_min_iter() -> None:
    runs = [make_run(name, "finished", 1, 1, 1) for name in "abc"]
    runs.append(make_run("r", "running", 9, 9))
    assert stopped(make_config(min_iter=3), runs) == []
    assert stopped(make_config(min_iter=2), runs) == ["r"]


def test_non_running_runs_are_never_stopped() -> None:
    runs = [make_run(name, "finished", 1) for name in "abc"]
    runs += [make_run(state, state, 9) for state in ("failed", "killed", "pending", "preempting")]
    assert stopped(make_config(), runs) == []


def test_maximize() -> None:
    runs = [make_run(name, "finished", 0.8) for name in "abc"]
    runs += [make_run("low", "running", 0.5), make_run("high", "running", 0.9)]
    orders = Median().runs_to_stop(make_config(goal="maximize"), runs)
    assert [order.run for order in orders] == ["low"]
    assert "the best loss so far 0.5 is worse than the median 0.8" in orders[0].reason


def test_invalid_values_are_not_iterations() -> None:
    runs = [make_run(name, "finished", 1) for name in "abc"]
    runs.append(Run("r", RunState.RUNNING, {}, [{"loss": None}, {"loss": True}, {"loss": 2}]))
    [order] = Median().runs_to_stop(make_config(), runs)
    assert "at iteration 1 the best loss so far 2" in order.reason


def test_through_the_engine() -> None:
    raw = {
        "method": "random",
        "parameters": {"x": {"value": 1}},
        "metric": {"name": "loss"},
        "early_terminate": {"type": "median"},
    }
    runs = [*OTHERS, make_run("r", "running", 7, 6)]
    assert [order.run for order in engine.runs_to_stop(raw, runs)] == ["r"]


INVALID = [
    pytest.param({"min_runs": 0}, "early_terminate.min_runs", "minimum of 1", id="min_runs-0"),
    pytest.param({"min_iter": 2.0}, "early_terminate.min_iter", "min_iter: 2", id="min_iter-f"),
    pytest.param({"min_iter": "5"}, "early_terminate.min_iter", "'5'", id="min_iter-str"),
]


@pytest.mark.parametrize(("early", "path", "phrase"), INVALID)
def test_validation_errors(early: dict[str, Any], path: str, phrase: str) -> None:
    config = make_config(**early)
    errors = [issue for issue in Median().validate(config) if issue.is_error]
    assert [issue.path for issue in errors] == [path]
    assert phrase in errors[0].message
    with pytest.raises(ConfigError):
        Median().runs_to_stop(config, [])


def test_unknown_key_is_a_warning() -> None:
    [issue] = Median().validate(make_config(grace_iter=3))
    assert issue.severity is Severity.WARNING
    assert issue.path == "early_terminate.grace_iter"
    assert "ignored" in issue.message


def test_defaults_need_no_keys() -> None:
    assert Median().validate(make_config()) == []
