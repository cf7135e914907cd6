"""What runs tell the model: best-ever values, imputation, runs in flight (spec §4.4.2, §4.4.4)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hypersweep.config import Metric, parse_config
from hypersweep.domain import Run
from hypersweep.search._encoding import Encoder
from hypersweep.search._observations import objective_values, observe


def spec_example() -> list[Run]:
    """spec §4.4.4's verified example, in its order a, b, c, d, e."""
    return [
        Run("a", "finished", {}, history=[{"loss": 3}, {"loss": 1}]),
        Run("b", "finished", {}, summary={"loss": 0.5}),
        Run("c", "crashed", {}),
        Run("d", "running", {}, history=[{"loss": 9}]),
        Run("e", "finished", {}),
    ]


def test_spec_example_with_the_defaults() -> None:
    # minimize, impute worst: the worst extreme over terminal runs is a's 3
    assert objective_values(Metric("loss"), spec_example()) == [1.0, 0.5, 3.0, None, 3.0]


def test_spec_example_impute_best_while_running_latest() -> None:
    metric = Metric("loss", impute="best", impute_while_running="latest")
    assert objective_values(metric, spec_example()) == [1.0, 0.5, 0.0, 9.0, 0.0]


def test_worst_when_maximizing_is_the_lowest_value_of_any_terminal_run() -> None:
    metric = Metric("acc", goal="maximize")
    runs = [
        Run("a", "finished", {}, history=[{"acc": 0.2}, {"acc": 0.9}]),
        Run("b", "killed", {}, history=[{"acc": 0.5}]),  # early-stopped: worst (spec §14 Q10)
        Run("c", "running", {}, history=[{"acc": 0.01}]),  # not terminal: not the worst
    ]
    assert objective_values(metric, runs) == [0.9, 0.2, None]


def test_no_terminal_metric_imputes_zero() -> None:
    runs = [Run("a", "failed", {}), Run("b", "finished", {}, history=[{"other": 1}])]
    assert objective_values(Metric("loss"), runs) == [0.0, 0.0]


def test_best_ever_over_history_and_summary_ignoring_non_numbers() -> None:
    run = Run(
        "a",
        "finished",
        {},
        history=[{"loss": 5}, {"loss": math.nan}, {"loss": True}, {"loss": "low"}, {"x": 0}],
        summary={"loss": 2.5},
    )
    assert objective_values(Metric("loss"), [run]) == [2.5]
    infinite = Run("b", "finished", {}, history=[{"loss": -math.inf}, {"loss": 4}])
    assert objective_values(Metric("loss"), [infinite]) == [4.0]


def test_latest_is_the_last_finite_history_value() -> None:
    run = Run("a", "running", {}, history=[{"loss": 1}, {"loss": 7}, {"loss": math.nan}])
    metric = Metric("loss", impute_while_running="latest")
    assert objective_values(metric, [run]) == [7.0]


@pytest.mark.parametrize("state", ["pending", "preempting", "preempted", "running"])
def test_runs_in_flight_are_not_observed(state: str) -> None:
    run = Run("a", state, {}, history=[{"loss": 1}])
    assert objective_values(Metric("loss"), [run]) == [None]


def test_observe_negates_a_maximized_metric_and_sets_in_flight_points_apart() -> None:
    config, _ = parse_config(
        {
            "method": "bayes",
            "metric": {"name": "acc", "goal": "maximize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
        }
    )
    assert config is not None and config.metric is not None
    runs = [
        Run("a", "finished", {"x": 0.25}, history=[{"acc": 0.5}]),
        Run("b", "pending", {"x": 0.75}),
        Run("c", "finished", {"x": "bad"}, history=[{"acc": 0.9}]),
        Run("d", "finished", {"x": 0.5}, history=[{"acc": 0.7}]),
    ]
    obs = observe(config.metric, runs, Encoder(config.space))
    np.testing.assert_allclose(obs.y, [-0.5, -0.7])
    np.testing.assert_allclose(obs.x[:, 0], [0.25, 0.5])
    np.testing.assert_allclose(obs.pending[:, 0], [0.75])
    assert obs.order.tolist() == [0, 3]
    assert obs.n_unencodable == 1
    assert obs.has_signal
