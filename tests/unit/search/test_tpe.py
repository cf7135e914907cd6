"""``method: tpe``: Optuna's defaults, constant liar, convergence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hypersweep import engine
from hypersweep.config import parse_config
from hypersweep.domain import Run
from hypersweep.search._parzen import LeafKinds, ParzenEstimator
from hypersweep.search.tpe import N_STARTUP, TPESearch, default_gamma, default_weights


def test_gamma_and_weights_are_optunas() -> None:
    assert [default_gamma(n) for n in (1, 10, 11, 100, 1000)] == [1, 1, 2, 10, 25]
    assert default_weights(3).tolist() == [1.0, 1.0, 1.0]
    w = default_weights(30)
    assert len(w) == 30 and w[0] == pytest.approx(1 / 30) and np.all(w[-25:] == 1.0)


def test_validate_requires_a_metric() -> None:
    config, _ = parse_config({"method": "tpe", "parameters": {"x": {"min": 0.0, "max": 1.0}}})
    assert config is not None
    (issue,) = TPESearch().validate(config)
    assert issue.path == "metric" and "requires" in issue.message


def test_parzen_density_integrates_to_one() -> None:
    kinds = LeafKinds(n_choices=np.array([0, 3]), n_cells=np.array([0, 0]))
    points = np.array([[0.2, 0], [0.25, 1], [0.9, 0]])
    estimator = ParzenEstimator(points, np.ones(3), kinds)
    grid = (np.arange(2000) + 0.5) / 2000
    total = 0.0
    for category in range(3):
        x = np.column_stack([grid, np.full_like(grid, category)])
        total += float(np.exp(estimator.log_pdf(x)).mean())
    assert total == pytest.approx(1.0, abs=1e-3)
    draws = estimator.sample(np.random.default_rng(0), 500)
    assert np.all((draws[:, 0] >= 0) & (draws[:, 0] <= 1)) and set(draws[:, 1]) <= {0, 1, 2}


def test_integer_cells_have_probability_mass() -> None:
    kinds = LeafKinds(n_choices=np.array([0]), n_cells=np.array([4]))
    estimator = ParzenEstimator(np.array([[0.125], [0.375]]), np.ones(2), kinds)
    centres = ((np.arange(4) + 0.5) / 4)[:, None]
    assert float(np.exp(estimator.log_pdf(centres)).sum()) == pytest.approx(1.0)


def test_runs_in_flight_join_the_bad_group() -> None:
    config, _ = parse_config(
        {"method": "tpe", "metric": {"name": "loss"}, "parameters": {"x": {"min": 0.0, "max": 1.0}}}
    )
    assert config is not None
    runs = [
        Run(f"r{i}", "finished", {"x": i / 20}, [{"loss": (i / 20 - 0.3) ** 2}]) for i in range(20)
    ]
    (alone,) = TPESearch().suggest(config, runs, 1, np.random.default_rng(0))
    assert alone.info["n_bad"] == 18
    pending = [Run(f"p{i}", "running", {"x": 0.3 + i * 0.01}) for i in range(3)]
    (s,) = TPESearch().suggest(config, runs + pending, 1, np.random.default_rng(0))
    assert s.info["n_bad"] == 21


def test_tpe_beats_random_search_on_branin() -> None:
    space = {"x1": {"min": -5.0, "max": 10.0}, "x2": {"min": 0.0, "max": 15.0}}

    def branin(p: dict[str, float]) -> float:
        b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
        x1, x2 = p["x1"], p["x2"]
        return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10

    best = {}
    for method in ("tpe", "random"):
        config = {"method": method, "metric": {"name": "loss"}, "parameters": space}
        runs: list[Run] = []
        for i in range(N_STARTUP + 40):
            (s,) = engine.next_runs(config, runs, seed=np.random.default_rng([3, i]))
            runs.append(Run(f"r{i}", "finished", s.params, [{"loss": branin(s.params)}]))
        best[method] = min(branin(r.params) for r in runs)
    assert best["tpe"] < 0.8 < best["random"], best
