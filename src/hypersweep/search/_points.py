"""Points already taken, the sweep's quasi-random design, and discrete spaces' combinations.

Shared by the searchers so that they agree on what "the same point" means: two points are the
same when their parameter values encode to the same features. W&B re-suggests observed
combinations (spec §4.4.3 step 11; wandb/wandb#1660, #3467); hypersweep avoids a point already
taken while another exists, and before repeating an observed point it avoids any point that is
in flight or already in the batch, so that no two agents get the same point at once.

The design is a scrambled Sobol' sequence (Owen 1998, via ``scipy.stats.qmc.Sobol``) whose
point *k* goes to the sweep's run *k*. For every call to continue the *same* sequence, its
scrambling must not change between calls, so it is not drawn from the per-call ``rng`` (the
engine seeds that from the number of runs): it comes from the config's ``seed`` key or, when
there is none, from a checksum of the search space. Two unseeded sweeps with the same
parameters therefore start from the same points; ``seed:`` varies them.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy.stats import qmc

from hypersweep.config import SweepConfig, value_key
from hypersweep.search._encoding import Encoder, feature_key, feature_keys
from hypersweep.search._types import Array

__all__ = [
    "REPEAT_WARNINGS",
    "DiscreteSpace",
    "Taken",
    "design_point",
    "design_seed",
    "sobol_points",
]

#: the warning of a point chosen at ``Taken.levels()[1]`` and ``[2]``
REPEAT_WARNINGS = (
    "Every candidate point has been observed already; repeating one.",
    "Every candidate point is in flight or earlier in this batch; repeating one.",
)

# how far along the Sobol' sequence a design point may move to find an unseen combination
_SKIP = 64


def design_seed(config: SweepConfig) -> int:
    """The seed of the sweep's quasi-random design: the same for every call (module doc)."""
    if config.seed is not None:
        return config.seed % 2**63
    space = [[list(p.path), p.distribution.spec()] for p in config.space]
    return zlib.crc32(value_key(space).encode())


def sobol_points(seed: int, dim: int, start: int, n: int) -> Array:
    """Points ``start`` to ``start + n - 1`` of the scrambled Sobol' sequence ``seed``.

    Returns an ``(n, dim)`` array inside the open unit cube.
    """
    rng = np.random.default_rng([0x50B01, seed])
    try:
        engine = qmc.Sobol(dim, scramble=True, rng=rng)
    except TypeError:  # scipy < 1.15 names it seed
        engine = qmc.Sobol(dim, scramble=True, seed=rng)
    # Drawing a power of two keeps scipy's balance warning quiet (and the points balanced).
    m = max(0, math.ceil(math.log2(max(start + n, 1))))
    points = engine.random_base2(m)[start : start + n]
    return np.asarray(np.clip(points, 1e-9, 1.0 - 1e-9))


class Taken:
    """Encoded points already observed, and points busy: in flight or earlier in the batch.

    ``x in taken`` is true for both; ``taken.busy_only()`` is the view that lets observed points
    through, for when every point has been observed.
    """

    def __init__(self, observed: Array | None = None, busy: Array | None = None) -> None:
        self.seen: set[bytes] = set() if observed is None else set(feature_keys(observed))
        self.busy: set[bytes] = set() if busy is None else set(feature_keys(busy))

    def add(self, x: Array) -> None:
        """Mark a point suggested in this batch."""
        self.busy.add(feature_key(x))

    def __contains__(self, x: object) -> bool:
        if not isinstance(x, np.ndarray):
            return False
        key = feature_key(x)
        return key in self.busy or key in self.seen

    def busy_only(self) -> Taken:
        view = Taken()
        view.busy = self.busy
        return view

    def levels(self) -> list[Taken]:
        """What to avoid, from the strictest: everything taken, then only busy points, then
        nothing (every point is busy: a repeat cannot be helped)."""
        return [self, self.busy_only(), Taken()]


class DiscreteSpace:
    """Every combination of an all-discrete space small enough to enumerate, with features.

    Built from ``Encoder.supports``; ``None`` from ``build`` otherwise.
    """

    def __init__(self, encoder: Encoder, supports: list[list[Any]]) -> None:
        self.encoder = encoder
        self.supports = supports
        # each leaf's support encoded once; a combination's features are the blocks' rows
        self._blocks: list[Array] = []
        for leaf, values in zip(encoder.leaves, supports, strict=True):
            block = np.zeros((len(values), encoder.n_features))
            for i, value in enumerate(values):
                block[i, leaf.columns] = encoder.encode_leaf(leaf, value)
            self._blocks.append(block)
        self.size = int(np.prod([len(v) for v in supports]))

    @classmethod
    def build(cls, encoder: Encoder) -> DiscreteSpace | None:
        supports = encoder.supports()
        return None if supports is None else cls(encoder, supports)

    def features(self) -> tuple[Array, Array]:
        """All combinations' features, and their per-leaf indices (first leaf slowest)."""
        index = np.array(list(itertools.product(*(range(len(v)) for v in self.supports))))
        x = np.zeros((len(index), self.encoder.n_features))
        for j, block in enumerate(self._blocks):
            x += block[index[:, j]]
        return x, index

    def unseen(self, taken: Taken) -> tuple[Array, Array]:
        """Features and indices of the combinations not taken."""
        x, index = self.features()
        avoid = taken.seen | taken.busy
        keep = np.array([key not in avoid for key in feature_keys(x)], dtype=bool)
        return x[keep], index[keep]

    def values(self, index: Iterable[int]) -> list[Any]:
        return [self.supports[j][int(i)] for j, i in enumerate(index)]


def design_point(
    config: SweepConfig, encoder: Encoder, taken: Taken, index: int, phase: str = "warm-up"
) -> tuple[list[Any], Array, dict[str, Any]]:
    """Point ``index`` of the sweep's design, as values, features and info.

    In an all-discrete space where that point's combination is taken, the next points of the
    sequence are tried, then any combination not taken, so that a small grid-like space is
    covered before anything repeats.
    """
    if encoder.n_leaves == 0:
        return [], np.zeros(0), {"phase": phase, "sobol_index": index}
    count = _SKIP if encoder.all_discrete else 1
    units = sobol_points(design_seed(config), encoder.n_leaves, index, count)
    points = [(encoder.decode_units(u), index + i) for i, u in enumerate(units)]
    encoded = [(values, encoder.encode_values(values), i) for values, i in points]
    space = DiscreteSpace.build(encoder) if encoder.all_discrete else None
    for depth, level in enumerate(taken.levels()):
        info: dict[str, Any] = {"phase": phase}
        if depth:
            info["warnings"] = [REPEAT_WARNINGS[depth - 1]]
        for values, x, i in encoded:
            if x not in level:
                return values, x, {**info, "sobol_index": i}
        if space is not None:
            xs, indices = space.unseen(level)
            if len(xs):
                return space.values(indices[0]), xs[0], {**info, "sobol_index": None}
    values, x, i = encoded[0]  # unreachable: the last level takes the first point
    return values, x, {"phase": phase, "sobol_index": i}
