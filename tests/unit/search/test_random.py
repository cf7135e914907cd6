"""Random search: independent samples, reproducible for a seed (spec §4.3)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hypersweep import engine
from hypersweep.engine import Run

CONFIG: dict[str, Any] = {
    "method": "random",
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
        "layers": {"min": 1, "max": 8},
        "opt": {"parameters": {"name": {"values": ["adam", "sgd"]}, "beta": {"value": 0.9}}},
        "zeta": {"value": "fixed"},
    },
}


def test_shape_of_a_suggestion_matches_w_and_b() -> None:
    (suggestion,) = engine.next_runs(CONFIG, [], seed=3)
    assert list(suggestion.params) == ["layers", "lr", "zeta", "opt"]
    assert suggestion.params["opt"]["beta"] == 0.9
    assert suggestion.params["zeta"] == "fixed"


def test_same_seed_same_samples_and_n_are_independent() -> None:
    a = engine.next_runs(CONFIG, [], n=5, seed=11)
    b = engine.next_runs(CONFIG, [], n=5, seed=11)
    assert [s.params for s in a] == [s.params for s in b]
    assert len({s.params["lr"] for s in a}) == 5


def test_a_generator_can_be_passed() -> None:
    rng = np.random.default_rng(0)
    first = engine.next_runs(CONFIG, [], seed=rng)[0].params
    second = engine.next_runs(CONFIG, [], seed=rng)[0].params
    assert first != second


def test_config_seed_reproduces_a_sweep_and_moves_with_the_runs() -> None:
    config = {**CONFIG, "seed": 5}
    first = engine.next_runs(config, [])[0].params
    assert engine.next_runs(config, [])[0].params == first
    after_one = engine.next_runs(config, [Run("r0", "finished", first)])[0].params
    assert after_one != first


def test_random_never_exhausts_and_ignores_runs() -> None:
    runs = [Run(f"r{i}", "finished", {"layers": 1}) for i in range(100)]
    assert len(engine.next_runs(CONFIG, runs, n=4, seed=1)) == 4


@settings(max_examples=50, deadline=None)
@given(
    low=st.floats(-1e3, 1e3, allow_nan=False),
    width=st.floats(1e-3, 1e3),
    ilow=st.integers(-50, 50),
    iwidth=st.integers(1, 50),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_sample_is_inside_its_support_and_typed(
    low: float, width: float, ilow: int, iwidth: int, seed: int
) -> None:
    config = {
        "method": "random",
        "parameters": {
            "u": {"min": low, "max": low + width, "distribution": "uniform"},
            "i": {"min": ilow, "max": ilow + iwidth},
            "lv": {"distribution": "log_uniform_values", "min": width, "max": width * 10},
            "qi": {"distribution": "q_uniform", "min": ilow, "max": ilow + iwidth, "q": 2},
            "c": {"values": ["a", 1, None]},
            "w": {"values": [1, 2], "probabilities": [0.25, 0.75]},
            "b": {"distribution": "beta", "a": 0.5, "b": 2},
        },
    }
    for suggestion in engine.next_runs(config, [], n=20, seed=seed):
        p = suggestion.params
        assert low <= p["u"] <= low + width and isinstance(p["u"], float)
        assert ilow <= p["i"] <= ilow + iwidth and type(p["i"]) is int
        assert width * (1 - 1e-9) <= p["lv"] <= width * 10 * (1 + 1e-9)
        assert type(p["qi"]) is int and p["qi"] % 2 == 0
        assert ilow - 2 <= p["qi"] <= ilow + iwidth + 2
        assert p["c"] in ("a", 1, None)
        assert p["w"] in (1, 2)
        assert 0.0 <= p["b"] <= 1.0
