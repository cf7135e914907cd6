"""How the local controller (``client/_controller.py``) takes what the user's functions give:
``configure_search`` / ``configure_stopping`` arguments, and their answers turned into plain
suggestions and stop orders, with a sentence naming the function when an answer does not fit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hypersweep import engine
from hypersweep.client._plain import plain_config
from hypersweep.errors import HypersweepError

__all__ = ["custom", "function_name", "stop_orders", "suggestion"]


def custom(call: str, given: Any, configured: str | None, key: str) -> Any:
    """The function ``configure_search`` / ``configure_stopping`` got; None for the name of
    what the config already says (back to the engine)."""
    if isinstance(given, str):
        if given == configured:
            return None
        raise HypersweepError(
            f"{call}({given!r}): the sweep's {key} is {configured!r}, fixed when it was created; "
            f"pass a function fn(sweep_config, runs), or create a sweep with that {key}"
        )
    if not callable(given):
        raise HypersweepError(
            f"{call}({given!r}): expected a function fn(sweep_config, runs), got "
            f"{type(given).__name__}"
        )
    return given


def function_name(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", None) or repr(function)


def suggestion(answer: Any, name: str) -> engine.Suggestion | None:
    """A search function's answer as a suggestion of plain parameters; None: no more runs."""
    if answer is None:
        return None
    if isinstance(answer, engine.Suggestion):
        params, info = dict(answer.params), dict(answer.info)
    elif isinstance(answer, Mapping):
        params, info = dict(answer), {}
    elif isinstance(getattr(answer, "config", None), Mapping):
        # sweeps.SweepRun: W&B's value-wrapped run config (spec §1.3)
        params, info = {}, {}
        for key, wrapped in answer.config.items():
            if not (isinstance(wrapped, Mapping) and "value" in wrapped):
                raise HypersweepError(
                    f"the search function {name} returned a run whose config[{key!r}] is "
                    f"{wrapped!r}; W&B's run config wraps each value as {{'value': v}}"
                )
            params[str(key)] = wrapped["value"]
    else:
        raise HypersweepError(
            f"the search function {name} returned {answer!r} ({type(answer).__name__}); return "
            "a dict of parameters, an engine.Suggestion, an object with a W&B-style .config, "
            "or None when the search is over"
        )
    return engine.Suggestion(plain_config(params, f"parameters from {name}"), info)


def stop_orders(answer: Any, name: str) -> list[engine.StopOrder]:
    """A stopping function's answer as stop orders, each with a reason naming the function."""
    if answer is None:
        return []
    items: Iterable[Any] = [answer] if isinstance(answer, str) else answer
    if not isinstance(items, Iterable):
        raise HypersweepError(
            f"the stopping function {name} returned {answer!r}; return a list of run ids, or "
            "of runs with .id or .name"
        )
    orders = []
    for item in items:
        if isinstance(item, engine.StopOrder):
            orders.append(item)
            continue
        run_id = item if isinstance(item, str) else getattr(item, "id", getattr(item, "name", None))
        if not isinstance(run_id, str):
            raise HypersweepError(
                f"the stopping function {name} returned {item!r} among the runs to stop; "
                "return run ids, or runs with .id or .name (such as the runs it was given)"
            )
        orders.append(engine.StopOrder(run_id, f"stopped by the local controller's {name}"))
    return orders
