"""The Parzen estimator of multivariate TPE, over leaf units.

A mixture with one product kernel per observation plus a broad prior kernel (Bergstra et al.
2011; multivariate form: Falkner et al. 2018; defaults as in Optuna 5 and Watanabe 2023, "Tree-
structured Parzen estimator: understanding its algorithm components"):

* numeric leaf: a normal truncated to the unit interval, centred on the observation, with the
  width of the larger gap to its neighbours (the outermost kernels use their inner gap), clipped
  to [1 / min(100, sqrt(kernels * model_kernels) + 1), 1]; the prior kernel is centred with
  width 1. An integer leaf is discretised: a value's probability is the kernel's mass over its
  cell.
* categorical leaf: the observed category gets weight 1 plus ``prior / kernels``, every other
  ``prior / kernels``; the prior kernel is uniform.

Working in leaf units (the CDF of each distribution) makes a log-uniform leaf log-scaled and an
integer leaf a row of equal cells, which is what Optuna does on its internal representation.

The estimator's one departure from Optuna is the floor on the widths ("magic clip"). Optuna's
floor is 1 / (kernels + 1) of the range, counting only the kernels of the estimator's own
group; the good group holds a tenth of the runs, so after 50 runs no good kernel is narrower
than a seventh of each range however tightly the good runs cluster, and the search cannot
refine around them. Here the floor uses the geometric mean of the group's kernels and the whole
model's (``model_kernels``: every observation plus the prior): 1 / 18.5 of the range for the
good group after 50 runs. The bad group, nearly the whole model, keeps about Optuna's floor,
and with ``model_kernels`` equal to ``kernels`` the floor is Optuna's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from hypersweep.search._types import Array

__all__ = ["LeafKinds", "ParzenEstimator"]

_PRIOR_WEIGHT = 1.0
# candidates x kernels per block of ``ParzenEstimator.log_pdf``: 256 KiB of float64
_BLOCK = 32768
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


def _widths(mus: Array, n_kernels: int, model_kernels: int) -> Array:
    order = np.argsort(mus, kind="stable")
    padded = np.concatenate([[0.0], mus[order], [1.0]])
    sorted_widths = np.maximum(padded[1:-1] - padded[:-2], padded[2:] - padded[1:-1])
    if len(mus) >= 2:  # Optuna's consider_endpoints=False
        sorted_widths[0] = padded[2] - padded[1]
        sorted_widths[-1] = padded[-2] - padded[-3]
    widths = np.empty_like(sorted_widths)
    widths[order] = sorted_widths
    floor = 1.0 / min(100.0, 1.0 + math.sqrt(n_kernels * model_kernels))
    return np.asarray(np.clip(widths, floor, 1.0))


class ParzenEstimator:
    """Density over leaf units (categoricals as indices) from weighted observations.

    Args:
        points: observations, one row per run, one column per leaf.
        weights: each observation's weight.
        kinds: what each leaf is.
        model_kernels: kernels of the whole model (all observations of both groups, plus the
            prior), which sets the floor on the widths with this estimator's own kernels
            (module docstring); by default this estimator's kernels, as in Optuna.
    """

    def __init__(
        self,
        points: Array,
        weights: Array,
        kinds: LeafKinds,
        model_kernels: int | None = None,
    ) -> None:
        self.kinds = kinds
        n_kernels = len(points) + 1
        model_kernels = n_kernels if model_kernels is None else model_kernels
        mix = np.append(weights, _PRIOR_WEIGHT)
        self.log_weights = np.log(mix / mix.sum())
        self.mus = np.empty((n_kernels, len(kinds.n_choices)))
        self.sigmas = np.ones_like(self.mus)
        self.probs: dict[int, Array] = {}
        # categorical leaf -> log of each category's probability under each kernel, one row
        # per category, so that a candidate's row is contiguous
        self.log_probs: dict[int, Array] = {}
        # integer leaf -> distinct (mu, sigma) kernels, which kernel is which, and the log of
        # each distinct kernel's mass inside the unit interval (its truncation constant)
        self.distinct: dict[int, tuple[Array, Array, Array, Array]] = {}
        # continuous leaf -> (mu, 1 / (sigma sqrt 2)); the rest of each kernel's log density,
        # -log(sigma sqrt(2 pi)) minus its truncation constant, is summed into ``log_base``
        self.scaled: dict[int, tuple[Array, Array]] = {}
        self.log_base = self.log_weights.copy()
        for j, k in enumerate(kinds.n_choices):
            column = points[:, j]
            if k > 0:
                probs = np.full((n_kernels, k), _PRIOR_WEIGHT / n_kernels)
                probs[np.arange(len(column)), column.astype(int)] += 1.0
                self.probs[j] = probs / probs.sum(axis=1, keepdims=True)
                with np.errstate(divide="ignore"):
                    self.log_probs[j] = np.ascontiguousarray(np.log(self.probs[j]).T)
                continue
            self.mus[:, j] = np.append(column, 0.5)
            if len(column):
                self.sigmas[:-1, j] = _widths(column, n_kernels, model_kernels)
            mu, sigma = self.mus[:, j], self.sigmas[:, j]
            if kinds.n_cells[j] == 0:
                norm = _log_gauss_mass(-mu / sigma, (1.0 - mu) / sigma)
                self.log_base -= _LOG_SQRT_2PI + np.log(sigma) + norm
                self.scaled[j] = (mu.copy(), 1.0 / (sigma * math.sqrt(2.0)))
                continue
            # Integer leaves repeat their values, so their kernels repeat too (as Optuna
            # exploits): each distinct kernel's masses are computed once.
            pairs, inverse = np.unique(np.stack([mu, sigma], axis=1), axis=0, return_inverse=True)
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
        # With thousands of runs in the bad group this is the cost of a suggestion. The
        # (candidates x kernels) log densities are summed block by block of kernels, small
        # enough to stay in the CPU cache, with a running log-sum-exp across the blocks.
        n_kernels = len(self.log_base)
        rows = {j: x[:, j].astype(int) for j in self.log_probs}
        masses = {}
        for j, (mu, sigma, norm, _) in self.distinct.items():
            cells = self.kinds.n_cells[j]
            lo = (np.floor(x[:, j] * cells) / cells)[:, None]
            masses[j] = _log_gauss_mass((lo - mu) / sigma, (lo + 1.0 / cells - mu) / sigma) - norm
        peak = np.full(len(x), -np.inf)
        acc = np.zeros(len(x))
        step = max(64, _BLOCK // max(len(x), 1))
        for start in range(0, n_kernels, step):
            block = slice(start, min(start + step, n_kernels))
            total = np.tile(self.log_base[block], (len(x), 1))
            buffer = np.empty_like(total)
            for j, (mu, scale) in self.scaled.items():
                np.subtract(x[:, j, None], mu[block], out=buffer)
                buffer *= scale[block]
                buffer *= buffer
                total -= buffer
            for j, mass in masses.items():
                np.take(mass, self.distinct[j][3][block], axis=1, out=buffer)
                total += buffer
            for j, log_probs in self.log_probs.items():
                np.take(log_probs[:, block], rows[j], axis=0, out=buffer)
                total += buffer
            new_peak = np.maximum(peak, total.max(axis=1))
            with np.errstate(invalid="ignore"):  # -inf - -inf while a row's density is 0
                acc *= np.exp(peak - new_peak)
            total -= new_peak[:, None]
            np.exp(total, out=total)
            acc = np.nan_to_num(acc) + total.sum(axis=1)
            peak = new_peak
        return np.asarray(np.log(acc) + peak)
