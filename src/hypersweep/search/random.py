"""``method: random``: every parameter sampled independently (spec §4.3); never exhausts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hypersweep.config import SweepConfig
from hypersweep.domain import Run
from hypersweep.search._base import Searcher, Suggestion


class RandomSearch(Searcher):
    name = "random"

    def suggest(
        self,
        config: SweepConfig,
        runs: Sequence[Run],
        n: int,
        rng: np.random.Generator,
    ) -> list[Suggestion]:
        return [Suggestion(config.space.sample(rng)) for _ in range(n)]
