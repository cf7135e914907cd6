"""sweep(config): numpy values are sent as plain numbers; other non-JSON values are named."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pytest

import hypersweep
from hypersweep.client._plain import plain_config
from hypersweep.errors import ConfigError

NOWHERE = "http://127.0.0.1:9"  # nothing listens: a config error must come before any request


def test_numpy_scalars_and_arrays_become_plain_json() -> None:
    config = {
        "method": "grid",
        "run_cap": np.int64(4),
        "parameters": {
            "x": {"values": list(np.arange(3))},
            "lr": {"min": np.float32(0.5), "max": np.float64(1.5)},
            "grid": {"value": np.ones((2, 2), dtype=np.int32)},
            "flag": {"values": (np.bool_(True), False)},
        },
    }
    plain = plain_config(config)
    assert plain == {
        "method": "grid",
        "run_cap": 4,
        "parameters": {
            "x": {"values": [0, 1, 2]},
            "lr": {"min": 0.5, "max": 1.5},
            "grid": {"value": [[1, 1], [1, 1]]},
            "flag": {"values": [True, False]},
        },
    }
    assert json.loads(json.dumps(plain)) == plain
    assert type(plain["parameters"]["x"]["values"][0]) is int


def test_other_values_are_named_by_key_path_and_type_before_any_request() -> None:
    config = {
        "method": "grid",
        "parameters": {
            "x": {"values": [1, {2, 3}]},
            "day": {"value": datetime.date(2026, 1, 2)},
        },
    }
    with pytest.raises(ConfigError) as caught:
        hypersweep.sweep(config, server=NOWHERE)
    message = str(caught.value)
    assert "sweep config: parameters.x.values[1]: {2, 3} (a set) cannot be sent" in message
    assert "parameters.day.value: datetime.date(2026, 1, 2) (a datetime.date)" in message
    assert "pass a number, string, bool, None, list or dict instead" in message
