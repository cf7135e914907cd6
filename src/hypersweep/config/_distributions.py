"""One class per distribution of spec §3.3: parameters, sampling, unit-cube mapping, grid values.

Every sampler is the inverse CDF (``from_unit``) of a uniform draw, as in W&B's engine, so a
search method that works on the unit cube (random, Sobol, bayes) decodes its points with the
same code that random search samples with. Draws come from the open interval (0, 1): W&B draws
from the closed interval and so can return the *last* category or ``min - 1`` at U = 0 (spec §3.3
note 2, §14 Q4); that bug is not replicated.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "DISTRIBUTIONS",
    "Beta",
    "Categorical",
    "CategoricalWithProbabilities",
    "Constant",
    "Distribution",
    "IntUniform",
    "InvLogUniform",
    "InvLogUniformValues",
    "LogNormal",
    "LogUniform",
    "LogUniformValues",
    "Normal",
    "QBeta",
    "QLogNormal",
    "QLogUniform",
    "QLogUniformValues",
    "QNormal",
    "QUniform",
    "Uniform",
    "open_uniform",
    "value_key",
]


def open_uniform(rng: np.random.Generator) -> float:
    """A draw from the open interval (0, 1); ``Generator.random`` can return exactly 0."""
    u = float(rng.random())
    while u == 0.0:
        u = float(rng.random())
    return u


def _canonical(value: Any) -> Any:
    # A float with an integral value stands for the int (spec §4.2 #4: 3e6 == 3000000); bools
    # stay bools because json distinguishes them from 1 and 0.
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def value_key(value: Any) -> str:
    """The identity of a parameter value for grid dedup (spec §4.2 #4).

    Dict keys are sorted, an integral float equals its int, and ``True`` differs from ``1``.

    >>> value_key(3e6) == value_key(3000000), value_key(True) == value_key(1)
    (True, False)
    """
    if type(value) in _SCALARS:
        return _scalar_key(type(value).__name__, value)
    return json.dumps(_canonical(value), sort_keys=True, default=repr)


_SCALARS = frozenset({int, float, str, bool, type(None)})


@functools.lru_cache(maxsize=65536)
def _scalar_key(kind: str, value: Any) -> str:
    # Grid dedup keys every value of every prior run; scalars repeat, so their keys are cached.
    # ``kind`` is part of the cache key because True == 1 and 1 == 1.0 as dict keys.
    return json.dumps(_canonical(value), sort_keys=True, default=repr)


class Distribution(ABC):
    """A parameter's distribution.

    Subclasses declare ``name``, their keys (``required`` and ``optional`` with defaults) and
    implement ``from_unit`` (the inverse CDF on (0, 1)) and ``to_unit`` (the CDF, or for a
    discrete value the middle of its interval so that ``from_unit(to_unit(v)) == v``).
    """

    name: ClassVar[str]
    required: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[Mapping[str, Any]] = {}
    grid_allowed: ClassVar[bool] = False
    is_constant: ClassVar[bool] = False
    #: deprecated natural-log forms warn (spec §2.5, §3.3 note 3)
    deprecated_by: ClassVar[str | None] = None

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn from the distribution."""
        return self.from_unit(open_uniform(rng))

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        """The value at quantile ``u`` in (0, 1), typed as the program will see it."""

    @abstractmethod
    def to_unit(self, value: Any) -> float:
        """The quantile of ``value``; raises ValueError when it cannot be in the support."""

    def grid_values(self) -> list[Any]:
        """The values a grid search enumerates, in order (spec §4.2 #2)."""
        raise TypeError(f"{self.name} cannot be enumerated by grid search")

    def spec(self) -> dict[str, Any]:
        """The parameter spec with the distribution and its defaults filled in (spec §2.5)."""
        out: dict[str, Any] = {"distribution": self.name}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            out[item.name] = list(value) if isinstance(value, tuple) else copy.deepcopy(value)
        return out


@dataclass(frozen=True)
class Constant(Distribution):
    value: Any

    name: ClassVar[str] = "constant"
    required: ClassVar[tuple[str, ...]] = ("value",)
    grid_allowed: ClassVar[bool] = True
    is_constant: ClassVar[bool] = True

    def from_unit(self, u: float) -> Any:
        return copy.deepcopy(self.value)

    def to_unit(self, value: Any) -> float:
        return 0.5

    def grid_values(self) -> list[Any]:
        return [copy.deepcopy(self.value)]


def _index_of(values: Sequence[Any], value: Any, name: str) -> int:
    key = value_key(value)
    for i, candidate in enumerate(values):
        if value_key(candidate) == key:
            return i
    raise ValueError(
        f"{value!r} is not a permitted value of the categorical hyperparameter {name} "
        "in the current sweep."
    )


@dataclass(frozen=True)
class Categorical(Distribution):
    values: tuple[Any, ...]

    name: ClassVar[str] = "categorical"
    required: ClassVar[tuple[str, ...]] = ("values",)
    grid_allowed: ClassVar[bool] = True

    def from_unit(self, u: float) -> Any:
        # W&B: scipy randint(0, n).ppf(u) == ceil(u * n) - 1; the epsilon keeps
        # from_unit(to_unit(i)) == i when u * n lands a hair above an integer.
        n = len(self.values)
        index = min(max(math.ceil(u * n - 1e-9) - 1, 0), n - 1)
        return copy.deepcopy(self.values[index])

    def to_unit(self, value: Any) -> float:
        index = _index_of(self.values, value, "")
        return (index + 0.5) / len(self.values)

    def index(self, value: Any) -> int:
        """The position of ``value`` in ``values``; ValueError when absent."""
        return _index_of(self.values, value, "")

    def grid_values(self) -> list[Any]:
        return [copy.deepcopy(v) for v in self.values]


@dataclass(frozen=True)
class CategoricalWithProbabilities(Distribution):
    values: tuple[Any, ...]
    probabilities: tuple[float, ...]

    name: ClassVar[str] = "categorical_w_probabilities"
    required: ClassVar[tuple[str, ...]] = ("values", "probabilities")

    def _edges(self) -> list[float]:
        return [float(c) for c in np.cumsum(self.probabilities)]

    def from_unit(self, u: float) -> Any:
        # spec §3.3 note 4: value i is chosen for U in [c_{i-1}, c_i)
        edges = self._edges()
        index = int(np.searchsorted(edges, u, side="right"))
        return copy.deepcopy(self.values[min(index, len(self.values) - 1)])

    def to_unit(self, value: Any) -> float:
        index = _index_of(self.values, value, "")
        edges = [0.0, *self._edges()]
        return (edges[index] + edges[index + 1]) / 2


@dataclass(frozen=True)
class IntUniform(Distribution):
    min: int
    max: int

    name: ClassVar[str] = "int_uniform"
    required: ClassVar[tuple[str, ...]] = ("min", "max")
    grid_allowed: ClassVar[bool] = True

    def from_unit(self, u: float) -> int:
        # W&B: scipy randint(min, max + 1).ppf(u), inclusive of both bounds
        n = self.max - self.min + 1
        offset = min(max(math.ceil(u * n - 1e-9) - 1, 0), n - 1)
        return self.min + offset

    def to_unit(self, value: Any) -> float:
        n = self.max - self.min + 1
        return float(np.clip((float(value) - self.min + 0.5) / n, 0.0, 1.0))

    def grid_values(self) -> list[Any]:
        return list(range(self.min, self.max + 1))


def _quantize(x: float, q: float | int) -> float | int:
    # spec §3.3: Q(x) = round(x / q) * q with round-half-to-even; an int q gives ints (Q2)
    quantized = float(np.round(x / q) * q)
    if isinstance(q, int):
        return round(quantized)
    return quantized


class _Continuous(Distribution):
    """A distribution with a continuous CDF; quantized variants round the draw to ``q``."""

    q: float | int | None = None

    @abstractmethod
    def _ppf(self, u: float) -> float: ...

    @abstractmethod
    def _cdf(self, x: float) -> float: ...

    def from_unit(self, u: float) -> float | int:
        x = self._ppf(u)
        return x if self.q is None else _quantize(x, self.q)

    def to_unit(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{value!r} is not a number")
        return float(np.clip(self._cdf(float(value)), 0.0, 1.0))


@dataclass(frozen=True)
class Uniform(_Continuous):
    min: float
    max: float

    name: ClassVar[str] = "uniform"
    required: ClassVar[tuple[str, ...]] = ("min", "max")

    def _ppf(self, u: float) -> float:
        return float(self.min + u * (self.max - self.min))

    def _cdf(self, x: float) -> float:
        return (x - self.min) / (self.max - self.min)


@dataclass(frozen=True)
class QUniform(Uniform):
    q: float | int = 1.0

    name: ClassVar[str] = "q_uniform"
    optional: ClassVar[Mapping[str, Any]] = {"q": 1.0}
    grid_allowed: ClassVar[bool] = True

    def grid_values(self) -> list[Any]:
        # spec §4.2 #2, §14 Q1: numpy arange(min, max, q): anchored at min, max excluded,
        # while sampling gives multiples of q anchored at 0
        values: list[Any] = np.arange(self.min, self.max, self.q).tolist()
        return values


@dataclass(frozen=True)
class _LogUniformBase(_Continuous):
    """Log-uniform over [exp(lo), exp(hi)], where lo and hi are natural-log bounds."""

    min: float
    max: float

    required: ClassVar[tuple[str, ...]] = ("min", "max")

    @property
    def _log_bounds(self) -> tuple[float, float]:
        return float(self.min), float(self.max)

    def _ppf(self, u: float) -> float:
        lo, hi = self._log_bounds
        return math.exp(lo + u * (hi - lo))

    def _cdf(self, x: float) -> float:
        if x <= 0:
            return 0.0
        lo, hi = self._log_bounds
        return (math.log(x) - lo) / (hi - lo)


@dataclass(frozen=True)
class LogUniform(_LogUniformBase):
    name: ClassVar[str] = "log_uniform"
    deprecated_by: ClassVar[str | None] = "log_uniform_values"


@dataclass(frozen=True)
class LogUniformValues(_LogUniformBase):
    name: ClassVar[str] = "log_uniform_values"

    @property
    def _log_bounds(self) -> tuple[float, float]:
        return math.log(self.min), math.log(self.max)


@dataclass(frozen=True)
class QLogUniform(_LogUniformBase):
    q: float | int = 1.0

    name: ClassVar[str] = "q_log_uniform"
    optional: ClassVar[Mapping[str, Any]] = {"q": 1.0}
    deprecated_by: ClassVar[str | None] = "q_log_uniform_values"


@dataclass(frozen=True)
class QLogUniformValues(_LogUniformBase):
    q: float | int = 1.0

    name: ClassVar[str] = "q_log_uniform_values"
    optional: ClassVar[Mapping[str, Any]] = {"q": 1.0}

    @property
    def _log_bounds(self) -> tuple[float, float]:
        return math.log(self.min), math.log(self.max)


@dataclass(frozen=True)
class InvLogUniform(_LogUniformBase):
    """exp(-U(min, max)): log-uniform over [e^-max, e^-min] (spec §3.3 note 6, §14 Q14).

    W&B maps a draw through exp(-u); the law is the same as that of exp(U(-max, -min)), which
    is what is used here so that the unit-cube coordinate grows with the value.
    """

    name: ClassVar[str] = "inv_log_uniform"
    deprecated_by: ClassVar[str | None] = "inv_log_uniform_values"

    @property
    def _log_bounds(self) -> tuple[float, float]:
        return -float(self.max), -float(self.min)


@dataclass(frozen=True)
class InvLogUniformValues(LogUniformValues):
    """Exactly ``log_uniform_values`` (spec §3.3 note 6, §14 Q14): ln X is uniform on
    [ln min, ln max], whatever the name promises."""

    name: ClassVar[str] = "inv_log_uniform_values"


def _norm_ppf(u: float) -> float:
    from scipy.special import ndtri  # the standard normal's inverse CDF

    return float(ndtri(u))


def _norm_cdf(z: float) -> float:
    from scipy.special import ndtr

    return float(ndtr(z))


@dataclass(frozen=True)
class Normal(_Continuous):
    mu: float = 0.0
    sigma: float = 1.0

    name: ClassVar[str] = "normal"
    optional: ClassVar[Mapping[str, Any]] = {"mu": 0.0, "sigma": 1.0}

    def _ppf(self, u: float) -> float:
        return self.mu + self.sigma * _norm_ppf(u)

    def _cdf(self, x: float) -> float:
        if self.sigma == 0:
            return 0.5
        return _norm_cdf((x - self.mu) / self.sigma)


@dataclass(frozen=True)
class QNormal(Normal):
    q: float | int = 1.0

    name: ClassVar[str] = "q_normal"
    optional: ClassVar[Mapping[str, Any]] = {"mu": 0.0, "sigma": 1.0, "q": 1.0}


@dataclass(frozen=True)
class LogNormal(Normal):
    name: ClassVar[str] = "log_normal"

    def _ppf(self, u: float) -> float:
        return math.exp(super()._ppf(u))

    def _cdf(self, x: float) -> float:
        return 0.0 if x <= 0 else super()._cdf(math.log(x))


@dataclass(frozen=True)
class QLogNormal(LogNormal):
    q: float | int = 1.0

    name: ClassVar[str] = "q_log_normal"
    optional: ClassVar[Mapping[str, Any]] = {"mu": 0.0, "sigma": 1.0, "q": 1.0}


@dataclass(frozen=True)
class Beta(_Continuous):
    a: float = 1.0
    b: float = 1.0

    name: ClassVar[str] = "beta"
    optional: ClassVar[Mapping[str, Any]] = {"a": 1.0, "b": 1.0}

    def _ppf(self, u: float) -> float:
        from scipy.special import betaincinv

        return float(betaincinv(self.a, self.b, u))

    def _cdf(self, x: float) -> float:
        from scipy.special import betainc

        return float(betainc(self.a, self.b, min(max(x, 0.0), 1.0)))


@dataclass(frozen=True)
class QBeta(Beta):
    q: float | int = 1.0

    name: ClassVar[str] = "q_beta"
    optional: ClassVar[Mapping[str, Any]] = {"a": 1.0, "b": 1.0, "q": 1.0}


#: Every distribution by its ``distribution:`` name, in spec §3.3's order.
DISTRIBUTIONS: Mapping[str, type[Distribution]] = {
    cls.name: cls
    for cls in (
        Constant,
        Categorical,
        CategoricalWithProbabilities,
        IntUniform,
        Uniform,
        QUniform,
        LogUniform,
        LogUniformValues,
        QLogUniform,
        QLogUniformValues,
        InvLogUniform,
        InvLogUniformValues,
        Normal,
        QNormal,
        LogNormal,
        QLogNormal,
        Beta,
        QBeta,
    )
}
