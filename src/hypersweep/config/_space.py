"""The search space: the parameter leaves in canonical order, and the mapping between a run's
plain nested params and per-leaf values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hypersweep.config._parameters import Parameter

__all__ = ["MISSING", "SearchSpace"]


class _Missing:
    """A leaf absent from a run's params (a prior run, or a run from an older config)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class SearchSpace:
    """The leaves of ``parameters`` in canonical order (spec §3.5), constants included."""

    parameters: tuple[Parameter, ...]

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)

    @property
    def searchable(self) -> tuple[Parameter, ...]:
        """The leaves a search method varies: every one but the constants."""
        return tuple(p for p in self.parameters if not p.distribution.is_constant)

    def values_of(self, params: Mapping[str, Any]) -> list[Any]:
        """Each leaf's value in ``params`` (plain nested), ``MISSING`` where it has none."""
        out: list[Any] = []
        for parameter in self.parameters:
            node: Any = params
            for key in parameter.path:
                if isinstance(node, Mapping) and key in node:
                    node = node[key]
                else:
                    node = MISSING
                    break
            out.append(node)
        return out

    def nest(self, values: Sequence[Any]) -> dict[str, Any]:
        """Plain nested params from one value per leaf, ordered as W&B's engine emits them.

        Top-level flat parameters come first in sorted order, then nested blocks (spec §6.3),
        with keys sorted inside each block.
        """
        flat: dict[str, Any] = {}
        blocks: dict[str, Any] = {}
        for parameter, value in zip(self.parameters, values, strict=True):
            if len(parameter.path) == 1:
                flat[parameter.path[0]] = value
                continue
            node = blocks.setdefault(parameter.path[0], {})
            for key in parameter.path[1:-1]:
                node = node.setdefault(key, {})
            node[parameter.path[-1]] = value
        return {**flat, **blocks}

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One independent draw of every leaf (spec §4.3), nested."""
        return self.nest([p.distribution.sample(rng) for p in self.parameters])
