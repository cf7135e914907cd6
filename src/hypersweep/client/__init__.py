"""What training code and tools use to talk to a hypersweep server (no FastAPI, no SQLAlchemy).

Names load lazily: ``hypersweep.init()`` needs ``Run`` but not httpx, whose import (~130 ms)
happens in the run's sender thread instead, or when ``ApiClient`` is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hypersweep.client._controller import LocalController, controller
    from hypersweep.client._env import DEFAULT_SERVER, server_url
    from hypersweep.client._http import ApiClient, split_sweep_path
    from hypersweep.client._init import (
        current_run,
        finish,
        init,
        log,
        request_stop,
        set_inprocess_agent,
        take_exit_code,
    )
    from hypersweep.client._run import Run
    from hypersweep.client._sweep import sweep

__all__ = [
    "DEFAULT_SERVER",
    "ApiClient",
    "LocalController",
    "Run",
    "controller",
    "current_run",
    "finish",
    "init",
    "log",
    "request_stop",
    "server_url",
    "set_inprocess_agent",
    "split_sweep_path",
    "sweep",
    "take_exit_code",
]

_WHERE = {
    "DEFAULT_SERVER": "_env",
    "server_url": "_env",
    "ApiClient": "_http",
    "split_sweep_path": "_http",
    "LocalController": "_controller",
    "controller": "_controller",
    "Run": "_run",
    "current_run": "_init",
    "finish": "_init",
    "init": "_init",
    "log": "_init",
    "request_stop": "_init",
    "set_inprocess_agent": "_init",
    "sweep": "_sweep",
    "take_exit_code": "_init",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'hypersweep.client' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hypersweep.client.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
