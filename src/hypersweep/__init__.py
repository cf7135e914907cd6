"""hypersweep: self-hosted hyperparameter sweeps that speak W&B's sweep YAML.

Training code uses it like wandb (``import hypersweep as wandb`` works)::

    import hypersweep

    run = hypersweep.init(config={"lr": 0.01, "epochs": 10})
    for epoch in range(hypersweep.config.epochs):
        hypersweep.log({"loss": 1.0 / (epoch + 1)})
    hypersweep.finish()

W&B's other calls are here too (``define_metric``, ``login``, media such as ``Histogram`` and
``Table``, ``watch``, artifacts, ``Settings``, ``termlog``, ``Error``; see docs/wandb-compat.md),
and ``hypersweep.Api()`` reads sweeps and runs back for analysis like ``wandb.Api()``;
``hypersweep.controller(sweep)`` runs a sweep's search in this process like ``wandb.controller``.

Everything but the errors loads on first use, so ``import hypersweep`` stays light (no numpy,
httpx, pydantic, FastAPI or SQLAlchemy). ``config``, ``summary`` and ``run`` are those of the
current run, looked up on each access; the engine is at ``hypersweep.engine``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from hypersweep.errors import (
    AuthError,
    ConfigError,
    ConfigIssue,
    ConflictError,
    HypersweepError,
    NotFoundError,
    RunStopped,
    ServerUnavailable,
    StoreError,
)

if TYPE_CHECKING:
    from hypersweep.client._compat import (
        AlertLevel,
        Artifact,
        Settings,
        alert,
        log_artifact,
        login,
        mark_preempting,
        save,
        unwatch,
        use_artifact,
        watch,
    )
    from hypersweep.client._config import Config
    from hypersweep.client._controller import controller
    from hypersweep.client._init import define_metric, finish, init, log
    from hypersweep.client._media import Audio, Histogram, Html, Image, Object3D, Table, Video, plot
    from hypersweep.client._outbox import Summary
    from hypersweep.client._public_api import Api
    from hypersweep.client._run import Run
    from hypersweep.client._sweep import sweep
    from hypersweep.client._term import termerror, termlog, termwarn

    config: Config
    summary: Summary
    run: Run | None

__version__ = "0.1.0"

#: ``wandb.Error``, so that ``except wandb.Error`` catches what hypersweep raises
Error = HypersweepError

__all__ = [
    "AlertLevel",
    "Api",
    "Artifact",
    "Audio",
    "AuthError",
    "ConfigError",
    "ConfigIssue",
    "ConflictError",
    "Error",
    "Histogram",
    "Html",
    "HypersweepError",
    "Image",
    "NotFoundError",
    "Object3D",
    "Run",
    "RunStopped",
    "ServerUnavailable",
    "Settings",
    "StoreError",
    "Table",
    "Video",
    "__version__",
    "agent",
    "alert",
    "config",
    "controller",
    "define_metric",
    "finish",
    "init",
    "log",
    "log_artifact",
    "login",
    "mark_preempting",
    "plot",
    "run",
    "save",
    "summary",
    "sweep",
    "termerror",
    "termlog",
    "termwarn",
    "unwatch",
    "use_artifact",
    "watch",
]

# name -> module that defines it, imported on first access
_LAZY = {
    "init": "hypersweep.client._init",
    "log": "hypersweep.client._init",
    "finish": "hypersweep.client._init",
    "Run": "hypersweep.client._run",
    "sweep": "hypersweep.client._sweep",
    "define_metric": "hypersweep.client._init",
    "Api": "hypersweep.client._public_api",
    **dict.fromkeys(
        ("Audio", "Histogram", "Html", "Image", "Object3D", "Table", "Video", "plot"),
        "hypersweep.client._media",
    ),
    **dict.fromkeys(
        (
            "AlertLevel",
            "Artifact",
            "Settings",
            "alert",
            "log_artifact",
            "login",
            "mark_preempting",
            "save",
            "unwatch",
            "use_artifact",
            "watch",
        ),
        "hypersweep.client._compat",
    ),
    **dict.fromkeys(("termerror", "termlog", "termwarn"), "hypersweep.client._term"),
}


class _NoRun:
    """``hypersweep.config`` / ``summary`` before ``init()``: every use says to call it first."""

    _what: str

    def __init__(self, what: str) -> None:
        object.__setattr__(self, "_what", what)

    def _fail(self, *args: object, **kwargs: object) -> Any:
        raise HypersweepError(
            f"You must call hypersweep.init() before using hypersweep.{self._what}"
        )

    __getitem__ = __setattr__ = __setitem__ = __contains__ = __iter__ = _fail

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # introspection (inspect, copy, mock) asks for dunders
            raise AttributeError(name)
        return self._fail()

    def __repr__(self) -> str:
        return f"<hypersweep.{self._what}: call hypersweep.init() first>"


def _of_current_run(name: str) -> Any:
    from hypersweep.client._init import current_run

    current = current_run()
    if name == "run":
        return current
    return getattr(current, name) if current is not None else _NoRun(name)


class _Package(types.ModuleType):
    """The ``hypersweep`` module's class: ``config`` is the current run's, always.

    The sweep-config subpackage is also called ``hypersweep.config``, and importing it makes
    the import system bind it as this module's ``config`` attribute, which would hide
    ``hypersweep.config.lr`` from W&B-style scripts. A property wins over that binding; the
    subpackage stays importable as ``from hypersweep.config import ...`` (through
    ``sys.modules``), which is how hypersweep itself imports it.
    """

    @property
    def config(self) -> Any:
        return _of_current_run("config")

    @config.setter
    def config(self, value: Any) -> None:
        if not isinstance(value, types.ModuleType):
            raise AttributeError(
                "hypersweep.config is the current run's config; change it with "
                "hypersweep.config.update({...}) or set it with hypersweep.init(config={...})"
            )
        self.__dict__["_config_package"] = value  # the subpackage, bound by the import system

    # ``hypersweep.agent`` is W&B's function; the ``hypersweep.agent`` subpackage (the agent's
    # implementation) would otherwise replace it the same way once imported.
    @property
    def agent(self) -> Any:
        from hypersweep.agent._function import agent

        return agent

    @agent.setter
    def agent(self, value: Any) -> None:
        if not isinstance(value, types.ModuleType):
            raise AttributeError("hypersweep.agent is the agent function; call it, do not set it")
        self.__dict__["_agent_package"] = value

    # ``hypersweep.controller`` is W&B's local controller function; the ``hypersweep.controller``
    # subpackage (the server's controller) is bound the same way once imported.
    @property
    def controller(self) -> Any:
        from hypersweep.client._controller import controller

        return controller

    @controller.setter
    def controller(self, value: Any) -> None:
        if not isinstance(value, types.ModuleType):
            raise AttributeError(
                "hypersweep.controller is the local controller function; call it, do not set it"
            )
        self.__dict__["_controller_package"] = value


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    # Not cached in globals() for summary/run: they follow the current run.
    if name in ("summary", "run"):
        return _of_current_run(name)
    module = _LAZY.get(name)
    if module is None:
        # a subpackage not imported yet (``hypersweep.client``, ``hypersweep.engine``)
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
        raise AttributeError(f"module 'hypersweep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
