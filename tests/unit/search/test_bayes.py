"""``method: bayes``: warm-up, parallel correctness, search_info, bounded cost, convergence."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from hypersweep import engine
from hypersweep.config import SweepConfig, parse_config, value_key
from hypersweep.domain import Run
from hypersweep.search import SEARCHERS, bayes
from hypersweep.search._subset import informative_subset
from hypersweep.search.bayes import N_INITIAL, N_INITIAL_CATEGORICAL, BayesSearch
from hypersweep.search.sobol import design_seed, sobol_points

BRANIN_SPACE = {"x1": {"min": -5.0, "max": 10.0}, "x2": {"min": 0.0, "max": 15.0}}
BRANIN_MIN = 0.397887


def branin(p: dict[str, Any]) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def config_of(parameters: dict[str, Any], method: str = "bayes", **extra: Any) -> SweepConfig:
    raw = {"method": method, "metric": {"name": "loss"}, "parameters": parameters, **extra}
    config, issues = parse_config(raw)
    assert config is not None, [str(i) for i in issues]
    return config


def finished(params: dict[str, Any], loss: float, name: str = "r") -> Run:
    return Run(name, "finished", params, history=[{"loss": loss}])


def branin_runs(config: SweepConfig, n: int, seed: int = 0) -> list[Run]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        params = config.space.sample(rng)
        out.append(finished(params, branin(params), f"r{i}"))
    return out


def test_validate_keeps_w_and_b_messages() -> None:
    config, _ = parse_config({"method": "bayes", "parameters": {"c": {"value": 1}}})
    assert config is not None
    messages = [i.message for i in BayesSearch().validate(config)]
    assert messages[0].startswith('Bayesian search requires "metric" section')
    assert messages[1].startswith("Need at least one searchable parameter for bayes search.")


def test_warm_up_follows_the_sweep_design_for_agents_asking_in_turn() -> None:
    """Each agent's request sees the others' pending runs, so gets the next Sobol' point."""
    config = config_of(BRANIN_SPACE)
    runs: list[Run] = []
    for i in range(N_INITIAL):
        (s,) = BayesSearch().suggest(config, runs, 1, np.random.default_rng(i))
        assert s.info["phase"] == "warm-up" and s.info["sobol_index"] == i
        runs.append(Run(f"r{i}", "pending", s.params))
    design = sobol_points(design_seed(config), 2, 0, len(runs))
    got = np.array([[(r.params["x1"] + 5) / 15, r.params["x2"] / 15] for r in runs])
    np.testing.assert_allclose(got, design, atol=1e-9)


def test_warm_up_is_the_same_whatever_the_rng_and_moves_with_the_seed_key() -> None:
    config = config_of(BRANIN_SPACE)
    a = BayesSearch().suggest(config, [], 2, np.random.default_rng(1))
    b = BayesSearch().suggest(config, [], 2, np.random.default_rng(2))
    assert [s.params for s in a] == [s.params for s in b]
    seeded = BayesSearch().suggest(config_of(BRANIN_SPACE, seed=3), [], 2, np.random.default_rng(1))
    assert [s.params for s in seeded] != [s.params for s in a]


def test_no_signal_keeps_to_the_design_and_says_why() -> None:
    config = config_of(BRANIN_SPACE)
    runs = [finished(r.params, 1.0) for r in branin_runs(config, 6)]
    (s,) = BayesSearch().suggest(config, runs, 1, np.random.default_rng(0))
    assert s.info["phase"] == "warm-up" and s.info["sobol_index"] == 6
    assert any("same value" in w for w in s.info["warnings"])
    failed = [Run(r.name, "failed", r.params) for r in runs]
    (s,) = BayesSearch().suggest(config, failed, 1, np.random.default_rng(0))
    assert s.info["warnings"][0] == "Sweep has no valid samples of the metric."


@pytest.mark.parametrize("goal", ["minimize", "maximize"])
def test_search_info_has_w_and_b_keys(goal: str) -> None:
    raw = {"method": "bayes", "metric": {"name": "loss", "goal": goal}}
    config, _ = parse_config({**raw, "parameters": BRANIN_SPACE})
    assert config is not None
    sign = 1 if goal == "minimize" else -1
    # offset so that a prediction left in standardised units (near 0) cannot pass for one in
    # the metric's units
    offset = 1000.0
    runs = [finished(r.params, sign * (offset + branin(r.params))) for r in branin_runs(config, 12)]
    (s,) = BayesSearch().suggest(config, runs, 1, np.random.default_rng(0))
    info = s.info
    assert info["phase"] == "model"
    for key in ("predicted_value", "predicted_value_std_dev", "expected_improvement"):
        assert math.isfinite(info[key])
    assert 0.0 <= info["success_probability"] <= 1.0
    assert info["predicted_value_std_dev"] >= 0 and info["expected_improvement"] >= 0
    assert info["warnings"] == []
    # W&B reports the prediction in the minimised objective: the negated metric when maximizing
    assert info["predicted_metric"] == pytest.approx(sign * info["predicted_value"])
    # Branin spans [0.4, 308] on the box; an interpolating model may dip a little below its
    # minimum between the points it has
    assert offset - 15 < sign * info["predicted_metric"] < offset + 310


@pytest.mark.parametrize("method", ["bayes", "tpe", "sobol"])
@pytest.mark.parametrize("n_runs", [0, 14])
def test_eight_suggestions_asked_together_are_pairwise_distinct(method: str, n_runs: int) -> None:
    for space in (
        BRANIN_SPACE,
        {"a": {"values": ["x", "y", "z"]}, "b": {"min": 1, "max": 3}, "c": {"value": 0}},
    ):
        config = config_of(space, method)
        rng = np.random.default_rng(0)
        runs = [
            finished(p, float(i % 5), f"r{i}")
            for i, p in enumerate(config.space.sample(rng) for _ in range(n_runs))
        ]
        suggestions = SEARCHERS[method]().suggest(config, runs, 8, np.random.default_rng(1))
        keys = {value_key(s.params) for s in suggestions}
        assert len(keys) == 8, [s.params for s in suggestions]


@pytest.mark.parametrize("method", ["bayes", "tpe"])
def test_an_observed_combination_is_not_suggested_while_an_unseen_one_remains(
    method: str,
) -> None:
    space = {"a": {"values": ["x", "y", "z"]}, "b": {"values": [True, False]}}
    config = config_of(space, method)
    combos = [{"a": a, "b": b} for a in "xyz" for b in (True, False)]
    unseen = combos.pop(4)
    # each seen combination twice, the best one three times over: the model likes it
    runs = [finished(c, float(i), f"r{i}") for i, c in enumerate(combos + combos)]
    runs += [finished(combos[0], -5.0, "best")]
    for seed in range(3):
        (s,) = SEARCHERS[method]().suggest(config, runs, 1, np.random.default_rng(seed))
        assert s.params == unseen


def test_runs_in_flight_push_the_next_point_away() -> None:
    """Kriging believer: a pending run where the model would go makes it go elsewhere."""
    config = config_of(BRANIN_SPACE)
    runs = branin_runs(config, 15)
    (alone,) = BayesSearch().suggest(config, runs, 1, np.random.default_rng(0))
    pending = Run("p", "pending", alone.params)
    (other,) = BayesSearch().suggest(config, [*runs, pending], 1, np.random.default_rng(0))
    assert other.info["n_fantasised"] == 1
    distance = math.hypot(
        (other.params["x1"] - alone.params["x1"]) / 15,
        (other.params["x2"] - alone.params["x2"]) / 15,
    )
    assert distance > 1e-3


def test_integers_and_quantized_values_come_out_valid_from_the_model() -> None:
    space = {
        "n": {"min": 1, "max": 5},
        "q": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25},
        "x": {"min": 0.0, "max": 1.0},
    }
    config = config_of(space)
    rng = np.random.default_rng(0)
    runs = []
    for i in range(12):
        p = config.space.sample(rng)
        runs.append(finished(p, (p["n"] - 3) ** 2 + (p["q"] - 0.5) ** 2 + p["x"], f"r{i}"))
    for s in BayesSearch().suggest(config, runs, 4, np.random.default_rng(0)):
        assert type(s.params["n"]) is int and 1 <= s.params["n"] <= 5
        assert s.params["q"] in (0.0, 0.25, 0.5, 0.75, 1.0)


def test_the_model_sees_a_bounded_informative_subset() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((2000, 3))
    y = ((x - 0.3) ** 2).sum(axis=1)
    chosen = informative_subset(x, y, 300, 100)
    assert len(chosen) == 300 == len(set(chosen.tolist()))
    best = np.argsort(y)[:100]
    assert set(best.tolist()) <= set(chosen.tolist())
    # the rest is spread out: every point of the sweep is near a chosen one
    kept = x[chosen]
    nearest = np.sqrt(((x[:, None, :] - kept[None, :, :]) ** 2).sum(-1)).min(axis=1)
    assert nearest.max() < 0.25


def test_a_large_sweep_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    # a small cap keeps the test fast; the mechanism is the same at bayes.CAP
    monkeypatch.setattr(bayes, "CAP", 30)
    monkeypatch.setattr(bayes, "FIT_CAP", 20)
    config = config_of(BRANIN_SPACE)
    runs = branin_runs(config, 90)
    (s,) = BayesSearch().suggest(config, runs, 1, np.random.default_rng(0))
    assert s.info["n_observations"] == 90
    assert s.info["n_model_points"] == 30


def test_bayes_converges_on_branin_where_random_search_does_not() -> None:
    """With the same seed, bayes gets within 0.05 of Branin's minimum in 30 runs; random search
    does not (its median regret after 30 runs is about 1). Fails if the model is replaced by
    random sampling."""
    budget, regret = 30, 0.05
    best = {}
    for method in ("bayes", "random"):
        config = {"method": method, "metric": {"name": "loss"}, "parameters": BRANIN_SPACE}
        runs: list[Run] = []
        for i in range(budget):
            (s,) = engine.next_runs(config, runs, 1, seed=np.random.default_rng([7, i]))
            runs.append(finished(s.params, branin(s.params), f"r{i}"))
        best[method] = min(branin(r.params) for r in runs) - BRANIN_MIN
    assert best["bayes"] < regret <= best["random"], best


def test_a_space_with_a_categorical_warms_up_longer() -> None:
    """Each category must be seen at more than one setting of the numbers before the model
    judges it (bayes.N_INITIAL_CATEGORICAL)."""
    space = {"lr": {"min": 0.0, "max": 1.0}, "opt": {"values": ["adam", "sgd", "rmsprop"]}}
    config = config_of(space)
    runs = [
        finished({"lr": 0.1 * i, "opt": ["adam", "sgd", "rmsprop"][i % 3]}, float(i), f"r{i}")
        for i in range(N_INITIAL_CATEGORICAL - 1)
    ]
    rng = np.random.default_rng(0)
    [last_warm_up] = BayesSearch().suggest(config, runs, 1, rng)
    assert last_warm_up.info["phase"] == "warm-up"
    runs.append(finished(last_warm_up.params, 0.5, "r-last"))
    [modelled] = BayesSearch().suggest(config, runs, 1, rng)
    assert modelled.info["phase"] == "model"


def test_with_runs_in_flight_most_suggestions_stay_near_the_best_points() -> None:
    """With k runs in flight, one suggestion in k + 1 searches the whole space; the others only
    near the best points (bayes module doc, step 7)."""
    config = config_of(HARTMANN_LIKE_SPACE)
    rng = np.random.default_rng(0)
    done = []
    for i in range(22):
        params = config.space.sample(rng)
        done.append(finished(params, _bowl(params), f"d{i}"))

    local, whole = [], []
    for n_done in range(16, 22):
        best = sorted(done[:n_done], key=lambda r: _bowl(r.params))[:5]
        for k in (1, 2, 3):  # runs in flight
            flying = [
                Run(f"p{j}", "running", config.space.sample(np.random.default_rng(100 + j)))
                for j in range(k)
            ]
            runs = done[:n_done] + flying
            (s,) = BayesSearch().suggest(config, runs, 1, np.random.default_rng(n_done))
            distance = min(
                max(abs(s.params[key] - b.params[key]) for key in HARTMANN_LIKE_SPACE) for b in best
            )
            (whole if len(runs) % (k + 1) == 0 else local).append(distance)
    assert len(whole) >= 3 and len(local) >= 9
    # perturbations of at most ~3 standard deviations of 0.2, refined within 0.1
    assert max(local) < 0.75
    assert np.median(local) < np.median(whole)


HARTMANN_LIKE_SPACE = {f"x{i}": {"min": 0.0, "max": 1.0} for i in range(6)}


def _bowl(params: dict[str, Any]) -> float:
    # a narrow optimum in the middle and a flat region elsewhere, like Hartmann-6: the corners,
    # where the model knows least, are where expected improvement drifts with runs in flight
    return -math.exp(-sum((params[f"x{i}"] - 0.4) ** 2 for i in range(6)) * 8)


def test_a_stalled_model_takes_one_point_from_the_design() -> None:
    """When each of the newest runs sits on top of an older one, the next point explores."""
    config = config_of(BRANIN_SPACE)
    runs = branin_runs(config, 10)
    anchor = runs[3].params
    for j in range(bayes.STALL_RUNS):
        near = {"x1": anchor["x1"], "x2": anchor["x2"] + 1e-4 * (j + 1)}
        runs.append(finished(near, branin(near), f"n{j}"))
    first, second = BayesSearch().suggest(config, runs, 2, np.random.default_rng(0))
    assert first.info["phase"] == "explore"
    assert bayes.STALLED_WARNING in first.info["warnings"]
    assert second.info["phase"] == "model"  # only the first point of a request
    # one newest run away from the others: not a stall
    runs[-1] = finished({"x1": 9.0, "x2": 2.0}, branin({"x1": 9.0, "x2": 2.0}), "far")
    (s,) = BayesSearch().suggest(config, runs, 1, np.random.default_rng(0))
    assert s.info["phase"] == "model"
