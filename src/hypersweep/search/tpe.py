"""``method: tpe`` (hypersweep extension): multivariate tree-structured Parzen estimator.

The runs are observed as for bayes (best-ever metric, ``metric.impute``; spec §4.4.2), split
into the best ``gamma(n) = min(ceil(n / 10), 25)`` and the rest, and each group becomes a
Parzen estimator (``_parzen``) with Optuna's default weights (older runs count less once there
are more than 25). 64 candidates are drawn from the good group's density l and the one with the
largest l / g is suggested (Bergstra et al. 2011; Optuna 5's defaults otherwise). The first 10
points come from the sweep's Sobol' design, indexed by the number of runs so far (``_points``).

Two departures from Optuna's defaults, both measured against its TPESampler on the suite of
``benchmarks/search_quality.py`` (docs/benchmarks.md), sequentially and in batches of 4:

* the floor on the kernel widths counts the whole model, not only the group (``_parzen``), so
  the good density can narrow around a cluster of good runs instead of staying at least a
  seventh of each range wide after 50 runs;
* 64 candidates instead of 24: l / g is maximised over more draws from l. With the narrower
  good kernels the draws sit closer to the good runs, and 24 of them were too few to find the
  region where l / g peaks in 5 to 10 dimensions.

Runs in flight, and earlier suggestions of the same batch, join the bad group: Optuna's
*constant liar*, which steers parallel agents away from each other's points. (Measured in
batches of 4 against leaving them out, and against a soft liar that counts each in the good
group with its model probability of being good and in the bad group with the rest: both won
fewer seeds against Optuna's TPESampler.) A point already taken is not suggested again while
another candidate exists; in an all-discrete space an unseen combination is preferred as long
as one exists.

Nested parameters: Optuna's ``group`` option splits the space into groups of parameters that
always appear together, because its parameters can be conditional. hypersweep's nested blocks
are not conditional (spec §3.5): every leaf is present in every run, so the whole space is one
group and a single joint estimator is exact. A run missing a leaf (a prior run) is encoded as
W&B does (spec §4.4.1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from hypersweep.config import ConfigIssue, SweepConfig
from hypersweep.domain import Run
from hypersweep.search._base import Searcher, Suggestion, model_requirements
from hypersweep.search._encoding import Encoder
from hypersweep.search._observations import observe
from hypersweep.search._parzen import LeafKinds, ParzenEstimator
from hypersweep.search._points import REPEAT_WARNINGS, DiscreteSpace, Taken, design_point
from hypersweep.search._types import Array

__all__ = ["TPESearch", "default_gamma", "default_weights"]

N_STARTUP = 10
N_CANDIDATES = 64
_MORE_CANDIDATE_ROUNDS = 10


def default_gamma(n: int) -> int:
    """How many of ``n`` observations form the good group."""
    return min(math.ceil(0.1 * n), 25)


def default_weights(n: int) -> Array:
    """Weights of ``n`` observations, oldest first: a ramp up to 1 for all but the newest 25."""
    if n < 25:
        return np.ones(n)
    return np.concatenate([np.linspace(1.0 / n, 1.0, num=n - 25), np.ones(25)])


class TPESearch(Searcher):
    """Multivariate TPE with constant liar (module docstring)."""

    name = "tpe"
    reads_history = True  # the best value each run reached (spec §4.4.1)

    def validate(self, config: SweepConfig) -> list[ConfigIssue]:
        return model_requirements(config, "TPE", "tpe")

    def suggest(
        self,
        config: SweepConfig,
        runs: Sequence[Run],
        n: int,
        rng: np.random.Generator,
    ) -> list[Suggestion]:
        encoder = Encoder(config.space)
        if encoder.n_leaves == 0:
            return [Suggestion(encoder.params([]), {"phase": "constant"}) for _ in range(n)]
        obs = observe(config.metric, runs, encoder)
        taken = Taken(obs.x, obs.pending)
        model = _TPE(encoder, obs.x, obs.y)
        pending = [obs.pending]
        out: list[Suggestion] = []
        for i in range(n):
            if len(runs) + i < N_STARTUP or not obs.has_signal:
                values, x, info = design_point(config, encoder, taken, len(runs) + i)
            else:
                values, x, info = model.propose(np.vstack(pending), taken, rng)
            taken.add(x)
            pending.append(x[None, :])
            out.append(Suggestion(encoder.params(values), info))
        return out


class _TPE:
    """The observations in leaf units, proposing points given the points in flight."""

    def __init__(self, encoder: Encoder, x: Array, y: Array) -> None:
        self.encoder = encoder
        self.kinds = LeafKinds(
            n_choices=np.array([leaf.width if leaf.categorical else 0 for leaf in encoder.leaves]),
            n_cells=np.array(
                [
                    _cells(leaf.parameter.distribution) if not leaf.categorical else 0
                    for leaf in encoder.leaves
                ]
            ),
        )
        self.points = self._points(x)
        self.y = y
        self.discrete = None if not encoder.all_discrete else DiscreteSpace.build(encoder)

    def _points(self, x: Array) -> Array:
        """Leaf units of feature rows, categoricals as their index."""
        u = self.encoder.units(x)
        cat = self.kinds.categorical
        u[:, cat] = np.floor(u[:, cat] * self.kinds.n_choices[cat])
        return u

    def _features(self, points: Array) -> Array:
        u = points.copy()
        cat = self.kinds.categorical
        u[:, cat] = (u[:, cat] + 0.5) / self.kinds.n_choices[cat]
        return self.encoder.features(u)

    def propose(
        self, pending: Array, taken: Taken, rng: np.random.Generator
    ) -> tuple[list[Any], Array, dict[str, Any]]:
        n = len(self.y)
        n_below = default_gamma(n)
        ranked = np.argsort(self.y, kind="stable")
        # each group in run order, so that the weights favour newer runs as Optuna's do
        below = np.sort(ranked[:n_below])
        above = np.sort(ranked[n_below:])
        above_points = np.vstack([self.points[above], self._points(pending)])
        # every observation plus the prior; runs in flight are not observations
        model_kernels = n + 1
        good = ParzenEstimator(
            self.points[below], default_weights(len(below)), self.kinds, model_kernels
        )
        bad = ParzenEstimator(
            above_points, default_weights(len(above_points)), self.kinds, model_kernels
        )
        info: dict[str, Any] = {"phase": "model", "n_good": len(below), "n_bad": len(above_points)}
        for depth, level in enumerate(taken.levels()):
            chosen = self._choose(good, bad, level, rng)
            if chosen is not None:
                values, x, score = chosen
                if depth:
                    info["warnings"] = [REPEAT_WARNINGS[depth - 1]]
                return values, x, {**info, "log_density_ratio": score}
        # unreachable: the last level avoids nothing, so the first candidate qualifies
        raise RuntimeError("tpe found no candidate point")

    def _choose(
        self, good: ParzenEstimator, bad: ParzenEstimator, taken: Taken, rng: np.random.Generator
    ) -> tuple[list[Any], Array, float] | None:
        """The candidate with the largest l / g not in ``taken``, None when there is none."""
        for _ in range(_MORE_CANDIDATE_ROUNDS):
            snapped = self.encoder.snap(self._features(good.sample(rng, N_CANDIDATES)))
            chosen = self._best(snapped, good, bad, taken)
            if chosen is not None:
                return chosen
        if self.discrete is not None:
            xs, indices = self.discrete.unseen(taken)
            if len(xs):
                points = self._points(xs)
                ratios = good.log_pdf(points) - bad.log_pdf(points)
                i = int(np.argmax(ratios))
                return self.discrete.values(indices[i]), xs[i], float(ratios[i])
        return None

    def _best(
        self,
        snapped: Array,
        good: ParzenEstimator,
        bad: ParzenEstimator,
        taken: Taken,
    ) -> tuple[list[Any], Array, float] | None:
        points = self._points(snapped)
        score = good.log_pdf(points) - bad.log_pdf(points)
        for i in np.argsort(-score, kind="stable"):
            if snapped[i] not in taken:
                return self.encoder.decode(snapped[i]), snapped[i], float(score[i])
        return None


def _cells(distribution: Any) -> int:
    if distribution.name == "int_uniform":
        return int(distribution.max - distribution.min + 1)
    return 0
