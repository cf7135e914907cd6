"""engine.stored_config: what the server stores is the config plus W&B's filled defaults."""

from __future__ import annotations

from typing import Any

import pytest

from hypersweep import engine
from hypersweep.errors import ConfigError


def _config(early: dict[str, Any]) -> dict[str, Any]:
    return {
        "method": "random",
        "metric": {"name": "loss"},
        "parameters": {"lr": {"min": 0.1, "max": 1.0}, "opt": {"values": ["adam", "sgd"]}},
        "early_terminate": early,
    }


@pytest.mark.parametrize(
    ("early", "expected"),
    [
        (
            {"type": "hyperband", "min_iter": 3},
            {"type": "hyperband", "min_iter": 3, "eta": 3, "strict": True},
        ),
        (
            {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 2, "strict": False},
            {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 2, "strict": False},
        ),
        ({"type": "asha", "min_iter": 1}, {"type": "asha", "min_iter": 1, "eta": 3}),
        ({"type": "median"}, {"type": "median", "min_iter": 1, "min_runs": 3}),
    ],
)
def test_early_terminate_defaults_are_filled_and_given_values_kept(
    early: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert engine.stored_config(_config(early))["early_terminate"] == expected


def test_parameters_get_their_distribution_and_goal_is_left_as_written() -> None:
    stored = engine.stored_config(_config({"type": "asha", "min_iter": 1}))
    assert stored["parameters"]["lr"]["distribution"] == "uniform"
    assert stored["parameters"]["opt"]["distribution"] == "categorical"
    assert stored["metric"] == {"name": "loss"}


def test_the_callers_config_is_not_changed() -> None:
    config = _config({"type": "hyperband", "min_iter": 3})
    engine.stored_config(config)
    assert config["early_terminate"] == {"type": "hyperband", "min_iter": 3}


def test_an_invalid_config_raises_with_every_issue() -> None:
    with pytest.raises(ConfigError, match="early_terminate"):
        engine.stored_config(_config({"type": "hyperband"}))
