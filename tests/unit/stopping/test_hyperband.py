"""Hyperband early termination, exactly as spec §5 (HEAD engine) describes it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from hypersweep import engine
from hypersweep.config import Severity, SweepConfig, parse_config
from hypersweep.domain import Run, RunState
from hypersweep.errors import ConfigError
from hypersweep.stopping import STOPPING_RULES
from hypersweep.stopping.hyperband import Hyperband, brackets


def make_config(goal: str = "minimize", name: str = "loss", **early: Any) -> SweepConfig:
    raw = {
        "method": "random",
        "parameters": {"x": {"value": 1}},
        "metric": {"name": name, "goal": goal},
        "early_terminate": {"type": "hyperband", **early},
    }
    config, issues = parse_config(raw)
    assert config is not None, [str(issue) for issue in issues]
    return config


def make_run(name: str, state: str | RunState, *values: Any, metric: str = "loss") -> Run:
    return Run(name, RunState(state), {}, [{metric: value} for value in values])


def stopped(config: SweepConfig, runs: list[Run]) -> list[str]:
    return [order.run for order in Hyperband().runs_to_stop(config, runs)]


def bands_of(**early: Any) -> list[int]:
    config = make_config(**early)
    assert [i for i in Hyperband().validate(config) if i.is_error] == []
    return brackets(early)


def test_registered() -> None:
    assert STOPPING_RULES["hyperband"] is Hyperband
    assert Hyperband.type == "hyperband"


# §5.2: every band list in the text.
FORM_A = [
    pytest.param(3, 3, [3, 9, 27, 81, 243], id="min_iter3-eta3"),
    pytest.param(2, 2, [2, 4, 8, 16, 32], id="min_iter2-eta2"),
    pytest.param(1, 1.5, [1, 1, 2, 3, 5, 7, 11, 17], id="min_iter1-eta1.5-duplicates"),
]


@pytest.mark.parametrize(("min_iter", "eta", "prefix"), FORM_A)
def test_form_a_bands(min_iter: int, eta: float, prefix: list[int]) -> None:
    bands = bands_of(min_iter=min_iter, eta=eta)
    assert bands[: len(prefix)] == prefix
    assert len(bands) == 100  # spec §14 Q8: exactly 100 bands


def test_form_a_bands_use_repeated_float_multiplication() -> None:
    # int(min_iter * eta**k) would differ; W&B multiplies step by step (spec §5.2).
    expected, band = [], 1.0
    for _ in range(100):
        expected.append(int(band))
        band *= 1.1
    assert bands_of(min_iter=1, eta=1.1) == expected


def test_form_a_default_eta_is_3() -> None:
    assert bands_of(min_iter=1)[:4] == [1, 3, 9, 27]


def test_form_a_huge_eta_does_not_overflow() -> None:
    bands = bands_of(min_iter=1, eta=1e200)
    assert bands[:2] == [1, int(1e200)]


FORM_B = [
    pytest.param(27, 2, 3, [3, 9], id="27-s2-eta3"),
    pytest.param(81, 3, 3, [3, 9, 27], id="81-s3-eta3"),
    pytest.param(18, 2, 3, [2, 6], id="18-s2-eta3"),
    pytest.param(10, 5, 3, [1, 3], id="10-s5-eta3-stops-below-1"),
    pytest.param(100, 3, 2, [12, 25, 50], id="100-s3-eta2"),
]


@pytest.mark.parametrize(("max_iter", "s", "eta", "expected"), FORM_B)
def test_form_b_bands(max_iter: int, s: int, eta: float, expected: list[int]) -> None:
    assert bands_of(max_iter=max_iter, s=s, eta=eta) == expected


def test_form_b_empty_bands_is_the_spec_error() -> None:
    issues = Hyperband().validate(make_config(max_iter=2, s=1, eta=3))
    [issue] = [i for i in issues if i.is_error]
    assert issue.path == "early_terminate"
    assert (
        "Bands must be an array of length at least 1. Try increasing s, decreasing eta, "
        "or increasing min_iter." in issue.message
    )


def test_form_b_wins_over_form_a() -> None:
    # wandb/wandb#1884: s 2, min_iter 7, max_iter 19 gives bands [2, 6], not 7, 21, ...
    config = make_config(s=2, min_iter=7, max_iter=19)
    assert brackets(config.early_terminate or {}) == [2, 6]
    runs = [
        make_run("a", "finished", 1, 1),
        make_run("b", "finished", 1, 2),
        make_run("c", "running", 1, 3),
    ]
    assert stopped(config, runs) == ["c"]  # judged at band 2, long before iteration 7
    [warning] = Hyperband().validate(config)
    assert warning.severity is Severity.WARNING
    assert warning.path == "early_terminate.min_iter"
    assert "ignored" in warning.message


# §5.4 and §5.5.
def test_single_run_is_never_stopped() -> None:
    config = make_config(min_iter=1, eta=3)
    assert stopped(config, [make_run("a", "running", 100, 1000, 10000)]) == []


WORKED = [
    make_run("f1", "finished", 10, 5, 4, 3),
    make_run("f2", "finished", 10, 8, 7, 6),
    make_run("r1", "running", 10, 4.5, 9),
    make_run("r2", "running", 1, 9),
    make_run("r3", "running", 100),
    make_run("r4", "running", 10, 3),
]


def test_worked_example_strict() -> None:
    orders = Hyperband().runs_to_stop(make_config(min_iter=2, eta=2), WORKED)
    assert [order.run for order in orders] == ["r2"]
    assert orders[0].reason == (
        "hyperband: at iteration 2 loss 9 is worse than the band's threshold 5 (top 1/2 of 5 runs)"
    )


def test_strict_is_the_default() -> None:
    assert stopped(make_config(min_iter=2, eta=2, strict=True), WORKED) == ["r2"]


def test_worked_example_non_strict() -> None:
    assert stopped(make_config(min_iter=2, eta=2, strict=False), WORKED) == []


def test_non_strict_judges_the_best_value_so_far() -> None:
    runs = [
        make_run("f1", "finished", 10, 5),
        make_run("f2", "finished", 10, 4),
        make_run("r", "running", 10, 12, 11),
    ]
    orders = Hyperband().runs_to_stop(make_config(min_iter=2, eta=2, strict=False), runs)
    assert [order.run for order in orders] == ["r"]
    assert orders[0].reason == (
        "hyperband: the best loss so far 10 is worse than the threshold 5 of the band at "
        "iteration 2 (top 1/2 of 3 runs; strict: false)"
    )


def test_maximize_example() -> None:
    config = make_config(goal="maximize", min_iter=2, eta=2)
    runs = [
        make_run("a", "finished", 0.5, 0.6, 0.7),
        make_run("b", "running", 0.1, 0.2, 0.3),
        make_run("c", "running", 0.9, 0.95),
    ]
    [order] = Hyperband().runs_to_stop(config, runs)
    assert order.run == "b"
    # The reason shows values as logged, not negated.
    assert "loss 0.2 is worse than the band's threshold 0.6 (top 1/2 of 3 runs)" in order.reason


def test_a_run_is_judged_again_at_a_later_band() -> None:
    config = make_config(min_iter=2, eta=2)
    runs = [
        make_run("f1", "finished", 9, 5, 5, 1),
        make_run("f2", "finished", 9, 6, 6, 2),
        make_run("r", "running", 9, 4, 4, 8),  # best at band 2, worst at band 4
    ]
    orders = Hyperband().runs_to_stop(config, runs)
    assert [order.run for order in orders] == ["r"]
    assert "at iteration 4 loss 8" in orders[0].reason


def test_judged_at_the_largest_band_reached() -> None:
    config = make_config(min_iter=2, eta=2)
    runs = [
        make_run("f1", "finished", 9, 1, 9, 9, 9),
        make_run("f2", "finished", 9, 2, 9, 9, 9),
        # 3 values: band 2 applies (band 4 not reached); its value 3 is the worst at band 2.
        make_run("r", "running", 9, 3, 0),
    ]
    assert stopped(config, runs) == ["r"]


def test_ties_survive() -> None:
    config = make_config(min_iter=1, eta=2)
    runs = [
        make_run("a", "finished", 1),
        make_run("b", "finished", 5),
        make_run("c", "running", 5),  # threshold sorted([1, 5, 5])[1] = 5: equal, kept
    ]
    assert stopped(config, runs) == []


def test_threshold_index_uses_w_and_b_float_arithmetic() -> None:
    # int((1 / 1.1) * 11) == 10 while floor(11 / 1.1) == 9: W&B's r * len keeps the worst of
    # 11 runs (spec §5.4).
    config = make_config(min_iter=1, eta=1.1)
    runs = [make_run(f"f{i}", "finished", i) for i in range(10)]
    runs.append(make_run("r", "running", 10))
    assert stopped(config, runs) == []


INVALID_VALUES = [
    pytest.param(math.nan, id="nan"),
    pytest.param(math.inf, id="inf"),
    pytest.param(-math.inf, id="-inf"),
    pytest.param("5", id="string"),
    pytest.param(True, id="bool"),
    pytest.param(np.bool_(False), id="numpy-bool"),
    pytest.param(None, id="none"),
    pytest.param(10**400, id="int-too-large-for-float"),
    pytest.param([1], id="list"),
]


@pytest.mark.parametrize("junk", INVALID_VALUES)
def test_invalid_metric_values_are_not_iterations(junk: Any) -> None:
    config = make_config(min_iter=2, eta=2)
    history = [{"loss": 10}, {"loss": junk}, {"other": 1}, {"loss": junk}, {"loss": 9}]
    runs = [
        make_run("f1", "finished", 10, 5),
        make_run("f2", "finished", 10, 4),
        Run("r", RunState.RUNNING, {}, history),
    ]
    orders = Hyperband().runs_to_stop(config, runs)
    assert [order.run for order in orders] == ["r"]
    assert "at iteration 2 loss 9 is worse than the band's threshold 5" in orders[0].reason


def test_numpy_numbers_are_values() -> None:
    config = make_config(min_iter=2, eta=2)
    runs = [
        make_run("f1", "finished", np.int64(10), np.float32(5)),
        make_run("f2", "finished", 10, 4),
        make_run("r", "running", np.float64(10), np.int32(9)),
    ]
    assert stopped(config, runs) == ["r"]


def test_runs_without_the_metric() -> None:
    config = make_config(min_iter=1, eta=2)
    runs = [
        make_run("f1", "finished", 1),
        make_run("f2", "finished", 1),
        make_run("other", "finished", 0, 0, metric="acc"),  # not counted in thresholds
        Run("empty", RunState.RUNNING, {}, []),
        make_run("wrong-key", "running", 100, 100, metric="acc"),
        make_run("r", "running", 2),
    ]
    orders = Hyperband().runs_to_stop(config, runs)
    assert [order.run for order in orders] == ["r"]
    assert "(top 1/2 of 3 runs)" in orders[0].reason


NOT_RUNNING = [s for s in RunState if s is not RunState.RUNNING]


@pytest.mark.parametrize("state", NOT_RUNNING, ids=lambda s: s.value)
def test_only_running_runs_are_stopped(state: RunState) -> None:
    config = make_config(min_iter=1, eta=2)
    runs = [make_run("good", "finished", 1), make_run("bad", state, 100)]
    runs.append(make_run("bad2", state, 100))
    assert stopped(config, runs) == []


@pytest.mark.parametrize("state", NOT_RUNNING, ids=lambda s: s.value)
def test_runs_in_every_state_count_in_thresholds(state: RunState) -> None:
    # Spec §14 Q9: crashed, failed, killed, ... runs set the bar too.
    config = make_config(min_iter=1, eta=3)
    runs = [make_run(f"o{i}", state, 1) for i in range(3)]
    runs.append(make_run("r", "running", 2))
    assert stopped(config, runs) == ["r"]


def test_result_follows_the_order_of_runs() -> None:
    config = make_config(min_iter=1, eta=3)
    runs = [make_run("z", "running", 9), make_run("a", "finished", 1)]
    runs += [make_run("m", "running", 8), make_run("b", "finished", 2)]
    assert stopped(config, runs) == ["z", "m"]


def test_through_the_engine() -> None:
    raw = {
        "method": "random",
        "parameters": {"x": {"value": 1}},
        "metric": {"name": "val_loss"},
        "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
    }
    runs = [
        Run(run.name, run.state, {}, [{"val_loss": row["loss"]} for row in run.history])
        for run in WORKED
    ]
    [order] = engine.runs_to_stop(raw, runs)
    assert order.run == "r2"
    assert order.reason == (
        "hyperband: at iteration 2 val_loss 9 is worse than the band's threshold 5 "
        "(top 1/2 of 5 runs)"
    )


def test_many_runs() -> None:
    rng = np.random.default_rng(0)
    runs = [
        Run(
            f"r{i}",
            RunState.RUNNING if i % 3 else RunState.FINISHED,
            {},
            [{"loss": float(v)} for v in row],
        )
        for i, row in enumerate(rng.random((3000, 100)))
    ]
    orders = Hyperband().runs_to_stop(make_config(min_iter=1, eta=3), runs)
    assert 0 < len(orders) < 2000


# Validation: every problem says where, what and how to fix it.
INVALID = [
    pytest.param({}, "early_terminate.min_iter", "needs min_iter", id="no-form"),
    pytest.param({"s": 2}, "early_terminate.min_iter", "needs min_iter", id="s-alone"),
    pytest.param({"min_iter": 0}, "early_terminate.min_iter", "min_iter 0", id="min_iter-0"),
    pytest.param({"min_iter": 2.0}, "early_terminate.min_iter", "min_iter: 2", id="min_iter-f"),
    pytest.param({"min_iter": "3"}, "early_terminate.min_iter", "'3'", id="min_iter-str"),
    pytest.param({"max_iter": 27}, "early_terminate.s", "add e.g. s: 2", id="max_iter-no-s"),
    pytest.param({"max_iter": 27.5, "s": 2}, "early_terminate.max_iter", "27.5", id="max_float"),
    pytest.param({"max_iter": 27, "s": "2"}, "early_terminate.s", "not a number", id="s-str"),
    pytest.param({"max_iter": 27, "s": 1.5}, "early_terminate.s", "whole number", id="s-frac"),
    pytest.param({"min_iter": 1, "eta": 1}, "early_terminate.eta", "greater than 1", id="eta-1"),
    pytest.param({"min_iter": 1, "eta": "3"}, "early_terminate.eta", "not a number", id="eta-s"),
    pytest.param({"min_iter": 1, "eta": True}, "early_terminate.eta", "not a number", id="eta-b"),
    pytest.param({"min_iter": 1, "eta": math.inf}, "early_terminate.eta", "finite", id="eta-inf"),
    pytest.param({"min_iter": 1, "strict": "no"}, "early_terminate.strict", "boolean", id="str"),
    pytest.param({"max_iter": 0, "s": 2}, "early_terminate", "Bands must be", id="max_iter-0"),
    pytest.param({"max_iter": 27, "s": 0}, "early_terminate", "Bands must be", id="s-0"),
]


@pytest.mark.parametrize(("early", "path", "phrase"), INVALID)
def test_validation_errors(early: dict[str, Any], path: str, phrase: str) -> None:
    config = make_config(**early)
    errors = [issue for issue in Hyperband().validate(config) if issue.is_error]
    assert [issue.path for issue in errors] == [path]
    assert phrase in errors[0].message
    with pytest.raises(ConfigError):
        Hyperband().runs_to_stop(config, [])


def test_every_error_at_once() -> None:
    config = make_config(min_iter=0, eta=0.5, strict=1)
    paths = sorted(issue.path for issue in Hyperband().validate(config))
    assert paths == ["early_terminate.eta", "early_terminate.min_iter", "early_terminate.strict"]


def test_unknown_key_is_a_warning() -> None:
    config = make_config(min_iter=3, max_iters=9)
    [issue] = Hyperband().validate(config)
    assert issue.severity is Severity.WARNING
    assert issue.path == "early_terminate.max_iters"
    assert "ignored" in issue.message
    assert "'max_iter'" in issue.message  # did you mean
    assert stopped(config, []) == []  # a warning does not stop the rule


def test_s_without_max_iter_is_a_warning() -> None:
    [issue] = Hyperband().validate(make_config(min_iter=3, s=2))
    assert issue.severity is Severity.WARNING
    assert issue.path == "early_terminate.s"


def test_valid_configs_have_no_issues() -> None:
    assert Hyperband().validate(make_config(min_iter=3)) == []
    assert Hyperband().validate(make_config(max_iter=27, s=2, eta=3, strict=False)) == []
    assert Hyperband().validate(make_config(max_iter=27, s=2.0)) == []


def test_engine_reports_the_rule_issues() -> None:
    raw = {
        "method": "random",
        "parameters": {"x": {"value": 1}},
        "metric": {"name": "loss"},
        "early_terminate": {"type": "hyperband", "max_iter": 2, "s": 1},
    }
    assert any("Bands must be" in issue.message for issue in engine.validate(raw))
    with pytest.raises(ConfigError):
        engine.runs_to_stop(raw, [])
