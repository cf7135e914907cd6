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


def test_width_floor_counts_the_whole_model() -> None:
    # five good runs packed into 1 % of the range: Optuna's floor, 1 / (kernels + 1), keeps
    # their kernels a seventh of the range wide; counting the model's 51 kernels, the floor is
    # 1 / (sqrt(6 * 51) + 1)
    kinds = LeafKinds(n_choices=np.array([0]), n_cells=np.array([0]))
    points = np.array([[0.500], [0.502], [0.504], [0.506], [0.508]])
    group_only = ParzenEstimator(points, np.ones(5), kinds)
    assert group_only.sigmas[:-1, 0] == pytest.approx(np.full(5, 1 / 7))
    whole = ParzenEstimator(points, np.ones(5), kinds, model_kernels=51)
    assert whole.sigmas[:-1, 0] == pytest.approx(np.full(5, 1 / (math.sqrt(6 * 51) + 1)))
    assert whole.sigmas[-1, 0] == 1.0  # the prior kernel stays as wide as the range
    # the narrower good density puts more of its draws near the good runs
    rng = np.random.default_rng(0)
    near = [np.mean(np.abs(e.sample(rng, 4000)[:, 0] - 0.504) < 0.05) for e in (group_only, whole)]
    assert near[1] > 1.5 * near[0], near
    # a wide spread is left alone: the gaps are above either floor
    spread = np.array([[0.1], [0.4], [0.9]])
    assert ParzenEstimator(spread, np.ones(3), kinds, model_kernels=51).sigmas[:-1, 0] == (
        pytest.approx([0.3, 0.5, 0.5])
    )


def test_tpe_refines_around_a_cluster_of_good_runs() -> None:
    # 54 poor runs on a grid and 6 good ones within 0.005 of each other: with Optuna's floor
    # the good kernels stay 1/8 of the range wide and the suggestions scatter (median 0.07
    # away); with the whole-model floor they stay within 0.03 of the cluster
    config, _ = parse_config(
        {"method": "tpe", "metric": {"name": "loss"}, "parameters": {"x": {"min": 0.0, "max": 1.0}}}
    )
    assert config is not None
    poor = [
        Run(f"p{i}", "finished", {"x": (i + 0.5) / 54}, [{"loss": 1.0 + abs((i + 0.5) / 54 - 0.3)}])
        for i in range(54)
    ]
    good = [
        Run(f"g{i}", "finished", {"x": 0.3 + 0.001 * i}, [{"loss": 0.001 * i}]) for i in range(6)
    ]
    distances = []
    for k in range(20):
        (s,) = TPESearch().suggest(config, poor + good, 1, np.random.default_rng(k))
        assert s.info["n_good"] == 6
        distances.append(abs(s.params["x"] - 0.3025))
    assert max(distances) < 0.03, distances


def test_log_pdf_is_the_mixture_of_product_kernels() -> None:
    # the in-place evaluation against a direct sum over kernels, on every kind of leaf
    from scipy.stats import norm

    kinds = LeafKinds(n_choices=np.array([0, 0, 3]), n_cells=np.array([0, 5, 0]))
    rng = np.random.default_rng(1)
    points = np.column_stack(
        [rng.random(7), (rng.integers(0, 5, 7) + 0.5) / 5, rng.integers(0, 3, 7)]
    )
    weights = np.linspace(0.5, 1.0, 7)
    estimator = ParzenEstimator(points, weights, kinds, model_kernels=30)
    x = estimator.sample(rng, 9)
    mix = np.append(weights, 1.0)
    expected = np.zeros(len(x))
    for i in range(8):
        mu, sigma = estimator.mus[i], estimator.sigmas[i]
        inside = norm.cdf((1 - mu) / sigma) - norm.cdf(-mu / sigma)
        cont = norm.pdf((x[:, 0] - mu[0]) / sigma[0]) / sigma[0] / inside[0]
        lo = np.floor(x[:, 1] * 5) / 5
        cell = (
            norm.cdf((lo + 0.2 - mu[1]) / sigma[1]) - norm.cdf((lo - mu[1]) / sigma[1])
        ) / inside[1]
        cat = estimator.probs[2][i, x[:, 2].astype(int)]
        expected += mix[i] / mix.sum() * cont * cell * cat
    assert estimator.log_pdf(x) == pytest.approx(np.log(expected), rel=1e-9, abs=1e-9)
