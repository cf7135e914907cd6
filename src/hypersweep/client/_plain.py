"""A sweep config as plain JSON values, made before ``sweep()`` sends it to the server.

Scripts build sweep configs with numpy (``{"values": list(np.arange(3))}``), whose scalars
and arrays the HTTP client cannot serialise, and its error names neither the key nor the fix.
Here numpy scalars become Python numbers and arrays lists (nested lists for more dimensions);
any other value JSON has no form for is a ``ConfigError`` naming its key path and type, all
such values at once.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from hypersweep.errors import ConfigError, ConfigIssue

__all__ = ["plain_config"]


def plain_config(config: Mapping[str, Any], source: str = "sweep config") -> dict[str, Any]:
    """``config`` with numpy values made plain Python values.

    Example:
        >>> import numpy as np
        >>> plain_config({"parameters": {"x": {"values": list(np.arange(3))}}})
        {'parameters': {'x': {'values': [0, 1, 2]}}}

    Raises:
        ConfigError: a value is neither JSON nor numpy (a set, a date, a tensor, ...); each
            issue names the key path, e.g. ``parameters.x.values[1]``, and the value's type.
    """
    issues: list[ConfigIssue] = []
    plain = {key: _plain(value, str(key), issues) for key, value in config.items()}
    if issues:
        raise ConfigError(issues, source)
    return plain


def _plain(value: Any, path: str, issues: list[ConfigIssue]) -> Any:
    if _is_numpy(value):
        # .tolist() of a numpy scalar is the Python scalar; of an array, (nested) lists of them
        return _plain(value.tolist(), path, issues)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {key: _plain(item, f"{path}.{key}", issues) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{path}[{index}]", issues) for index, item in enumerate(value)]
    issues.append(
        ConfigIssue(
            path,
            f"{value!r:.60} (a {_type_name(value)}) cannot be sent to the server; pass a number, "
            "string, bool, None, list or dict instead (a list for a set, str(value) for a "
            "date, value.item() or value.tolist() for a tensor)",
        )
    )
    return None


def _type_name(value: Any) -> str:
    kind = type(value)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    return f"{module}{kind.__qualname__}"


def _is_numpy(value: Any) -> bool:
    # numpy is only looked up: a config without numpy values must not pay for importing it
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, (numpy.generic, numpy.ndarray))
