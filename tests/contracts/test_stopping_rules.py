"""The behaviour every early-termination rule in STOPPING_RULES must have, tested once."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from hypersweep import engine
from hypersweep.config import SweepConfig, parse_config
from hypersweep.domain import Run, RunState
from hypersweep.errors import ConfigError
from hypersweep.stopping import STOPPING_RULES, StopOrder, StoppingRule

# A minimal valid early_terminate block per rule (eta 2 and min_runs 1 so that small sweeps
# stop something), and one that must be rejected: missing its required keys where it has any.
VALID: dict[str, dict[str, Any]] = {
    "hyperband": {"min_iter": 1, "eta": 2},
    "asha": {"min_iter": 1, "eta": 2},
    "median": {"min_runs": 1},
}
INVALID: dict[str, dict[str, Any]] = {
    "hyperband": {},
    "asha": {},
    "median": {"min_runs": 0},  # median has no required key
}
RULES = sorted(STOPPING_RULES)
SEEDS = range(40)


def make_config(kind: str, goal: str = "minimize", early: dict[str, Any] | None = None) -> Any:
    return {
        "method": "random",
        "parameters": {"x": {"value": 1}},
        "metric": {"name": "loss", "goal": goal},
        "early_terminate": {"type": kind, **(VALID[kind] if early is None else early)},
    }


def parsed(kind: str, goal: str = "minimize") -> SweepConfig:
    return engine.parse(make_config(kind, goal))


def rule(kind: str) -> StoppingRule:
    return STOPPING_RULES[kind]()


def scenario(seed: int) -> list[Run]:
    """A small sweep: runs in every state, ragged histories, junk values, missing metrics."""
    rng = random.Random(seed)
    junk: list[Any] = [math.nan, math.inf, "0.1", True, None]
    runs = []
    for index in range(rng.randint(1, 12)):
        state = rng.choice([RunState.RUNNING] * 4 + list(RunState))
        history: list[dict[str, Any]] = []
        for _ in range(rng.choice([0, 1, 2, 3, 4, 6, 9])):
            roll = rng.random()
            if roll < 0.1:
                history.append({"loss": rng.choice(junk)})
            elif roll < 0.15:
                history.append({"other": 1})
            elif roll < 0.6:
                history.append({"loss": rng.randint(-5, 5)})
            else:
                history.append({"loss": round(rng.uniform(-5, 5), 3)})
        runs.append(Run(f"run{index}", state, {}, history))
    return runs


def mirrored(runs: list[Run]) -> list[Run]:
    def flip(value: Any) -> Any:
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return -value if is_number else value

    return [
        Run(
            run.name,
            run.state,
            run.params,
            [{k: flip(v) for k, v in row.items()} for row in run.history],
        )
        for run in runs
    ]


def stop_set(kind: str, runs: list[Run], goal: str = "minimize") -> set[str]:
    return {order.run for order in rule(kind).runs_to_stop(parsed(kind, goal), runs)}


def test_every_rule_declares_its_contract_configs() -> None:
    assert set(VALID) == set(STOPPING_RULES) == set(INVALID)


@pytest.mark.parametrize("kind", RULES)
def test_type_matches_the_registry_key(kind: str) -> None:
    assert STOPPING_RULES[kind].type == kind


@pytest.mark.parametrize("kind", RULES)
def test_valid_config_has_no_errors(kind: str) -> None:
    assert [i for i in rule(kind).validate(parsed(kind)) if i.is_error] == []


@pytest.mark.parametrize("kind", RULES)
def test_no_runs(kind: str) -> None:
    assert rule(kind).runs_to_stop(parsed(kind), []) == []


@pytest.mark.parametrize("kind", RULES)
def test_only_finished_runs(kind: str) -> None:
    runs = [
        Run(f"f{i}", RunState.FINISHED, {}, [{"loss": (i * 7) % 5 - j} for j in range(i % 6)])
        for i in range(20)
    ]
    assert rule(kind).runs_to_stop(parsed(kind), runs) == []


@pytest.mark.parametrize("kind", RULES)
def test_stops_something_in_these_scenarios(kind: str) -> None:
    # Keeps the contracts below from passing vacuously.
    assert sum(len(stop_set(kind, scenario(seed))) for seed in SEEDS) >= 5


@pytest.mark.parametrize("kind", RULES)
@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"seed{s}")
def test_decisions(kind: str, seed: int) -> None:
    runs = scenario(seed)
    orders = rule(kind).runs_to_stop(parsed(kind), runs)
    by_name = {run.name: run for run in runs}
    names = [order.run for order in orders]
    assert len(names) == len(set(names))
    for order in orders:
        assert isinstance(order, StopOrder)
        run = by_name[order.run]
        assert run.state is RunState.RUNNING
        assert any(isinstance(row.get("loss"), (int, float)) for row in run.history)
        assert isinstance(order.reason, str)
        assert order.reason.startswith(f"{kind}:")
        assert len(order.reason) > len(kind) + 10


@pytest.mark.parametrize("kind", RULES)
@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"seed{s}")
def test_deterministic_and_independent_of_run_order(kind: str, seed: int) -> None:
    runs = scenario(seed)
    first = rule(kind).runs_to_stop(parsed(kind), runs)
    assert rule(kind).runs_to_stop(parsed(kind), runs) == first
    if STOPPING_RULES[kind].reads_creation_order:
        # the order of ``runs`` is its input (creation order): appending runs created later
        # never stops a run that the shorter sweep kept with the same history
        for cut in range(1, len(runs)):
            kept = {r.name for r in runs[:cut] if r.state is RunState.RUNNING}
            kept -= stop_set(kind, runs[:cut])
            assert kept.isdisjoint({order.run for order in first})
        return
    shuffled = list(runs)
    random.Random(seed).shuffle(shuffled)
    assert {order.run for order in first} == stop_set(kind, shuffled)


@pytest.mark.parametrize("kind", RULES)
@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"seed{s}")
def test_maximize_mirrors_minimize(kind: str, seed: int) -> None:
    runs = scenario(seed)
    assert stop_set(kind, runs) == stop_set(kind, mirrored(runs), goal="maximize")


@pytest.mark.parametrize("kind", RULES)
def test_a_run_without_values_is_never_stopped(kind: str) -> None:
    no_values = [
        Run("empty", RunState.RUNNING, {}, []),
        Run("junk", RunState.RUNNING, {}, [{"loss": math.nan}, {"loss": "1"}, {"acc": 1}]),
    ]
    for seed in SEEDS:
        assert stop_set(kind, scenario(seed) + no_values).isdisjoint({"empty", "junk"})


@pytest.mark.parametrize("kind", RULES)
def test_invalid_config_is_an_error_under_early_terminate(kind: str) -> None:
    raw = make_config(kind, early=INVALID[kind])
    config, issues = parse_config(raw)
    assert config is not None, [str(issue) for issue in issues]
    errors = [issue for issue in rule(kind).validate(config) if issue.is_error]
    assert errors
    assert all(issue.path.startswith("early_terminate") for issue in errors)
    assert [str(i) for i in engine.validate(raw) if i.is_error] == [str(i) for i in errors]
    with pytest.raises(ConfigError):
        rule(kind).runs_to_stop(config, [])
