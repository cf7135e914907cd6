"""``method: grid``: the cartesian product in W&B's order, each point once (spec §4.2)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from hypersweep.config import MISSING, ConfigIssue, Parameter, SweepConfig, value_key
from hypersweep.domain import Run
from hypersweep.search._base import Searcher, Suggestion


class GridSearch(Searcher):
    name = "grid"

    def validate(self, config: SweepConfig) -> list[ConfigIssue]:
        return [
            ConfigIssue(
                parameter.key_path,
                f"Parameter {parameter.name} is a disallowed type with grid search. Grid search "
                "requires all parameters to be categorical, constant, int_uniform, or q_uniform. "
                "Specification of probabilities for categorical parameters is disallowed in grid "
                f"search. It is {parameter.distribution.name}; use values: [...] or method: "
                "random",
            )
            for parameter in config.space
            if not parameter.distribution.grid_allowed
        ]

    def suggest(
        self,
        config: SweepConfig,
        runs: Sequence[Run],
        n: int,
        rng: np.random.Generator,
    ) -> list[Suggestion]:
        axes = [
            _Axis(index, p)
            for index, p in enumerate(config.space)
            if not p.distribution.is_constant
        ]
        seen = {key for key in (_run_key(axes, config, run) for run in runs) if key is not None}
        out: list[Suggestion] = []
        for key, values in _points(axes):
            if len(out) == n:
                break
            if key in seen:
                continue
            seen.add(key)
            out.append(Suggestion(_nest(config, axes, values)))
        return out


class _Axis:
    """One gridded leaf: its distinct values in order, and how run values are identified."""

    def __init__(self, index: int, parameter: Parameter) -> None:
        self.index = index
        self.parameter = parameter
        distinct: dict[str, Any] = {}
        for value in parameter.distribution.grid_values():
            distinct.setdefault(value_key(value), value)
        self.keys = list(distinct)
        self.values = list(distinct.values())
        # spec §4.2 #4: keys a run's dict value has beyond every grid value's keys (injected
        # at run time) do not make it a different point
        dict_keys = [set(v) for v in self.values if isinstance(v, Mapping)]
        self.dict_keys: set[str] | None = set().union(*dict_keys) if dict_keys else None

    def key_of(self, value: Any) -> str:
        if self.dict_keys is not None and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k in self.dict_keys}
        return value_key(value)


def _points(axes: list[_Axis]) -> Iterator[tuple[tuple[str, ...], tuple[Any, ...]]]:
    # itertools.product varies the last axis fastest: W&B's odometer order (spec §4.2 #3)
    indexed = itertools.product(*(range(len(axis.values)) for axis in axes))
    for indices in indexed:
        yield (
            tuple(axis.keys[i] for axis, i in zip(axes, indices, strict=True)),
            tuple(axis.values[i] for axis, i in zip(axes, indices, strict=True)),
        )


def _run_key(axes: list[_Axis], config: SweepConfig, run: Run) -> tuple[str, ...] | None:
    values = config.space.values_of(run.params)
    key = []
    for axis in axes:
        value = values[axis.index]
        if value is MISSING:
            return None  # an incomplete run never matches a point (spec §4.2 #4)
        key.append(axis.key_of(value))
    return tuple(key)


def _nest(config: SweepConfig, axes: list[_Axis], values: tuple[Any, ...]) -> dict[str, Any]:
    chosen = {axis.index: value for axis, value in zip(axes, values, strict=True)}
    return config.space.nest(
        [
            copy.deepcopy(chosen[i]) if i in chosen else p.distribution.from_unit(0.5)
            for i, p in enumerate(config.space)
        ]
    )
