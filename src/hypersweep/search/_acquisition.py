"""Log expected improvement and its maximisation over the encoded space.

Expected improvement underflows to exactly zero far from the incumbent, which leaves both a
candidate ranking and a gradient optimiser with nothing to go on. Its logarithm, computed
stably (Ament et al. 2023, "Unexpected improvements to expected improvement for Bayesian
optimization", eq. 9), does not: it stays finite and smooth for any z.

The maximiser scores a set of candidates (quasi-random points plus perturbations of the best
observed points), then refines the best few with L-BFGS-B along the numeric features, the
one-hot features held fixed, all starts in one batched problem (each start's value depends on
its own coordinates only, so the summed objective separates).

Categoricals have no gradient. ``local_search`` alternates the L-BFGS-B refinement with an
exhaustive move over each categorical parameter in turn (every category tried with the other
coordinates held), until no category changes, as Optuna's GPSampler optimises its mixed
spaces. Relying on the candidates alone, a category was only ever scored at the numeric values
a random candidate happened to have, and an interaction (the best learning rate depends on the
optimiser) went unseen: the acquisition never found the best optimiser at its own best
learning rate.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize
from scipy.special import erfcx, log_ndtr, ndtr

from hypersweep.search._gp import GaussianProcess
from hypersweep.search._types import Array

__all__ = ["local_search", "log_ei", "log_ei_with_gradient", "refine"]

_C1 = 0.5 * math.log(2.0 * math.pi)
_C2 = 0.5 * math.log(math.pi / 2.0)
_TAIL = -1.0 / math.sqrt(np.finfo(float).eps)


def _log1mexp(x: Array) -> Array:
    # log(1 - exp(x)) for x < 0 (Maechler 2012)
    return np.asarray(np.where(x > -math.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x))))


def log_h(z: Array) -> Array:
    """log(phi(z) + z Phi(z)), accurate for every z (Ament et al. 2023, eq. 9)."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    with np.errstate(all="ignore"):
        upper = z > -1.0
        zu = z[upper]
        out[upper] = np.log(np.exp(-0.5 * zu * zu - _C1) + zu * ndtr(zu))
        middle = (~upper) & (z > _TAIL)
        zm = z[middle]
        out[middle] = (
            -0.5 * zm * zm - _C1 + _log1mexp(np.log(erfcx(-zm / math.sqrt(2.0)) * -zm) + _C2)
        )
        tail = z <= _TAIL
        zt = z[tail]
        out[tail] = -0.5 * zt * zt - _C1 - 2.0 * np.log(-zt)
    return out


def log_ei(mean: Array, var: Array, best: float) -> tuple[Array, Array]:
    """log EI of improving on ``best`` (minimisation), and z = (best - mean) / sd."""
    sd = np.sqrt(var)
    z = (best - mean) / sd
    return np.log(sd) + log_h(z), z


def log_ei_with_gradient(gp: GaussianProcess, x: Array, best: float) -> tuple[Array, Array]:
    """log EI at the rows of ``x`` and its gradient with respect to them."""
    mean, var, dmean, dvar = gp.predict_with_gradient(x)
    sd = np.sqrt(var)
    z = (best - mean) / sd
    lh = log_h(z)
    dsd = dvar / (2.0 * sd[:, None])
    # d log h / dz = Phi(z) / h(z), taken in logs to survive the tails
    ratio = np.exp(np.minimum(log_ndtr(z) - lh, 50.0))
    dz = -dmean / sd[:, None] - z[:, None] * dsd / sd[:, None]
    grad = dsd / sd[:, None] + ratio[:, None] * dz
    return np.log(sd) + lh, grad


def refine(
    gp: GaussianProcess, starts: Array, free: Array, best: float, radius: float = 1.0
) -> Array:
    """``starts`` moved uphill in log EI along the ``free`` columns, each within ``radius``
    of where it started and within [0, 1]."""
    if len(free) == 0 or len(starts) == 0:
        return starts
    k = len(starts)
    fixed = starts.copy()

    def objective(flat: Array) -> tuple[float, Array]:
        x = fixed.copy()
        x[:, free] = flat.reshape(k, len(free))
        value, grad = log_ei_with_gradient(gp, x, best)
        g = -grad[:, free].ravel()
        if not (np.all(np.isfinite(value)) and np.all(np.isfinite(g))):
            return 1e10, np.zeros_like(flat)
        return -float(value.sum()), g

    with np.errstate(all="ignore"):
        result = minimize(
            objective,
            starts[:, free].ravel(),
            jac=True,
            method="L-BFGS-B",
            bounds=list(
                zip(
                    np.maximum(starts[:, free] - radius, 0.0).ravel(),
                    np.minimum(starts[:, free] + radius, 1.0).ravel(),
                    strict=True,
                )
            ),
            options={"maxiter": 40},
        )
    out = fixed.copy()
    out[:, free] = np.clip(np.asarray(result.x).reshape(k, len(free)), 0.0, 1.0)
    return np.asarray(out)


def best_categories(
    gp: GaussianProcess, x: Array, blocks: list[slice], best: float
) -> tuple[Array, bool]:
    """Each row of ``x`` with each one-hot block, in turn, set to its best category by log EI
    (the other coordinates held), and whether any row changed."""
    x = x.copy()
    k = len(x)
    changed = False
    for block in blocks:
        width = block.stop - block.start
        trial = np.repeat(x, width, axis=0)
        trial[:, block] = np.tile(np.eye(width), (k, 1))
        score, _ = log_ei(*gp.predict(trial), best)
        choice = np.argmax(score.reshape(k, width), axis=1)
        current = np.argmax(x[:, block], axis=1)
        # keep the current category on ties, so the search stops
        current_score = score.reshape(k, width)[np.arange(k), current]
        move = score.reshape(k, width)[np.arange(k), choice] > current_score
        if np.any(move):
            changed = True
            rows = np.flatnonzero(move)
            x[rows, block] = 0.0
            x[rows, block.start + choice[rows]] = 1.0
    return x, changed


def local_search(
    gp: GaussianProcess,
    starts: Array,
    free: Array,
    blocks: list[slice],
    best: float,
    rounds: int = 4,
    radius: float = 1.0,
) -> Array:
    """``starts`` improved in log EI by ``refine`` along the numeric columns ``free``, and by
    exhaustive moves over the categorical one-hot ``blocks``, alternately (module doc)."""
    x = refine(gp, starts, free, best, radius)
    if not blocks:
        return x
    for _ in range(rounds):
        x, changed = best_categories(gp, x, blocks, best)
        if not changed:
            break
        x = refine(gp, x, free, best, radius)
    return x
