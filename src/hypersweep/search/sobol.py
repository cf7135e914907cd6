"""``method: sobol`` (hypersweep extension): a scrambled Sobol' sequence over the unit cube.

Point *k* of the sweep is point *k* of one sequence, where *k* is the number of runs the sweep
already has (any state) plus the position in the batch. The controller creates runs one at a
time, so agents that ask in turn get consecutive points of the same sequence: distinct and
evenly spread, which independent uniform draws are not. How the sequence stays the same from
call to call, and what ``seed:`` changes, is in ``_points``. In an all-discrete space a point
whose combination is already taken gives way to the next unseen one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hypersweep.config import SweepConfig
from hypersweep.domain import IN_FLIGHT_STATES, Run, RunState
from hypersweep.search._base import Searcher, Suggestion
from hypersweep.search._encoding import Encoder
from hypersweep.search._points import Taken, design_point, design_seed, sobol_points

__all__ = ["SobolSearch", "design_seed", "sobol_points"]


class SobolSearch(Searcher):
    """Scrambled Sobol' points, indexed by the number of runs so far (module docstring)."""

    name = "sobol"

    def suggest(
        self,
        config: SweepConfig,
        runs: Sequence[Run],
        n: int,
        rng: np.random.Generator,
    ) -> list[Suggestion]:
        encoder = Encoder(config.space)
        taken = Taken()
        if encoder.all_discrete:  # only there can two points coincide
            x, ok = encoder.encode([run.params for run in runs])
            busy = np.array(
                [
                    ok[i] and (r.state in IN_FLIGHT_STATES or r.state is RunState.RUNNING)
                    for i, r in enumerate(runs)
                ],
                dtype=bool,
            )
            taken = Taken(x[ok & ~busy], x[busy])
        out = []
        for i in range(n):
            values, x_i, info = design_point(config, encoder, taken, len(runs) + i, "quasi-random")
            taken.add(x_i)
            out.append(Suggestion(encoder.params(values), info))
        return out
