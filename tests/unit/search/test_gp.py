"""The GP, its hyperparameter fit, log EI and the output transform."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.special import ndtr

from hypersweep.search._acquisition import (
    best_categories,
    local_search,
    log_ei,
    log_ei_with_gradient,
    log_h,
    refine,
)
from hypersweep.search._gp import (
    GaussianProcess,
    Hyperparameters,
    Tying,
    _negative_log_posterior,
    _sqdist,
    fit_hyperparameters,
)
from hypersweep.search._warp import OutputWarp


def data(n: int = 25, dim: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, dim))
    y = np.sin(4 * x[:, 0]) + (x[:, 1] - 0.5) ** 2
    return x, (y - y.mean()) / y.std()


def test_marginal_likelihood_gradient_matches_finite_differences() -> None:
    x, y = data()
    theta = np.random.default_rng(1).normal(size=5) * 0.5
    _, grad = _negative_log_posterior(theta, x, y)
    numeric = approx_fprime(theta, lambda t: _negative_log_posterior(t, x, y)[0], 1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)


def test_fit_finds_the_relevant_dimensions_and_interpolates() -> None:
    x, y = data(40)
    hyper = fit_hyperparameters(x, y, np.random.default_rng(0))
    # dimension 2 does not matter: its length scale is the longest
    assert hyper.lengthscales[2] > max(hyper.lengthscales[:2])
    mean, var = GaussianProcess(x, y, hyper).predict(x)
    np.testing.assert_allclose(mean, y, atol=0.05)
    assert np.all(var >= 0)


def test_prediction_gradients_match_finite_differences() -> None:
    x, y = data()
    hyper = Hyperparameters(np.array([0.3, 0.5, 2.0]), 1.3, 1e-4)
    gp = GaussianProcess(x, y, hyper)
    xq = np.random.default_rng(2).random((3, 3))
    _, _, dmean, dvar = gp.predict_with_gradient(xq)
    for j in range(3):
        step = np.zeros(3)
        step[j] = 1e-6
        (m1, v1), (m0, v0) = gp.predict(xq + step), gp.predict(xq - step)
        np.testing.assert_allclose(dmean[:, j], (m1 - m0) / 2e-6, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(dvar[:, j], (v1 - v0) / 2e-6, rtol=1e-4, atol=1e-6)
    value, grad = log_ei_with_gradient(gp, xq, best=-1.0)
    for j in range(3):
        step = np.zeros(3)
        step[j] = 1e-6
        up, _ = log_ei(*gp.predict(xq + step), -1.0)
        down, _ = log_ei(*gp.predict(xq - step), -1.0)
        np.testing.assert_allclose(grad[:, j], (up - down) / 2e-6, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(value, log_ei(*gp.predict(xq), -1.0)[0])


@pytest.mark.parametrize("z", [-50.0, -10.0, -3.0, -1.0, -0.5, 0.0, 2.0, 10.0])
def test_log_h_is_accurate_where_the_naive_formula_still_works(z: float) -> None:
    naive = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) + z * float(ndtr(z))
    if naive > 1e-300:
        assert float(log_h(np.array([z]))[0]) == pytest.approx(math.log(naive), rel=1e-6)
    assert math.isfinite(float(log_h(np.array([z]))[0]))


def test_log_h_stays_finite_and_monotone_far_in_the_tail() -> None:
    z = -np.logspace(0, 10, 50)
    values = log_h(z)
    assert np.all(np.isfinite(values)) and np.all(np.diff(values) < 0)


def test_refine_climbs_and_stays_in_the_box() -> None:
    x, y = data()
    gp = GaussianProcess(x, y, fit_hyperparameters(x, y, np.random.default_rng(0)))
    starts = np.random.default_rng(3).random((4, 3))
    moved = refine(gp, starts, np.array([0, 1, 2]), float(y.min()))
    assert np.all((moved >= 0) & (moved <= 1))
    before = log_ei(*gp.predict(starts), float(y.min()))[0]
    after = log_ei(*gp.predict(moved), float(y.min()))[0]
    assert after.sum() >= before.sum()


def test_output_warp_keeps_order_and_inverts() -> None:
    y = np.exp(np.random.default_rng(0).normal(size=50) * 3)  # heavy tailed
    warp = OutputWarp(y)
    z = warp.forward(y)
    assert np.all(np.argsort(z) == np.argsort(y))
    assert abs(z.mean()) < 1e-9 and z.std() == pytest.approx(1.0)
    np.testing.assert_allclose(warp.inverse(z), y, rtol=1e-6)
    assert warp.lam < 1.0  # compresses the large values


def mixed_data(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray, Tying]:
    """One numeric column and a 3-way categorical, one-hot in columns 1-3; the best value of
    the number depends on the category."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    cat = rng.integers(0, 3, n)
    x = np.column_stack([u, np.eye(3)[cat]])
    y = (u - np.array([0.2, 0.5, 0.8])[cat]) ** 2 + np.array([0.0, 0.3, 0.1])[cat]
    tying = Tying(np.array([0, 1, 1, 1]), np.array([1.0, math.sqrt(2), math.sqrt(2), math.sqrt(2)]))
    return x, (y - y.mean()) / y.std(), tying


def test_tied_length_scale_gradient_matches_finite_differences() -> None:
    x, y, tying = mixed_data()
    theta = np.array([-0.5, 0.3, 0.2, -3.0])  # two length scales, signal, noise
    _, grad = _negative_log_posterior(theta, x, y, tying)
    numeric = approx_fprime(theta, lambda t: _negative_log_posterior(t, x, y, tying)[0], 1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)


def test_categories_are_equally_far_apart_with_one_length_scale() -> None:
    x, y, tying = mixed_data()
    hyper = fit_hyperparameters(x, y, np.random.default_rng(0), tying=tying)
    ls = hyper.lengthscales
    assert ls[1] == ls[2] == ls[3]
    # a Hamming distance: two different categories are 1 / l^2 apart, whichever two, with l
    # the parameter's own length scale (the one-hot columns hold it times sqrt(2))
    rows = np.column_stack([np.full(3, 0.5), np.eye(3)])
    d2 = _sqdist(rows, rows, ls)
    off = d2[~np.eye(3, dtype=bool)]
    np.testing.assert_allclose(off, 1.0 / (ls[1] / math.sqrt(2)) ** 2)


def test_local_search_moves_a_category_where_the_gradient_cannot() -> None:
    x, y, tying = mixed_data(40)
    gp = GaussianProcess(x, y, fit_hyperparameters(x, y, np.random.default_rng(0), tying=tying))
    best = float(y.min())
    blocks = [slice(1, 4)]
    # start in the worst category at its own best number: only a categorical move improves
    start = np.array([[0.5, 0.0, 1.0, 0.0]])
    moved, changed = best_categories(gp, start, blocks, best)
    trials = np.array([[0.5, *row] for row in np.eye(3)])
    assert changed
    assert np.argmax(moved[0, 1:]) == int(np.argmax(log_ei(*gp.predict(trials), best)[0]))
    searched = local_search(gp, start, np.array([0]), blocks, best)
    assert log_ei(*gp.predict(searched), best)[0][0] >= log_ei(*gp.predict(moved), best)[0][0]
    # one-hot stays one-hot, and a start already at its best category stays put
    assert set(np.round(searched[0, 1:], 12)) == {0.0, 1.0}
    again, changed = best_categories(gp, moved, blocks, best)
    assert not changed and np.array_equal(again, moved)
