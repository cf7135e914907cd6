"""The behaviour every search method in SEARCHERS must have, tested once (spec §4.1).

Each method gets the same awkward sweeps: none, one run, every run failed, a constant metric,
NaN and infinite metrics, the same point many times, runs missing a parameter, minimised and
maximised; and must answer with valid parameters, reproducibly for a seed. Grid is the only
method that may answer with fewer than ``n`` points (it exhausts).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from hypersweep.config import MISSING, SweepConfig, parse_config, value_key
from hypersweep.domain import Run
from hypersweep.search import SEARCHERS, Searcher, Suggestion

METHODS = sorted(SEARCHERS)

# Every distribution family, nested blocks, falsy categorical values and constants.
RICH: dict[str, Any] = {
    "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
    "layers": {"min": 1, "max": 8},
    "dropout": {"distribution": "q_uniform", "min": 0.0, "max": 0.5, "q": 0.1},
    "batch": {"distribution": "q_log_uniform_values", "min": 16, "max": 256, "q": 16},
    "w": {"distribution": "normal", "mu": 0.0, "sigma": 2.0},
    "m": {"distribution": "beta", "a": 2.0, "b": 5.0},
    "decay": {"distribution": "inv_log_uniform_values", "min": 1e-4, "max": 1e-1},
    "opt": {
        "parameters": {
            "name": {"values": ["adam", "sgd", False, None, 0]},
            "beta": {"value": 0.9},
        }
    },
    "act": {"values": ["relu", "tanh"], "probabilities": [0.7, 0.3]},
    "x": {"min": -1.0, "max": 1.0},
}
# What grid accepts.
GRIDDABLE: dict[str, Any] = {
    "layers": {"min": 1, "max": 3},
    "dropout": {"distribution": "q_uniform", "min": 0.0, "max": 0.3, "q": 0.1},
    "opt": {"parameters": {"name": {"values": ["adam", "sgd", False]}, "beta": {"value": 0.9}}},
}


def config_for(method: str, goal: str = "minimize") -> SweepConfig:
    raw = {
        "method": method,
        "metric": {"name": "loss", "goal": goal},
        "parameters": GRIDDABLE if method == "grid" else RICH,
    }
    config, issues = parse_config(raw)
    assert config is not None, [str(i) for i in issues]
    assert not [i for i in SEARCHERS[method]().validate(config) if i.is_error]
    return config


def assert_valid(config: SweepConfig, suggestion: Suggestion) -> None:
    """Every leaf present, in its distribution's support, of the type it samples."""
    values = config.space.values_of(suggestion.params)
    for parameter, value in zip(config.space, values, strict=True):
        d: Any = parameter.distribution
        where = ".".join(parameter.path)
        assert value is not MISSING, f"{where} missing from {suggestion.params}"
        if d.is_constant:
            assert value == d.value, where
            continue
        if hasattr(d, "values"):
            assert value_key(value) in {value_key(v) for v in d.values}, (where, value)
            continue
        typical = d.from_unit(0.5)
        assert type(value) is type(typical), (where, value, typical)
        assert math.isfinite(value), (where, value)
        if d.name == "int_uniform":
            assert d.min <= value <= d.max, (where, value)
        elif getattr(d, "q", None) is not None:
            assert math.isclose(value / d.q, round(value / d.q), abs_tol=1e-9), (where, value)
        elif hasattr(d, "min") and "log" not in d.name:
            assert d.min <= value <= d.max, (where, value)
        elif d.name.endswith("_values"):
            assert d.min * (1 - 1e-9) <= value <= d.max * (1 + 1e-9), (where, value)
        elif d.name == "beta":
            assert 0.0 <= value <= 1.0, (where, value)


def sampled_runs(
    config: SweepConfig,
    n: int,
    metric: Callable[[int, dict[str, Any]], Any],
    state: str = "finished",
    seed: int = 0,
) -> list[Run]:
    rng = np.random.default_rng(seed)
    runs = []
    for i in range(n):
        params = config.space.sample(rng)
        runs.append(Run(f"r{i}", state, params, history=[{"loss": metric(i, params)}]))
    return runs


def smooth(i: int, params: dict[str, Any]) -> float:
    # depends on a few leaves; defined for both spaces
    return float((params["layers"] - 2) ** 2 + 10 * (params["dropout"] - 0.1) ** 2 + 0.01 * i)


SCENARIOS: dict[str, Callable[[SweepConfig], list[Run]]] = {
    "no runs": lambda c: [],
    "one run": lambda c: sampled_runs(c, 1, smooth),
    "sweep of 14": lambda c: sampled_runs(c, 14, smooth),
    "all failed": lambda c: [
        Run(f"r{i}", "failed", r.params) for i, r in enumerate(sampled_runs(c, 14, smooth))
    ],
    "constant metric": lambda c: sampled_runs(c, 14, lambda i, p: 1.0),
    "nan and inf metrics": lambda c: sampled_runs(
        c, 14, lambda i, p: [math.nan, math.inf, -math.inf, "x", True, 2.0][i % 6]
    ),
    "duplicate points": lambda c: [
        Run(f"r{i}", "finished", sampled_runs(c, 1, smooth)[0].params, [{"loss": i % 3}])
        for i in range(14)
    ],
    "runs missing a parameter": lambda c: [
        Run(r.name, r.state, {k: v for k, v in r.params.items() if k != "layers"}, r.history)
        for r in sampled_runs(c, 14, smooth)
    ],
    "runs in flight": lambda c: (
        sampled_runs(c, 12, smooth)
        + sampled_runs(c, 4, smooth, state="running", seed=1)
        + sampled_runs(c, 2, smooth, state="pending", seed=2)
    ),
    "unknown values": lambda c: [
        *sampled_runs(c, 12, smooth),
        Run("odd", "finished", {"layers": "many", "opt": {"name": "rmsprop"}}, [{"loss": 0}]),
    ],
}


def searcher(method: str) -> Searcher:
    return SEARCHERS[method]()


@pytest.mark.parametrize("goal", ["minimize", "maximize"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("method", METHODS)
def test_valid_suggestions_in_every_scenario(method: str, scenario: str, goal: str) -> None:
    config = config_for(method, goal)
    runs = SCENARIOS[scenario](config)
    suggestions = searcher(method).suggest(config, runs, 3, np.random.default_rng(0))
    if method == "grid":
        assert len(suggestions) <= 3
    else:
        assert len(suggestions) == 3
    for suggestion in suggestions:
        assert isinstance(suggestion, Suggestion)
        assert_valid(config, suggestion)


@pytest.mark.parametrize("scenario", ["no runs", "sweep of 14", "runs in flight"])
@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_suggestions(method: str, scenario: str) -> None:
    config = config_for(method)
    runs = SCENARIOS[scenario](config)
    first = searcher(method).suggest(config, runs, 2, np.random.default_rng(7))
    again = searcher(method).suggest(config, runs, 2, np.random.default_rng(7))
    assert [s.params for s in first] == [s.params for s in again]


@pytest.mark.parametrize("method", METHODS)
def test_zero_suggestions_asked(method: str) -> None:
    config = config_for(method)
    assert searcher(method).suggest(config, [], 0, np.random.default_rng(0)) == []


@pytest.mark.parametrize("method", METHODS)
def test_info_is_a_mapping_of_plain_values(method: str) -> None:
    config = config_for(method)
    runs = SCENARIOS["sweep of 14"](config)
    for suggestion in searcher(method).suggest(config, runs, 2, np.random.default_rng(0)):
        for key, value in suggestion.info.items():
            assert isinstance(key, str)
            assert value is None or isinstance(value, (str, int, float, bool, list, dict)), key


@pytest.mark.parametrize("method", METHODS)
def test_validate_returns_issues_not_exceptions(method: str) -> None:
    config, _ = parse_config({"method": method, "parameters": {"c": {"value": 1}}})
    assert config is not None
    issues = searcher(method).validate(config)
    assert all(issue.message for issue in issues)
