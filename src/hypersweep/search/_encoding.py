"""The unit-cube encoding shared by the model-based searchers (spec §4.4.1, with Q3 fixed).

Two coordinate systems are used:

* *leaf units*, one coordinate in (0, 1) per searchable leaf: what quasi-random designs and
  candidate samplers draw. A leaf's value is ``distribution.from_unit(u)``, exactly as random
  search samples it.
* *features*, what the models see: a numeric leaf is one column holding ``to_unit(value)`` (its
  CDF, or the middle of a discrete value's interval); a categorical leaf is one column per
  category, one-hot, so that every two categories are equally far apart instead of ordered by
  their position in ``values`` as in W&B's encoding.

Integer and quantized leaves are kept consistent between fit and suggestion by *snapping*: a
proposed point is decoded to typed values through ``from_unit`` and encoded again, so the model
always scores the point that the run will actually get.

Falsy values are encoded as themselves (``False`` is the index of ``False``), fixing W&B's bug
(spec §14 Q3). A leaf absent from a run's params (a prior run, an older config) is encoded as
the value 0, as W&B does (spec §4.4.1); for a categorical that is its first value.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import betainc, ndtr

from hypersweep.config import MISSING, Parameter, SearchSpace, value_key
from hypersweep.search._types import Array

__all__ = ["CATEGORICAL", "Encoder", "Leaf", "feature_key", "feature_keys", "finite_number"]

#: distributions encoded one-hot
CATEGORICAL = frozenset({"categorical", "categorical_w_probabilities"})
# Leaf units stay this far inside (0, 1): from_unit is an inverse CDF, infinite at 0 and 1.
_EDGE = 1e-9
# The largest discrete space that is enumerated outright to find unseen combinations.
MAX_ENUMERATION = 4096


@dataclass(frozen=True)
class Leaf:
    """One searchable leaf: where it sits in the space and in the feature vector."""

    position: int  # index in SearchSpace.parameters
    parameter: Parameter
    start: int  # first feature column
    width: int  # 1, or the number of categories
    categorical: bool
    discrete: bool  # categorical, int_uniform or quantized

    @property
    def columns(self) -> slice:
        return slice(self.start, self.start + self.width)


def finite_number(value: Any) -> float | None:
    """``value`` as a float when it is a finite number (not a bool), else None."""
    kind = type(value)
    # plain floats and ints first: isinstance against several types costs more per run
    if (kind is not float and kind is not int) and (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.integer, np.floating))
    ):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _fast_key(value: Any) -> Any:
    # value_key (a JSON dump) is exact but slow; plain scalars get an equivalent cheap key:
    # an integral float equals its int, True differs from 1 (as value_key has it).
    if type(value) is str:
        return ("s", value)
    if isinstance(value, (bool, np.bool_)):
        return ("b", bool(value))
    if isinstance(value, (int, np.integer)):
        return ("n", int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return ("n", int(f)) if f.is_integer() else ("n", f)
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("z",)
    return ("j", value_key(value))


class _CategoryIndex:
    """value -> position in ``values`` (first equal element), as ``Categorical.index``."""

    def __init__(self, values: Sequence[Any]) -> None:
        self._index: dict[Any, int] = {}
        for i, v in enumerate(values):
            self._index.setdefault(_fast_key(v), i)

    def __call__(self, value: Any) -> int | None:
        return self._index.get(_fast_key(value))


def _lookup(params: Any, path: tuple[str, ...]) -> Any:
    """A leaf's value in plain nested params, as ``SearchSpace.values_of`` finds it."""
    node = params
    for key in path:
        if type(node) is dict or isinstance(node, Mapping):
            node = node.get(key, MISSING)
            if node is MISSING:
                return MISSING
        else:
            return MISSING
    return node


def _categories(leaf: Leaf) -> tuple[Any, ...]:
    values: tuple[Any, ...] = leaf.parameter.distribution.values  # type: ignore[attr-defined]
    return values


def _vector_cdf(parameter: Parameter, values: Array) -> Array | None:
    """``to_unit`` for many numbers at once, from the distribution's public fields.

    ``to_unit`` costs microseconds a call, too much for 20,000 runs; the unit tests check that
    this agrees with it for every distribution. None means "no vector form, call to_unit".
    """
    d: Any = parameter.distribution
    name = d.name
    with np.errstate(all="ignore"):
        if name == "int_uniform":
            n = d.max - d.min + 1
            out = (values - d.min + 0.5) / n
        elif name in ("uniform", "q_uniform"):
            out = (values - d.min) / (d.max - d.min)
        elif "log_uniform" in name:
            if name.endswith("_values"):
                lo, hi = math.log(d.min), math.log(d.max)
            elif name == "inv_log_uniform":
                lo, hi = -float(d.max), -float(d.min)
            else:
                lo, hi = float(d.min), float(d.max)
            logs = np.log(np.where(values > 0, values, 1.0))
            out = np.where(values > 0, (logs - lo) / (hi - lo), 0.0)
        elif name in ("normal", "q_normal", "log_normal", "q_log_normal"):
            x = values
            if "log" in name:
                x = np.log(np.where(values > 0, values, 1.0))
            if d.sigma == 0:
                out = np.full_like(values, 0.5)
            else:
                out = ndtr((x - d.mu) / d.sigma)
            if "log" in name:
                out = np.where(values > 0, out, 0.0)
        elif name in ("beta", "q_beta"):
            out = betainc(d.a, d.b, np.clip(values, 0.0, 1.0))
        else:
            return None
    return np.asarray(np.clip(out, 0.0, 1.0), dtype=float)


class Encoder:
    """Maps a space's searchable leaves to features and back.

    Args:
        space: the sweep's search space; constants are not encoded and are added back by
            ``params``.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        leaves: list[Leaf] = []
        start = 0
        for position, parameter in enumerate(space.parameters):
            d: Any = parameter.distribution
            if d.is_constant:
                continue
            categorical = d.name in CATEGORICAL
            width = len(d.values) if categorical else 1
            discrete = categorical or d.name == "int_uniform" or getattr(d, "q", None) is not None
            leaves.append(Leaf(position, parameter, start, width, categorical, discrete))
            start += width
        self.leaves: tuple[Leaf, ...] = tuple(leaves)
        self.n_features = start
        self.n_leaves = len(leaves)
        self.all_discrete = bool(leaves) and all(leaf.discrete for leaf in leaves)
        self.has_categorical = any(leaf.categorical for leaf in leaves)
        #: feature columns of numeric (non one-hot) leaves: the ones a gradient can move
        self.numeric_columns = np.array(
            [leaf.start for leaf in leaves if not leaf.categorical], dtype=int
        )
        #: per feature column, the searchable leaf it belongs to (a one-hot leaf has several)
        self.column_leaf = (
            np.concatenate([np.full(leaf.width, j, dtype=int) for j, leaf in enumerate(leaves)])
            if leaves
            else np.zeros(0, dtype=int)
        )
        self._category_index = {
            leaf.start: _CategoryIndex(_categories(leaf)) for leaf in leaves if leaf.categorical
        }

    # ---- runs -> features -------------------------------------------------------------------

    def encode(self, params_list: Sequence[Mapping[str, Any]]) -> tuple[Array, Array]:
        """Features of many runs' params, and which rows could be encoded.

        A row cannot be encoded when a value is outside what its leaf can hold (a string for a
        number, a value not in a categorical's list, NaN): such runs are left out of the model.
        """
        m = len(params_list)
        x = np.zeros((m, self.n_features))
        ok = np.ones(m, dtype=bool)
        for leaf in self.leaves:
            column = [_lookup(params, leaf.parameter.path) for params in params_list]
            if leaf.categorical:
                index_of = self._category_index[leaf.start]
                for i, value in enumerate(column):
                    index = 0 if value is MISSING else index_of(value)
                    if index is None:
                        ok[i] = False
                    else:
                        x[i, leaf.start + index] = 1.0
                continue
            numbers = np.zeros(m)
            for i, value in enumerate(column):
                if value is MISSING:
                    continue  # encoded as the value 0 (spec §4.4.1)
                number = finite_number(value)
                if number is None:
                    ok[i] = False
                else:
                    numbers[i] = number
            units = _vector_cdf(leaf.parameter, numbers)
            if units is None:
                units = np.array([self._scalar_unit(leaf, v) for v in numbers])
            bad = ~np.isfinite(units)
            ok &= ~bad
            x[:, leaf.start] = np.where(bad, 0.5, units)
        return x, ok

    @staticmethod
    def _scalar_unit(leaf: Leaf, value: float) -> float:
        try:
            return float(leaf.parameter.distribution.to_unit(value))
        except (ValueError, TypeError, OverflowError):
            return math.nan

    def encode_values(self, values: Sequence[Any]) -> Array:
        """Exact features of one point given as typed values, one per searchable leaf."""
        x = np.zeros(self.n_features)
        for leaf, value in zip(self.leaves, values, strict=True):
            x[leaf.columns] = self.encode_leaf(leaf, value)
        return x

    def encode_leaf(self, leaf: Leaf, value: Any) -> Array:
        """The feature columns of one leaf's value (ValueError when it is not in the space)."""
        out = np.zeros(leaf.width)
        if leaf.categorical:
            index = self._category_index[leaf.start](value)
            if index is None:
                raise ValueError(f"{value!r} is not one of {leaf.parameter.name}'s values")
            out[index] = 1.0
        else:
            out[0] = leaf.parameter.distribution.to_unit(value)
        return out

    # ---- units / features -> values ----------------------------------------------------------

    def decode_units(self, u: Array) -> list[Any]:
        """Typed values of one point in leaf units (as random search would draw them)."""
        u = np.clip(u, _EDGE, 1.0 - _EDGE)
        return [
            leaf.parameter.distribution.from_unit(float(ui))
            for leaf, ui in zip(self.leaves, u, strict=True)
        ]

    def decode(self, x: Array) -> list[Any]:
        """Typed values of one feature vector: categoricals by their largest column."""
        out: list[Any] = []
        for leaf in self.leaves:
            d: Any = leaf.parameter.distribution
            if leaf.categorical:
                out.append(copy.deepcopy(_categories(leaf)[int(np.argmax(x[leaf.columns]))]))
            else:
                out.append(d.from_unit(float(np.clip(x[leaf.start], _EDGE, 1.0 - _EDGE))))
        return out

    def snap(self, x: Array) -> Array:
        """Feature rows moved to the features of the values they decode to.

        Categoricals become one-hot at their largest column, integers the middle of their
        cell, quantized leaves the CDF of their rounded value (decoded and encoded one by one);
        continuous leaves already are what they decode to.
        """
        out = np.clip(x, 0.0, 1.0)
        for leaf in self.leaves:
            d: Any = leaf.parameter.distribution
            if leaf.categorical:
                index = np.argmax(x[:, leaf.columns], axis=1)
                out[:, leaf.columns] = 0.0
                out[np.arange(len(x)), leaf.start + index] = 1.0
            elif d.name == "int_uniform":
                n = d.max - d.min + 1
                out[:, leaf.start] = (np.minimum(np.floor(out[:, leaf.start] * n), n - 1) + 0.5) / n
            elif leaf.discrete:
                out[:, leaf.start] = [
                    d.to_unit(d.from_unit(float(np.clip(u, _EDGE, 1.0 - _EDGE))))
                    for u in out[:, leaf.start]
                ]
        return out

    def features(self, u: Array) -> Array:
        """Approximate features of many points in leaf units, vectorized (for candidates).

        Categories are picked uniformly (the model, not the prior probabilities, decides among
        them), integers are snapped to their cell; quantized leaves are snapped later, exactly,
        by ``snap`` on the few points that are kept.
        """
        m = u.shape[0]
        x = np.zeros((m, self.n_features))
        for j, leaf in enumerate(self.leaves):
            d: Any = leaf.parameter.distribution
            if leaf.categorical:
                index = np.minimum((u[:, j] * leaf.width).astype(int), leaf.width - 1)
                x[np.arange(m), leaf.start + index] = 1.0
            elif d.name == "int_uniform":
                n = d.max - d.min + 1
                x[:, leaf.start] = (np.minimum(np.floor(u[:, j] * n), n - 1) + 0.5) / n
            else:
                x[:, leaf.start] = u[:, j]
        return x

    def units(self, x: Array) -> Array:
        """Leaf units of feature rows; a category becomes the middle of its uniform slot."""
        u = np.empty((x.shape[0], self.n_leaves))
        for j, leaf in enumerate(self.leaves):
            if leaf.categorical:
                u[:, j] = (np.argmax(x[:, leaf.columns], axis=1) + 0.5) / leaf.width
            else:
                u[:, j] = x[:, leaf.start]
        return u

    def params(self, values: Sequence[Any]) -> dict[str, Any]:
        """Plain nested params from one value per searchable leaf, constants added back."""
        chosen = {leaf.position: v for leaf, v in zip(self.leaves, values, strict=True)}
        return self.space.nest(
            [
                chosen[i] if i in chosen else p.distribution.from_unit(0.5)
                for i, p in enumerate(self.space.parameters)
            ]
        )

    # ---- discrete spaces ------------------------------------------------------------------------

    def supports(self) -> list[list[Any]] | None:
        """Each leaf's values when every leaf is discrete and the product is small enough to
        enumerate (``MAX_ENUMERATION``); None otherwise.

        Quantized leaves are scanned at 1,024 quantiles, which finds every value with at least
        that much probability (all of them for bounded distributions with fewer values).
        """
        if not self.all_discrete:
            return None
        out: list[list[Any]] = []
        size = 1
        for leaf in self.leaves:
            d: Any = leaf.parameter.distribution
            if leaf.categorical:
                values = [copy.deepcopy(v) for v in _categories(leaf)]
            elif d.name == "int_uniform":
                if d.max - d.min + 1 > MAX_ENUMERATION:
                    return None
                values = d.grid_values()
            else:
                seen: dict[str, Any] = {}
                for u in (np.arange(1024) + 0.5) / 1024:
                    v = d.from_unit(float(u))
                    seen.setdefault(value_key(v), v)
                values = list(seen.values())
            size *= len(values)
            if size > MAX_ENUMERATION:
                return None
            out.append(values)
        return out


def feature_key(x: Array) -> bytes:
    """The identity of an encoded point: equal values give equal features."""
    return np.ascontiguousarray(np.round(x, 12)).tobytes()


def feature_keys(x: Array) -> list[bytes]:
    """``feature_key`` of every row of ``x``."""
    rounded = np.ascontiguousarray(np.round(x, 12))
    return [row.tobytes() for row in rounded]
