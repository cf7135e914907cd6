"""The unit-cube encoding of the model-based searchers (spec §4.4.1, §14 Q3)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from hypersweep.config import SweepConfig, parse_config, value_key
from hypersweep.search._encoding import Encoder

SPECS: dict[str, dict[str, Any]] = {
    "uniform": {"distribution": "uniform", "min": -2.0, "max": 3.0},
    "q_uniform": {"distribution": "q_uniform", "min": 1, "max": 10, "q": 3},
    "int_uniform": {"distribution": "int_uniform", "min": -3, "max": 4},
    "log_uniform": {"distribution": "log_uniform", "min": -5.0, "max": 0.0},
    "log_uniform_values": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1.0},
    "q_log_uniform": {"distribution": "q_log_uniform", "min": 0.0, "max": 3.0, "q": 1},
    "q_log_uniform_values": {
        "distribution": "q_log_uniform_values",
        "min": 16,
        "max": 256,
        "q": 8,
    },
    "inv_log_uniform": {"distribution": "inv_log_uniform", "min": 0.0, "max": 4.0},
    "inv_log_uniform_values": {"distribution": "inv_log_uniform_values", "min": 0.1, "max": 9.0},
    "normal": {"distribution": "normal", "mu": 1.0, "sigma": 2.0},
    "q_normal": {"distribution": "q_normal", "mu": 0.0, "sigma": 3.0, "q": 0.5},
    "log_normal": {"distribution": "log_normal", "mu": 0.0, "sigma": 1.0},
    "q_log_normal": {"distribution": "q_log_normal", "mu": 1.0, "sigma": 0.5, "q": 1},
    "beta": {"distribution": "beta", "a": 2.0, "b": 5.0},
    "q_beta": {"distribution": "q_beta", "a": 2.0, "b": 2.0, "q": 0.1},
    "categorical": {"values": [True, False, None, 0, "", [], {"a": 1}]},
    "categorical_w_probabilities": {"values": ["a", "b", "c"], "probabilities": [0.2, 0.5, 0.3]},
}


def config_of(parameters: dict[str, Any]) -> SweepConfig:
    config, issues = parse_config(
        {"method": "bayes", "metric": {"name": "loss"}, "parameters": parameters}
    )
    assert config is not None, [str(i) for i in issues]
    return config


@pytest.mark.parametrize("name", list(SPECS))
def test_round_trip_through_features(name: str) -> None:
    """decode(encode(v)) == v, and the batch encoding equals to_unit value by value."""
    config = config_of({"p": SPECS[name]})
    encoder = Encoder(config.space)
    d: Any = config.space.parameters[0].distribution
    rng = np.random.default_rng(0)
    values = [d.sample(rng) for _ in range(200)]
    x, ok = encoder.encode([{"p": v} for v in values])
    assert ok.all()
    for value, row in zip(values, x, strict=True):
        (decoded,) = encoder.decode(row)
        if encoder.leaves[0].discrete:
            assert value_key(decoded) == value_key(value)
            assert type(decoded) is type(value)
        else:
            assert math.isclose(decoded, value, rel_tol=1e-6, abs_tol=1e-9)
        if not encoder.leaves[0].categorical:
            assert row[0] == pytest.approx(d.to_unit(value), abs=1e-12)
        np.testing.assert_allclose(encoder.encode_values([value]), row, atol=1e-12)


@pytest.mark.parametrize("name", list(SPECS))
def test_snap_is_idempotent_and_decodes_to_valid_values(name: str) -> None:
    config = config_of({"p": SPECS[name]})
    encoder = Encoder(config.space)
    d: Any = config.space.parameters[0].distribution
    raw = encoder.features(np.random.default_rng(1).random((64, 1)))
    snapped = encoder.snap(raw)
    np.testing.assert_allclose(encoder.snap(snapped), snapped, atol=1e-12)
    for row in snapped:
        (value,) = encoder.decode(row)
        np.testing.assert_allclose(encoder.encode_values([value]), row, atol=1e-9)
        d.to_unit(value)  # in the support


def test_falsy_values_are_distinct_categories() -> None:
    """W&B encodes every falsy value as index 0 (spec §14 Q3); each gets its own column here."""
    encoder = Encoder(config_of({"p": SPECS["categorical"]}).space)
    values = [True, False, None, 0, "", [], {"a": 1}]
    x, ok = encoder.encode([{"p": v} for v in values])
    assert ok.all()
    np.testing.assert_array_equal(x, np.eye(len(values)))


def test_an_integral_float_is_its_int_but_a_bool_is_not() -> None:
    encoder = Encoder(config_of({"p": {"values": [1, 2, True]}}).space)
    x, ok = encoder.encode([{"p": 2.0}, {"p": True}, {"p": 1}])
    assert ok.all()
    assert [int(np.argmax(row)) for row in x] == [1, 2, 0]


def test_one_hot_and_numeric_columns_of_a_mixed_space() -> None:
    config = config_of(
        {
            "opt": {"parameters": {"name": {"values": ["adam", "sgd"]}, "fixed": {"value": 1}}},
            "lr": SPECS["log_uniform_values"],
            "layers": SPECS["int_uniform"],
        }
    )
    encoder = Encoder(config.space)
    assert encoder.n_features == 4  # layers, lr, opt.name (2 columns); constants left out
    assert list(encoder.numeric_columns) == [0, 1]
    (x,), ok = encoder.encode([{"layers": 0, "lr": 1e-3, "opt": {"name": "sgd", "fixed": 1}}])
    assert ok.all()
    np.testing.assert_allclose(x, [3.5 / 8, 0.4, 0.0, 1.0])
    assert encoder.params(encoder.decode(x)) == {
        "layers": 0,
        "lr": pytest.approx(1e-3),
        "opt": {"fixed": 1, "name": "sgd"},
    }


def test_a_missing_leaf_is_encoded_as_the_value_zero() -> None:
    """spec §4.4.1: a run without the parameter counts as value 0 (index 0 for categoricals)."""
    config = config_of({"x": SPECS["uniform"], "c": {"values": ["a", "b"]}})
    encoder = Encoder(config.space)
    x, ok = encoder.encode([{}])
    assert ok.all()
    np.testing.assert_allclose(x[0], [1.0, 0.0, 0.4])


def test_values_outside_the_space_mark_the_row_unencodable() -> None:
    config = config_of({"x": SPECS["uniform"], "c": {"values": ["a", "b"]}})
    encoder = Encoder(config.space)
    rows = [
        {"x": 0.0, "c": "z"},
        {"x": "1", "c": "a"},
        {"x": math.nan, "c": "a"},
        {"x": True, "c": "a"},
        {"x": 99.0, "c": "a"},  # out of range numbers clip to the edge, as to_unit does
    ]
    _, ok = encoder.encode(rows)
    assert ok.tolist() == [False, False, False, False, True]


def test_supports_enumerate_small_discrete_spaces_only() -> None:
    small = Encoder(
        config_of(
            {"a": {"values": [1, 2]}, "b": SPECS["int_uniform"], "q": SPECS["q_uniform"]}
        ).space
    )
    supports = small.supports()
    assert supports is not None
    assert supports[0] == [1, 2] and supports[1] == list(range(-3, 5))
    assert sorted(supports[2]) == [0, 3, 6, 9]  # multiples of q anchored at 0 (spec §14 Q1)
    assert Encoder(config_of({"x": SPECS["uniform"]}).space).supports() is None
    big = config_of({"a": {"min": 0, "max": 100}, "b": {"min": 0, "max": 100}})
    assert Encoder(big.space).supports() is None
