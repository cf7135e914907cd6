"""``run.config``: the run's hyperparameters, with the sweep's values locked (spec §7.3).

A W&B script reads its parameters as ``wandb.config.lr`` or ``run.config["lr"]`` and may keep
calling ``config.update(...)`` with its own defaults after ``init()``; under a sweep those updates
must not overwrite what the sweep chose, so the sweep's keys are locked and an update to one is
ignored with W&B's warning. Nested values are plain dicts, as the program wrote them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "CONFIG_DEFAULTS",
    "Config",
    "as_mapping",
    "deep_merge",
    "load_config_defaults",
    "load_config_file",
    "load_param_file",
    "warn",
    "warn_once",
]

SWEEP = "sweep"


def warn(message: str) -> None:
    """A warning for the person at the terminal (W&B prints them to stderr, not ``warnings``)."""
    print(f"hypersweep: WARNING {message}", file=sys.stderr)


_warned: set[str] = set()


def warn_once(kind: str, message: str) -> None:
    """``warn(message)`` the first time ``kind`` comes up in this process: a script that logs
    an image every step should hear once that images are not stored, not a thousand times."""
    if kind in _warned:
        return
    _warned.add(kind)
    warn(message)


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``: dicts recursively, anything else replaced.

    This is what wandb's client does with a sweep's nested values over ``init(config=...)``
    defaults (spec §14 Q13): the sweep's keys win, the default dict's other keys survive.

    Example:
        >>> deep_merge({"opt": {"name": "sgd", "momentum": 0.9}}, {"opt": {"name": "adam"}})
        {'opt': {'name': 'adam', 'momentum': 0.9}}
    """
    merged = dict(base)
    for key, value in over.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = value
    return merged


def as_mapping(value: Any, what: str) -> Mapping[str, Any]:
    """A dict, an ``argparse.Namespace`` (or any object with attributes), or None as a mapping."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    if callable(getattr(value, "keys", None)) and hasattr(value, "__getitem__"):
        keys = value.keys()  # a Config, or another mapping-like object
        return {key: value[key] for key in keys}
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    raise TypeError(
        f"{what}: expected a dict or an argparse.Namespace, got {type(value).__name__}; "
        "pass e.g. config={'lr': 0.1}"
    )


#: The hypersweep agent also puts a run's parameters here as JSON, for the file named by
#: ``PARAMS_JSON_FOR``: reading them costs no ``import yaml`` (~20-50 ms of a run's start).
PARAMS_JSON = "HYPERSWEEP_SWEEP_PARAMS"
PARAMS_JSON_FOR = "HYPERSWEEP_SWEEP_PARAMS_FOR"


def load_param_file(path: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The sweep parameters in ``WANDB_SWEEP_PARAM_PATH``, with the ``value`` wrappers stripped.

    The file is W&B's run-config format (spec §7.2): ``wandb_version: 1`` and then one
    ``name: {value: V}`` per top-level parameter. When ``env`` holds the same parameters as
    JSON for this very file (set by the hypersweep agent), those are used instead.

    Raises:
        ConfigError: the file is missing, not YAML, or not in that format.
    """
    from hypersweep.errors import ConfigError, ConfigIssue

    def bad(message: str) -> ConfigError:
        return ConfigError([ConfigIssue("", message)], source=f"WANDB_SWEEP_PARAM_PATH={path}")

    if env is not None and env.get(PARAMS_JSON_FOR) == path and PARAMS_JSON in env:
        import json

        try:
            from_env = json.loads(env[PARAMS_JSON])
        except ValueError:
            from_env = None
        if isinstance(from_env, dict):
            return from_env

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise bad(
            f"cannot read the sweep parameter file ({exc.strerror or exc}); it is written by "
            "the agent: unset WANDB_SWEEP_PARAM_PATH when you run the script by hand"
        ) from None
    import yaml  # here, not at the top: `import hypersweep` stays light

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise bad(f"not valid YAML ({exc})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise bad(f"expected a mapping of parameter names, got {type(data).__name__}")
    params: dict[str, Any] = {}
    for key, wrapped in data.items():
        if key in ("wandb_version", "_wandb"):
            continue
        if not isinstance(wrapped, dict) or "value" not in wrapped:
            raise bad(f"parameter {key!r}: expected {{value: ...}}, got {wrapped!r}")
        params[str(key)] = wrapped["value"]
    return params


#: The file ``init()`` reads defaults from when the working directory has one, as wandb.init does
CONFIG_DEFAULTS = "config-defaults.yaml"
_NOT_CONFIG = ("wandb_version", "_wandb")  # W&B's bookkeeping keys in its config files


def load_config_defaults(directory: Path) -> dict[str, Any]:
    """The values of ``config-defaults.yaml`` in ``directory``, or {} when it has none.

    W&B reads this file at every ``wandb.init()``; its values are the lowest defaults: those
    passed to ``init(config=...)`` and the sweep's parameters win over them.

    Raises:
        ConfigError: the file is malformed (see ``load_config_file``).
    """
    path = directory / CONFIG_DEFAULTS
    if not path.is_file():
        return {}
    source = f"{path} (init() reads it as wandb.init does; rename it if it is not meant for that)"
    return load_config_file(path, source)


def load_config_file(path: Path, source: str) -> dict[str, Any]:
    """The values of a YAML config file: plain ``key: value``, or W&B's
    ``key: {desc: ..., value: V}``; ``wandb_version`` and ``_wandb`` are left out.

    Args:
        path: the file.
        source: how error messages name the file.

    Raises:
        ConfigError: the file cannot be read, is not YAML, is not a mapping, or has keys whose
            ``{desc: ...}`` lacks the ``value``; every such key at once.
    """
    from hypersweep.errors import ConfigError, ConfigIssue

    def bad(why: str) -> ConfigError:
        fix = "fix it: one `key: value` or `key: {desc: ..., value: V}` per key"
        return ConfigError([ConfigIssue("", f"{why}; {fix}")], source)

    import yaml  # here, not at the top: `import hypersweep` stays light

    try:
        with path.open(encoding="utf-8") as handle:  # a YAML error then names the file
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise bad(f"cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise bad(f"not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise bad(f"expected a mapping of keys to values, got {type(data).__name__}")
    values: dict[str, Any] = {}
    issues: list[ConfigIssue] = []
    for key, value in data.items():
        if key in _NOT_CONFIG:
            continue
        wrapped = isinstance(value, dict) and bool(value) and set(value) <= {"value", "desc"}
        if wrapped and "value" not in value:
            why = f"{value!r} has a desc but no value; write {key}: {{desc: ..., value: V}}"
            issues.append(ConfigIssue(str(key), why))
        values[str(key)] = value["value"] if wrapped and "value" in value else value
    if issues:
        raise ConfigError(issues, source)
    return values


class Config:
    """The run's config: attribute and item access over a plain dict, with locked keys.

    Example:
        >>> config = Config()
        >>> config.update({"lr": 0.1, "opt": {"name": "sgd"}})
        >>> config.lr, config["opt"]["name"], "lr" in config
        (0.1, 'sgd', True)
    """

    _items: dict[str, Any]
    _locked: dict[str, str]

    def __init__(self) -> None:
        object.__setattr__(self, "_items", {})
        object.__setattr__(self, "_locked", {})

    # -- reading -------------------------------------------------------------------------------

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):  # not a config key (refused by _set); copy and pickle ask these
            raise AttributeError(key)
        try:
            return self._items[key]
        except KeyError:
            raise AttributeError(
                f"config has no key {key!r}; set it with init(config={{{key!r}: ...}}) or "
                f"config.update(...), or read it with config.get({key!r}, default)"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[str]:
        return list(self._items)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._items.items())

    def values(self) -> list[Any]:
        return list(self._items.values())

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def as_dict(self) -> dict[str, Any]:
        """A copy of the config as a plain dict (nested dicts shared, as in wandb)."""
        return dict(self._items)

    def __repr__(self) -> str:
        return f"Config({self._items!r})"

    # -- writing -------------------------------------------------------------------------------

    def __setattr__(self, key: str, value: Any) -> None:
        self._set(key, value)

    def __setitem__(self, key: str, value: Any) -> None:
        self._set(key, value)

    def __delattr__(self, key: str) -> None:
        if not self._locked_warn(key):
            self._items.pop(key, None)

    def __delitem__(self, key: str) -> None:
        if not self._locked_warn(key):
            del self._items[key]

    def update(self, values: Any = None, allow_val_change: bool | None = None) -> None:
        """Set every key of ``values`` (a dict or an ``argparse.Namespace``), skipping locked ones.

        ``allow_val_change`` is accepted for wandb compatibility; hypersweep always allows it.
        """
        for key, value in as_mapping(values, "config.update").items():
            self._set(str(key), value)

    def setdefaults(self, values: Any) -> None:
        """Set the keys of ``values`` that the config does not have yet."""
        for key, value in as_mapping(values, "config.setdefaults").items():
            if key not in self._items:
                self._set(str(key), value)

    def _set(self, key: str, value: Any) -> None:
        if key.startswith("_"):
            raise AttributeError(f"config keys may not start with '_' ({key!r}); rename the key")
        if not self._locked_warn(key):
            self._items[key] = value

    def _locked_warn(self, key: str) -> bool:
        user = self._locked.get(key)
        if user is None:
            return False
        # wandb's exact sentence (wandb_config.py), so logs grep the same under either tool
        warn(f"Config item '{key}' was locked by '{user}' (ignored update).")
        return True

    def _lock_sweep(self, params: Mapping[str, Any]) -> None:
        """Deep-merge the sweep's ``params`` over the current values and lock their keys."""
        merged = deep_merge(self._items, params)
        self._items.clear()
        self._items.update(merged)
        for key in params:
            self._locked[key] = SWEEP
