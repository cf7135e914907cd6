"""How ``log()`` turns the dict it is given into the values of a history row.

Nested dicts become dotted keys, as W&B stores them: ``log({"val": {"score": 0.9}})`` logs
``val.score``. So a sweep whose ``metric.name`` is ``val.score`` finds the value in the history
and the summary whichever way the script logged it, as it does for unmodified ``import wandb``
scripts, whose keys come from wandb already dotted (``agent/_wandb_bridge.py``). Lists stay
whole, and so does a dict with a ``_type`` key (a medium in its stored form), which wandb's own
summary handler does not descend into either. Media are then replaced by their stored form or
left out (``_media.loggable``) and numpy values made plain (``_outbox.jsonable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypersweep.client._media import DROPPED, loggable
from hypersweep.client._outbox import jsonable

__all__ = ["flatten", "row_values"]


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``data`` with nested dicts spread into dotted keys; an empty dict stays a value.

    Example:
        >>> flatten({"val": {"score": 0.9, "loss": {"ce": 1.2}}, "hist": [1, {"a": 2}]})
        {'val.score': 0.9, 'val.loss.ce': 1.2, 'hist': [1, {'a': 2}]}
    """
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and "_type" not in value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def row_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The keys and JSON values ``log(data)`` adds to the current row."""
    values: dict[str, Any] = {}
    for key, value in flatten(data).items():
        stored = loggable(value)
        if stored is not DROPPED:  # media that are not stored (warned once per kind)
            values[key] = jsonable(stored)
    return values
