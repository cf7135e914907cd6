"""The Parzen estimator of multivariate TPE, over leaf units.

A mixture with one product kernel per observation plus a broad prior kernel (Bergstra et al.
2011; multivariate form: Falkner et al. 2018; defaults as in Optuna 5 and Watanabe 2023, "Tree-
structured Parzen estimator: understanding its algorithm components"):

* numeric leaf: a normal truncated to the unit interval, centred on the observation, with the
  width of the larger gap to its neighbours (the outermost kernels use their inner gap), clipped
  to [1 / min(100, kernels + 1), 1]; the prior kernel is centred with width 1. An integer leaf
  is discretised: a value's probability is the kernel's mass over its cell.
* categorical leaf: the observed category gets weight 1 plus ``prior / kernels``, every other
  ``prior / kernels``; the prior kernel is uniform.

Working in leaf units (the CDF of each distribution) makes a log-uniform leaf log-scaled and an
integer leaf a row of equal cells, which is what Optuna does on its internal representation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from hypersweep.search._types import Array

__all__ = ["LeafKinds", "ParzenEstimator"]

_PRIOR_WEIGHT = 1.0
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class LeafKinds:
    """Per leaf: number of categories (0 when numeric) and of integer cells (0 otherwise)."""

    n_choices: Array
    n_cells: Array

    @property
    def categorical(self) -> Array:
        return np.asarray(self.n_choices > 0)


def _log_gauss_mass(a: Array, b: Array) -> Array:
    """log(Phi(b) - Phi(a)) for a <= b, without cancellation in either tail."""
    a, b = np.broadcast_arrays(a, b)
    # mirror an interval in the upper tail into the lower one, where Phi is accurate:
    # Phi(b) - Phi(a) = Phi(-a) - Phi(-b); then lo <= 0 and Phi(lo) / Phi(hi) <= 1
    upper = a > 0
    lo, hi = np.where(upper, -b, a), np.where(upper, -a, b)
    log_hi = log_ndtr(hi)
    with np.errstate(divide="ignore"):
        out = log_hi + np.log1p(-np.exp(log_ndtr(lo) - log_hi))
    return np.asarray(np.maximum(out, -1e300))


def _widths(mus: Array, n_kernels: int) -> Array:
    order = np.argsort(mus, kind="stable")
    padded = np.concatenate([[0.0], mus[order], [1.0]])
    sorted_widths = np.maximum(padded[1:-1] - padded[:-2], padded[2:] - padded[1:-1])
    if len(mus) >= 2:  # Optuna's consider_endpoints=False
        sorted_widths[0] = padded[2] - padded[1]
        sorted_widths[-1] = padded[-2] - padded[-3]
    widths = np.empty_like(sorted_widths)
    widths[order] = sorted_widths
    return np.asarray(np.clip(widths, 1.0 / min(100.0, 1.0 + n_kernels), 1.0))


class ParzenEstimator:
    """Density over leaf units (categoricals as indices) from weighted observations.

    Args:
        points: observations, one row per run, one column per leaf.
        weights: each observation's weight.
        kinds: what each leaf is.
    """

    def __init__(self, points: Array, weights: Array, kinds: LeafKinds) -> None:
        self.kinds = kinds
        n_kernels = len(points) + 1
        mix = np.append(weights, _PRIOR_WEIGHT)
        self.log_weights = np.log(mix / mix.sum())
        self.mus = np.empty((n_kernels, len(kinds.n_choices)))
        self.sigmas = np.ones_like(self.mus)
        self.probs: dict[int, Array] = {}
        # numeric leaf -> distinct (mu, sigma) kernels, which kernel is which, and the log of
        # each distinct kernel's mass inside the unit interval (its truncation constant)
        self.distinct: dict[int, tuple[Array, Array, Array, Array]] = {}
        for j, k in enumerate(kinds.n_choices):
            column = points[:, j]
            if k > 0:
                probs = np.full((n_kernels, k), _PRIOR_WEIGHT / n_kernels)
                probs[np.arange(len(column)), column.astype(int)] += 1.0
                self.probs[j] = probs / probs.sum(axis=1, keepdims=True)
                continue
            self.mus[:, j] = np.append(column, 0.5)
            if len(column):
                self.sigmas[:-1, j] = _widths(column, n_kernels)
            mu, sigma = self.mus[:, j], self.sigmas[:, j]
            inverse = np.arange(n_kernels)
            if kinds.n_cells[j] > 0:
                # Integer leaves repeat their values, so their kernels repeat too (as Optuna
                # exploits): each distinct kernel's masses are computed once.
                pairs, inverse = np.unique(
                    np.stack([mu, sigma], axis=1), axis=0, return_inverse=True
                )
                mu, sigma = pairs[:, 0], pairs[:, 1]
            norm = _log_gauss_mass(-mu / sigma, (1.0 - mu) / sigma)
            self.distinct[j] = (mu, sigma, norm, inverse.ravel())

    def sample(self, rng: np.random.Generator, size: int) -> Array:
        """``size`` draws: pick a kernel by weight, then each leaf from that kernel."""
        active = rng.choice(len(self.log_weights), size=size, p=np.exp(self.log_weights))
        out = np.empty((size, self.mus.shape[1]))
        for j, k in enumerate(self.kinds.n_choices):
            if k > 0:
                cum = np.cumsum(self.probs[j][active], axis=1)
                out[:, j] = np.minimum((cum < rng.random(size)[:, None]).sum(axis=1), k - 1)
                continue
            mu, sigma = self.mus[active, j], self.sigmas[active, j]
            lo, hi = ndtr(-mu / sigma), ndtr((1.0 - mu) / sigma)
            with np.errstate(all="ignore"):
                x = mu + sigma * ndtri(lo + rng.random(size) * (hi - lo))
            x = np.clip(np.nan_to_num(x, nan=0.5), 0.0, 1.0)
            cells = self.kinds.n_cells[j]
            if cells > 0:
                x = (np.minimum(np.floor(x * cells), cells - 1) + 0.5) / cells
            out[:, j] = x
        return out

    def log_pdf(self, x: Array) -> Array:
        """Log density (mass, for discrete leaves) of each row of ``x``."""
        total = np.tile(self.log_weights, (len(x), 1))
        for j, k in enumerate(self.kinds.n_choices):
            if k > 0:
                with np.errstate(divide="ignore"):
                    total += np.log(self.probs[j][:, x[:, j].astype(int)].T)
                continue
            mu, sigma, norm, inverse = self.distinct[j]
            cells = self.kinds.n_cells[j]
            if cells > 0:
                lo = (np.floor(x[:, j] * cells) / cells)[:, None]
                mass = _log_gauss_mass((lo - mu) / sigma, (lo + 1.0 / cells - mu) / sigma)
                part = mass - norm
            else:
                z = (x[:, j, None] - mu) / sigma
                part = -0.5 * z * z - _LOG_SQRT_2PI - np.log(sigma) - norm
            total += part[:, inverse]
        peak = total.max(axis=1, keepdims=True)
        return np.asarray(np.log(np.exp(total - peak).sum(axis=1)) + peak[:, 0])
