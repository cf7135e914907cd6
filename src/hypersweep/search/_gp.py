"""Gaussian-process regression on the unit cube: Matern-5/2 with one length scale per feature.

The hyperparameters (length scales, signal and noise variance) are the maximum a posteriori
estimate: the log marginal likelihood (Rasmussen & Williams 2006, eq. 5.8, gradient eq. 5.9)
plus log-normal priors, minimised with L-BFGS-B from a few starts. Length scales grow with the
square root of the dimension, as in Hvarfner, Hellsten & Nardi 2024 ("Vanilla Bayesian
optimization performs great in high dimensions"): log l ~ N(log(0.5 sqrt(D)), 1), centred where
BoTorch's earlier Gamma(3, 6) prior was for one dimension. Their own centre, 8 times longer,
made a model whose mean runs in straight lines to the edges of the cube from a few dozen
points, and expected improvement followed it into the corners: with it the median best after
50 runs was 19.2 on Ackley-10 and 2,590 on Rosenbrock-5, with this one 9.9 and 316 (4 to 8
seeds; benchmarks/search_quality.py).

The noise variance (in standardised units) has Optuna's GPSampler prior, Gamma(1.1, 30) on the
variance itself: nearly flat from 1e-6 up to ~0.03, so a smooth objective is fitted exactly and
the model can tell -3.31 from -3.32 near an optimum, while a noisy one (a cross-validated loss)
still gets the noise its data show. The earlier log-normal N(-4, 1) on the log variance held the
noise near 0.02 whatever the data: 48 nats to reach 1e-6. Replacing it moved the median best
after 50 runs on held-out seeds 100-129 from -3.13 to -3.32 on Hartmann-6, and on seeds 100-119
from 328 to 155 on Rosenbrock-5 and 11.5 to 11.1 on Ackley-10; Branin, the mixed space and the
noisy HistGradientBoosting log-loss (0.08093 and 0.08098 on seeds 100-129) unchanged.

W&B's engine replaces its suggestion with a random point whenever a fitted hyperparameter lies
on a bound (spec §4.4.3 step 8); with priors a bound is only reached when the data insist, and
the fit is used as it is.

Categorical leaves are one-hot in the features, but their columns share one length scale,
stretched by sqrt(2) (``Tying``): the squared scaled distance between two categories is then
exactly 1 / l^2 whichever two they are, a Hamming distance with one length scale per parameter,
as Optuna's GPSampler has. One free length scale per one-hot column instead let the fit make
some categories near and others far from the handful of runs it had, and the prior, centred by
the number of *features*, tied the categories together more than their number warranted: on
the benchmarks' mixed space (benchmarks/search_quality.py) the model then settled on the
second-best optimiser and never tried the best one at its own learning rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, solve_triangular
from scipy.linalg.lapack import dpotri
from scipy.optimize import minimize

from hypersweep.search._types import Array

__all__ = ["GaussianProcess", "Hyperparameters", "Tying", "fit_hyperparameters"]

_SQRT5 = math.sqrt(5.0)
_LOG_2PI = math.log(2.0 * math.pi)
# bounds on log length scale, log signal variance, log noise variance
_LS_BOUNDS = (math.log(5e-3), math.log(1e3))
_SIGNAL_BOUNDS = (math.log(0.05), math.log(20.0))
_NOISE_BOUNDS = (math.log(1e-6), math.log(1.0))
_NOISE_PRIOR = (1.1, 30.0)  # shape and rate of the Gamma prior on the noise variance
_NOISE_START = -4.0  # log noise variance the fit starts from
_SIGNAL_PRIOR = (0.0, 1.0)
_LS_PRIOR_STD = 1.0


@dataclass(frozen=True)
class Hyperparameters:
    """A fitted kernel: length scales per feature, signal and noise variances."""

    lengthscales: Array
    signal: float
    noise: float


@dataclass(frozen=True)
class Tying:
    """Which feature columns share a length scale, and the factor each column applies to it.

    ``groups[c]`` is the free length scale of column ``c`` (one per parameter); the column's
    length scale is ``scale[c]`` times it (sqrt(2) for one-hot columns, 1 for numeric ones).
    """

    groups: Array
    scale: Array
    #: per group, added to the log length scale prior's centre (default 0)
    shift: Array | None = None

    @classmethod
    def untied(cls, dim: int) -> Tying:
        """One free length scale per column."""
        return cls(np.arange(dim), np.ones(dim))

    def prior_mean(self) -> Array:
        """The centre of each group's log length scale prior."""
        base = np.full(self.n_groups, _ls_prior_mean(self.n_groups))
        return base if self.shift is None else base + self.shift

    @property
    def n_groups(self) -> int:
        return int(self.groups.max()) + 1 if len(self.groups) else 0


def _sqdist(a: Array, b: Array, lengthscales: Array) -> Array:
    a = a / lengthscales
    b = b / lengthscales
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.asarray(np.maximum(d2, 0.0))


def _matern(d2: Array, signal: float) -> tuple[Array, Array]:
    """k(r) and q(r) = -dk/d(r^2) of Matern-5/2, from squared scaled distances."""
    r = np.sqrt(d2)
    e = np.exp(-_SQRT5 * r)
    k = signal * (1.0 + _SQRT5 * r + (5.0 / 3.0) * d2) * e
    q = signal * (5.0 / 6.0) * (1.0 + _SQRT5 * r) * e
    return k, q


def _inverse(chol: Array) -> Array:
    # K^-1 from its Cholesky factor: LAPACK potri, a third of the work of solving for I
    inv, info = dpotri(chol, lower=1)
    if info != 0:
        return np.asarray(cho_solve((chol, True), np.eye(len(chol)), check_finite=False))
    lower = np.tril(inv)
    return np.asarray(lower + lower.T - np.diag(np.diag(inv)))


def _ls_prior_mean(dim: int) -> float:
    return math.log(0.5 * math.sqrt(max(dim, 1)))


def _negative_log_posterior(
    theta: Array, x: Array, y: Array, tying: Tying | None = None
) -> tuple[float, Array]:
    n, columns = x.shape
    tying = tying or Tying.untied(columns)
    dim = tying.n_groups
    ls = tying.scale * np.exp(theta[tying.groups])
    signal = math.exp(theta[dim])
    noise = math.exp(theta[dim + 1])
    k, q = _matern(_sqdist(x, x, ls), signal)
    kk = k + (noise + 1e-9) * np.eye(n)
    try:
        chol = cholesky(kk, lower=True, check_finite=False)
    except (LinAlgError, ValueError):
        return 1e10, np.zeros_like(theta)
    alpha = cho_solve((chol, True), y, check_finite=False)
    value = 0.5 * float(y @ alpha) + float(np.log(np.diag(chol)).sum()) + 0.5 * n * _LOG_2PI
    # d(-log p(y))/d theta = tr(W dK/d theta) / 2 with W = K^-1 - alpha alpha^T (R&W eq. 5.9)
    w = _inverse(chol) - np.outer(alpha, alpha)
    m = w * q
    # sum_ik m_ik (x_ij - x_kj)^2, without the n x n x D tensor of differences
    spread = 2.0 * (m.sum(1) @ (x * x) - ((m @ x) * x).sum(0))
    grad = np.empty_like(theta)
    # d/d log l of each column, summed over the columns that share a length scale
    grad[:dim] = np.bincount(tying.groups, weights=spread / ls**2, minlength=dim)
    grad[dim] = 0.5 * float((w * k).sum())
    grad[dim + 1] = 0.5 * noise * float(np.trace(w))
    # log-normal priors
    mu_ls = tying.prior_mean()
    value += 0.5 * float((((theta[:dim] - mu_ls) / _LS_PRIOR_STD) ** 2).sum())
    grad[:dim] += (theta[:dim] - mu_ls) / _LS_PRIOR_STD**2
    mu, sd = _SIGNAL_PRIOR
    value += 0.5 * ((theta[dim] - mu) / sd) ** 2
    grad[dim] += (theta[dim] - mu) / sd**2
    # Gamma density of the noise variance itself (no Jacobian: flat in log noise below its mode)
    shape, rate = _NOISE_PRIOR
    value += rate * noise - (shape - 1.0) * theta[dim + 1]
    grad[dim + 1] += rate * noise - (shape - 1.0)
    if not (math.isfinite(value) and np.all(np.isfinite(grad))):
        return 1e10, np.zeros_like(theta)
    return value, grad


def fit_hyperparameters(
    x: Array,
    y: Array,
    rng: np.random.Generator,
    *,
    restarts: int = 2,
    optimise: int = 2,
    tying: Tying | None = None,
) -> Hyperparameters:
    """MAP hyperparameters for standardised targets ``y`` at unit-cube points ``x``.

    Candidate starts are the prior's mode, short length scales (a wiggly fit the mode can
    miss) and ``restarts`` draws from the prior; L-BFGS-B runs from the ``optimise`` starts
    with the best posterior value (one evaluation each to rank them), and the best optimum wins.
    ``tying`` shares length scales between columns (default: one per column); the result has
    one length scale per column either way.
    """
    tying = tying or Tying.untied(x.shape[1])
    dim = tying.n_groups
    bounds = [_LS_BOUNDS] * dim + [_SIGNAL_BOUNDS, _NOISE_BOUNDS]
    lower = np.array([b[0] for b in bounds])
    upper = np.array([b[1] for b in bounds])
    mode = np.concatenate([tying.prior_mean(), [_SIGNAL_PRIOR[0], _NOISE_START]])
    short = mode.copy()
    short[:dim] = math.log(0.25)
    spread = np.array([_LS_PRIOR_STD] * dim + [_SIGNAL_PRIOR[1], 1.0])
    starts = [mode, short] + [mode + rng.standard_normal(dim + 2) * spread for _ in range(restarts)]
    starts = [np.clip(start, lower, upper) for start in starts]
    with np.errstate(all="ignore"):
        values = [_negative_log_posterior(start, x, y, tying)[0] for start in starts]
        best: tuple[float, Array] = (values[0], starts[0])
        for i in np.argsort(values, kind="stable")[:optimise]:
            result = minimize(
                _negative_log_posterior,
                starts[i],
                args=(x, y, tying),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 50},
            )
            if float(result.fun) <= best[0]:
                best = (float(result.fun), np.asarray(result.x))
    theta = best[1]
    lengthscales = tying.scale * np.exp(theta[tying.groups])
    return Hyperparameters(lengthscales, math.exp(theta[dim]), math.exp(theta[dim + 1]))


class GaussianProcess:
    """The posterior of a zero-mean GP given points ``x`` and standardised targets ``y``.

    Predictions are of the latent function (without observation noise), as expected
    improvement needs.
    """

    def __init__(self, x: Array, y: Array, hyper: Hyperparameters) -> None:
        self.x = x
        self.y = y
        self.hyper = hyper
        k, _ = _matern(_sqdist(x, x, hyper.lengthscales), hyper.signal)
        jitter = 1e-9
        while True:
            try:
                self._chol = cholesky(
                    k + (hyper.noise + jitter) * np.eye(len(x)), lower=True, check_finite=False
                )
                break
            except (LinAlgError, ValueError):
                if jitter > 1e-2 * hyper.signal:
                    raise
                jitter *= 100.0
        self._alpha = cho_solve((self._chol, True), y, check_finite=False)

    def with_points(self, x_new: Array, y_new: Array) -> GaussianProcess:
        """The posterior with more (e.g. fantasised) points, same hyperparameters."""
        return GaussianProcess(
            np.vstack([self.x, x_new]), np.concatenate([self.y, y_new]), self.hyper
        )

    def predict(self, xq: Array) -> tuple[Array, Array]:
        """Posterior mean and variance at the rows of ``xq``."""
        k, _ = _matern(_sqdist(xq, self.x, self.hyper.lengthscales), self.hyper.signal)
        mean = k @ self._alpha
        v = solve_triangular(self._chol, k.T, lower=True, check_finite=False)
        var = np.maximum(self.hyper.signal - (v * v).sum(0), 1e-12 * self.hyper.signal)
        return mean, var

    def predict_with_gradient(self, xq: Array) -> tuple[Array, Array, Array, Array]:
        """Mean, variance, and their gradients (rows of ``xq`` by features)."""
        ls2 = self.hyper.lengthscales**2
        k, q = _matern(_sqdist(xq, self.x, self.hyper.lengthscales), self.hyper.signal)
        diff = xq[:, None, :] - self.x[None, :, :]
        mean = k @ self._alpha
        w = cho_solve((self._chol, True), k.T, check_finite=False).T
        var_raw = self.hyper.signal - (k * w).sum(1)
        floor = 1e-12 * self.hyper.signal
        var = np.maximum(var_raw, floor)
        # dk/dxq_j = -2 q (xq_j - x_j) / l_j^2
        dmean = -2.0 * np.einsum("mn,mnd->md", q * self._alpha[None, :], diff) / ls2
        dvar = 4.0 * np.einsum("mn,mnd->md", q * w, diff) / ls2
        dvar[var_raw <= floor] = 0.0
        return mean, var, dmean, dvar
