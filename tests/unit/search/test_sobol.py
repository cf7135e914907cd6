"""``method: sobol``: one scrambled sequence per sweep, indexed by the number of runs."""

from __future__ import annotations

from typing import Any

import numpy as np

from hypersweep import engine
from hypersweep.config import value_key
from hypersweep.domain import Run
from hypersweep.search._points import design_seed, sobol_points

CONFIG: dict[str, Any] = {
    "method": "sobol",
    "parameters": {"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}},
}


def test_agents_asking_in_turn_walk_one_sequence() -> None:
    runs: list[Run] = []
    for i in range(8):
        (s,) = engine.next_runs(CONFIG, runs, seed=i)  # a different rng every call
        assert s.info == {"phase": "quasi-random", "sobol_index": i}
        runs.append(Run(f"r{i}", "pending", s.params))
    together = engine.next_runs(CONFIG, [], n=8)
    assert [s.params for s in together] == [r.params for r in runs]
    points = np.array([[r.params["x"], r.params["y"]] for r in runs])
    np.testing.assert_allclose(points, sobol_points(design_seed(engine.parse(CONFIG)), 2, 0, 8))
    # a Sobol' sequence's first 8 points fill each half of each axis with 4
    assert (points[:, 0] < 0.5).sum() == 4 and (points[:, 1] < 0.5).sum() == 4


def test_the_seed_key_changes_the_scrambling() -> None:
    first = engine.next_runs(CONFIG, [], n=2)
    seeded = engine.next_runs({**CONFIG, "seed": 1}, [], n=2)
    assert [s.params for s in first] != [s.params for s in seeded]
    assert [s.params for s in seeded] == [
        s.params for s in engine.next_runs({**CONFIG, "seed": 1}, [], n=2)
    ]


def test_a_small_discrete_space_is_covered_before_anything_repeats() -> None:
    config = {
        "method": "sobol",
        "parameters": {"a": {"values": [1, 2, 3]}, "b": {"values": [True, False]}},
    }
    runs: list[Run] = []
    for i in range(6):
        (s,) = engine.next_runs(config, runs)
        runs.append(Run(f"r{i}", "finished", s.params))
    assert len({value_key(r.params) for r in runs}) == 6
    assert len(engine.next_runs(config, runs, n=3)) == 3
