"""Each distribution of spec §3.3: inference, defaults, support, output type, quantization."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from hypersweep.config import DISTRIBUTIONS, parse_config
from hypersweep.config._distributions import Distribution


def leaf(spec: dict[str, Any], *, top_level: bool = True) -> Distribution:
    parameters: dict[str, Any] = {"x": spec}
    if not top_level:
        parameters = {"block": {"parameters": parameters}}
    config, issues = parse_config({"method": "random", "parameters": parameters})
    assert config is not None, [str(i) for i in issues]
    return config.space.parameters[0].distribution


def draws(spec: dict[str, Any], n: int = 2000, seed: int = 0) -> list[Any]:
    distribution = leaf(spec)
    rng = np.random.default_rng(seed)
    return [distribution.sample(rng) for _ in range(n)]


INFERENCE = [
    ({"values": [1, 2]}, "categorical"),
    ({"values": [1, 2], "probabilities": [0.5, 0.5]}, "categorical_w_probabilities"),
    ({"value": None}, "constant"),
    ({"value": [1, 2]}, "constant"),
    ({"min": 1, "max": 5}, "int_uniform"),
    ({"min": 0.0, "max": 1.0}, "uniform"),
    ({"min": 0.0, "max": 1.0, "distribution": "uniform"}, "uniform"),
    ({"min": 0, "max": 1, "distribution": "uniform"}, "uniform"),
]


@pytest.mark.parametrize(("spec", "expected"), INFERENCE, ids=[e for _, e in INFERENCE])
def test_distribution_is_inferred_from_keys(spec: dict[str, Any], expected: str) -> None:
    assert leaf(spec).name == expected


def test_mixed_int_float_bounds_infer_uniform_when_nested() -> None:
    # spec §3.2: the engine infers uniform; only the W&B client refuses it at top level
    assert leaf({"min": 0, "max": 1.5}, top_level=False).name == "uniform"


def test_defaults_are_filled_into_the_stored_config() -> None:
    config, _ = parse_config(
        {
            "method": "random",
            "parameters": {
                "a": {"distribution": "normal"},
                "b": {"distribution": "q_beta"},
                "c": {"min": 1, "max": 3},
                "d": {"distribution": "q_uniform", "min": 0, "max": 4},
            },
        }
    )
    assert config is not None
    stored = config.to_dict()["parameters"]
    assert stored["a"] == {"distribution": "normal", "mu": 0.0, "sigma": 1.0}
    assert stored["b"] == {"distribution": "q_beta", "a": 1.0, "b": 1.0, "q": 1.0}
    assert stored["c"] == {"distribution": "int_uniform", "min": 1, "max": 3}
    assert stored["d"] == {"distribution": "q_uniform", "min": 0, "max": 4, "q": 1.0}


def test_constant_returns_the_value_itself() -> None:
    values = draws({"value": {"a": [1, 2]}}, n=5)
    assert all(v == {"a": [1, 2]} for v in values)
    values[0]["a"].append(3)  # samples are independent copies
    assert values[1] == {"a": [1, 2]}


def test_categorical_is_uniform_over_positions_and_keeps_types() -> None:
    choices = [None, True, "adam", [1, 2], {"k": 1}]
    values = draws({"values": choices}, n=5000)
    for choice in choices:
        share = sum(v == choice and type(v) is type(choice) for v in values) / len(values)
        assert share == pytest.approx(0.2, abs=0.03)


def test_categorical_w_probabilities_follows_the_weights() -> None:
    values = draws({"values": ["a", "b", "c"], "probabilities": [0.1, 0.2, 0.7]}, n=10000)
    assert values.count("a") / 10000 == pytest.approx(0.1, abs=0.015)
    assert values.count("c") / 10000 == pytest.approx(0.7, abs=0.02)


def test_categorical_w_probabilities_cuts_at_cumulative_edges() -> None:
    # spec §3.3 note 4: value i for U in [c_{i-1}, c_i)
    d = leaf({"values": ["a", "b"], "probabilities": [0.25, 0.75]})
    assert d.from_unit(0.2499) == "a"
    assert d.from_unit(0.25) == "b"


def test_int_uniform_is_inclusive_and_int() -> None:
    values = draws({"min": -2, "max": 2})
    assert set(values) == {-2, -1, 0, 1, 2}
    assert all(type(v) is int for v in values)


def test_open_interval_never_gives_min_minus_one_or_last_category() -> None:
    # spec §14 Q4: W&B's U=0 edge gives min - 1 and the last category; ours never draws U=0
    assert leaf({"min": 1, "max": 3}).from_unit(1e-12) == 1
    assert leaf({"values": ["a", "b", "c"]}).from_unit(1e-12) == "a"
    assert leaf({"values": ["a", "b"], "probabilities": [0.5, 0.5]}).from_unit(1 - 1e-12) == "b"


def test_uniform_stays_in_range_as_floats() -> None:
    values = draws({"min": -1.0, "max": 3.0})
    assert all(-1.0 <= v <= 3.0 and type(v) is float for v in values)
    assert np.mean(values) == pytest.approx(1.0, abs=0.1)


def test_q_uniform_is_anchored_at_zero_and_may_leave_the_range() -> None:
    # spec §3.3 and §14 Q1: min 1, max 10, q 3 gives {0, 3, 6, 9}, 0 about 6 % of the time
    # (uniform draws below 1.5 round to 0)
    values = draws({"distribution": "q_uniform", "min": 1, "max": 10, "q": 3}, n=5000)
    assert set(values) == {0, 3, 6, 9}
    assert all(type(v) is int for v in values)
    assert values.count(0) / 5000 == pytest.approx(0.5 / 9, abs=0.015)
    values = draws({"distribution": "q_uniform", "min": 0, "max": 11, "q": 4}, n=5000)
    assert 12 in values


def test_q_uniform_default_q_gives_floats() -> None:
    # spec §14 Q2: the default q is 1.0, so 3.0 and not 3
    values = draws({"distribution": "q_uniform", "min": 0, "max": 5}, n=200)
    assert all(type(v) is float and v.is_integer() for v in values)


def test_float_q_keeps_artefacts() -> None:
    values = draws({"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.1}, n=2000)
    assert all(type(v) is float for v in values)
    assert all(math.isclose(v / 0.1, round(v / 0.1)) for v in values)


def test_log_uniform_takes_natural_log_exponents() -> None:
    values = draws({"distribution": "log_uniform", "min": 0, "max": 3})
    assert all(1.0 <= v <= math.exp(3) for v in values)


def test_log_uniform_values_takes_the_values_themselves() -> None:
    values = draws({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1})
    logs = np.log10(values)
    assert logs.min() >= -4 and logs.max() <= -1
    assert np.mean(logs) == pytest.approx(-2.5, abs=0.1)


def test_q_log_uniform_gives_the_documented_integers() -> None:
    values = draws({"distribution": "q_log_uniform", "min": 0, "max": 3, "q": 1})
    assert set(values) <= set(range(1, 21))
    assert all(type(v) is int for v in values)


def test_q_log_uniform_values_steps_by_q() -> None:
    values = draws({"distribution": "q_log_uniform_values", "min": 32, "max": 256, "q": 8})
    assert all(v % 8 == 0 and 32 <= v <= 256 for v in values)


def test_inv_log_uniform_values_is_log_uniform_values() -> None:
    # spec §3.3, §14 Q14: min 1, max 20 has mean 19 / ln 20 ~ 6.34
    values = draws({"distribution": "inv_log_uniform_values", "min": 1, "max": 20}, n=20000)
    assert all(1 <= v <= 20 for v in values)
    assert np.mean(values) == pytest.approx(19 / math.log(20), rel=0.03)
    inv = leaf({"distribution": "inv_log_uniform_values", "min": 1, "max": 20})
    log = leaf({"distribution": "log_uniform_values", "min": 1, "max": 20})
    for v in (1.5, 4.0, 19.0):
        assert inv.to_unit(v) == pytest.approx(log.to_unit(v))


def test_inv_log_uniform_covers_exp_minus_max_to_exp_minus_min() -> None:
    values = draws({"distribution": "inv_log_uniform", "min": 0, "max": 3})
    assert all(math.exp(-3) <= v <= 1.0 for v in values)


def test_normal_family_moments() -> None:
    values = draws({"distribution": "normal", "mu": 2.0, "sigma": 0.5}, n=10000)
    assert np.mean(values) == pytest.approx(2.0, abs=0.03)
    assert np.std(values) == pytest.approx(0.5, abs=0.03)
    values = draws({"distribution": "log_normal", "mu": 0.0, "sigma": 1.0}, n=10000)
    assert min(values) > 0
    assert np.median(values) == pytest.approx(1.0, abs=0.06)
    values = draws({"distribution": "q_normal", "q": 2}, n=500)
    assert all(type(v) is int and v % 2 == 0 for v in values)
    values = draws({"distribution": "q_log_normal", "mu": 3.0, "q": 0.5}, n=500)
    assert all(type(v) is float and (v / 0.5).is_integer() for v in values)


def test_beta_family_stays_in_the_unit_interval() -> None:
    values = draws({"distribution": "beta", "a": 2, "b": 5}, n=10000)
    assert all(0 <= v <= 1 for v in values)
    assert np.mean(values) == pytest.approx(2 / 7, abs=0.01)
    values = draws({"distribution": "q_beta", "q": 0.25}, n=500)
    assert set(values) <= {0.0, 0.25, 0.5, 0.75, 1.0}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_every_distribution_round_trips_through_the_unit_interval(name: str) -> None:
    specs: dict[str, dict[str, Any]] = {
        "constant": {"value": 3},
        "categorical": {"values": ["a", 1, None]},
        "categorical_w_probabilities": {"values": ["a", "b"], "probabilities": [0.3, 0.7]},
        "int_uniform": {"min": 0, "max": 7},
        "uniform": {"min": 0.0, "max": 2.0},
        "q_uniform": {"min": 0, "max": 10, "q": 2},
        "log_uniform": {"min": -3, "max": 0},
        "log_uniform_values": {"min": 0.001, "max": 1.0},
        "q_log_uniform": {"min": 0, "max": 4, "q": 1},
        "q_log_uniform_values": {"min": 8, "max": 512, "q": 8},
        "inv_log_uniform": {"min": 0, "max": 3},
        "inv_log_uniform_values": {"min": 0.01, "max": 1.0},
        "normal": {"mu": 1.0, "sigma": 2.0},
        "q_normal": {"mu": 10.0, "sigma": 3.0, "q": 1},
        "log_normal": {},
        "q_log_normal": {"mu": 2.0, "q": 1},
        "beta": {"a": 2.0, "b": 3.0},
        "q_beta": {"q": 0.1},
    }
    spec = {"distribution": name, **specs[name]}
    if name == "categorical_w_probabilities":
        spec.pop("distribution")
    distribution = leaf(spec)
    assert distribution.name == name
    rng = np.random.default_rng(7)
    for _ in range(200):
        value = distribution.sample(rng)
        assert distribution.from_unit(distribution.to_unit(value)) == pytest.approx(value)
        assert 0.0 <= distribution.to_unit(value) <= 1.0


def test_categorical_to_unit_refuses_a_value_outside_the_list() -> None:
    with pytest.raises(ValueError, match="not a permitted value"):
        leaf({"values": [1, 2]}).to_unit(3)


def test_grid_values_per_spec() -> None:
    # spec §4.2 #2
    assert leaf({"min": 1, "max": 3}).grid_values() == [1, 2, 3]
    q = {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25}
    assert leaf(q).grid_values() == [0, 0.25, 0.5, 0.75]
    assert leaf({"distribution": "q_uniform", "min": 1, "max": 10, "q": 3}).grid_values() == [
        1,
        4,
        7,
    ]
    with pytest.raises(TypeError, match="grid"):
        leaf({"min": 0.0, "max": 1.0}).grid_values()
