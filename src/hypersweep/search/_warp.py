"""The output transform of the GP: standardise, then a Yeo-Johnson power transform.

Objectives such as losses of diverging runs or Rosenbrock-like valleys span orders of magnitude;
a GP on the raw values spends its flexibility on the worst runs and sees the good region as
flat. A Yeo-Johnson transform (Yeo & Johnson 2000) with the exponent fitted by maximum
likelihood makes the values nearly Gaussian while keeping their order, as HEBO does (Cowen-
Rivers et al. 2022). The exponent is chosen on a grid, which is cheap, deterministic and never
overflows.
"""

from __future__ import annotations

import numpy as np

from hypersweep.search._types import Array

__all__ = ["OutputWarp"]

_LAMBDAS = np.linspace(-1.0, 2.0, 31)
# Below this many values the exponent is not identifiable: only standardise.
_MIN_FOR_POWER = 8


def _yeo_johnson(y: Array, lam: float) -> Array:
    out = np.empty_like(y)
    pos = y >= 0
    with np.errstate(all="ignore"):
        if abs(lam) < 1e-9:
            out[pos] = np.log1p(y[pos])
        else:
            out[pos] = (np.power(y[pos] + 1.0, lam) - 1.0) / lam
        if abs(lam - 2.0) < 1e-9:
            out[~pos] = -np.log1p(-y[~pos])
        else:
            out[~pos] = -(np.power(1.0 - y[~pos], 2.0 - lam) - 1.0) / (2.0 - lam)
    return out


def _inverse_yeo_johnson(z: Array, lam: float) -> Array:
    out = np.empty_like(z)
    pos = z >= 0
    with np.errstate(all="ignore"):
        if abs(lam) < 1e-9:
            out[pos] = np.expm1(z[pos])
        else:
            out[pos] = np.power(np.maximum(z[pos] * lam + 1.0, 1e-300), 1.0 / lam) - 1.0
        if abs(lam - 2.0) < 1e-9:
            out[~pos] = -np.expm1(-z[~pos])
        else:
            base = np.maximum(1.0 - (2.0 - lam) * z[~pos], 1e-300)
            out[~pos] = 1.0 - np.power(base, 1.0 / (2.0 - lam))
    return out


class OutputWarp:
    """A fitted monotone map from objective values to the GP's Gaussian-looking targets.

    Args:
        y: the objective values (finite, not all equal).
    """

    def __init__(self, y: Array) -> None:
        self.mean = float(np.mean(y))
        self.scale = float(np.std(y)) or 1.0
        s = (y - self.mean) / self.scale
        self.lam = 1.0
        if len(y) >= _MIN_FOR_POWER:
            self.lam = self._fit_lambda(s)
        t = _yeo_johnson(s, self.lam)
        self.mean2 = float(np.mean(t))
        self.scale2 = float(np.std(t)) or 1.0

    @staticmethod
    def _fit_lambda(s: Array) -> float:
        # the profile log-likelihood of a Yeo-Johnson transform (Yeo & Johnson 2000, eq. 3.1)
        jacobian = np.sum(np.sign(s) * np.log1p(np.abs(s)))
        best, best_ll = 1.0, -np.inf
        for lam in _LAMBDAS:
            t = _yeo_johnson(s, float(lam))
            var = float(np.var(t))
            if not np.isfinite(var) or var <= 0:
                continue
            ll = -0.5 * len(s) * np.log(var) + (lam - 1.0) * jacobian
            if ll > best_ll:
                best, best_ll = float(lam), ll
        return best

    def forward(self, y: Array) -> Array:
        """Objective values to GP targets."""
        t = _yeo_johnson((y - self.mean) / self.scale, self.lam)
        return np.asarray((t - self.mean2) / self.scale2)

    def inverse(self, z: Array) -> Array:
        """GP targets back to objective values."""
        s = _inverse_yeo_johnson(z * self.scale2 + self.mean2, self.lam)
        return np.asarray(s * self.scale + self.mean)
