"""The pure, stateless sweep engine: validate a config, suggest the next runs, pick runs to stop.

No I/O, no clock, no global randomness: everything the engine knows is in its arguments, so
the server, the local controller, benchmarks and your own ask/tell loop all get the same answers.

Example, an ask/tell loop with no server::

    >>> from hypersweep import engine
    >>> config = {"method": "grid", "parameters": {"lr": {"values": [0.1, 0.01]}}}
    >>> runs = []
    >>> while suggestions := engine.next_runs(config, runs):
    ...     params = suggestions[0].params
    ...     runs.append(engine.Run(f"run{len(runs)}", "finished", params, [{"loss": params["lr"]}]))
    >>> [run.params for run in runs]
    [{'lr': 0.1}, {'lr': 0.01}]
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from hypersweep.config import (
    ConfigIssue,
    ConfigSource,
    Severity,
    SweepConfig,
    load_source,
    parse_config,
    render_command,
)
from hypersweep.config._issues import did_you_mean
from hypersweep.domain import Run, RunState
from hypersweep.errors import ConfigError
from hypersweep.search import SEARCHERS, Suggestion
from hypersweep.stopping import STOPPING_RULES, StopOrder

__all__ = [
    "Run",
    "RunState",
    "StopOrder",
    "Suggestion",
    "SweepConfig",
    "needs_history",
    "next_runs",
    "parse",
    "render_command",
    "runs_to_stop",
    "stored_config",
    "validate",
]


def validate(config: ConfigSource | SweepConfig, *, strict: bool = False) -> list[ConfigIssue]:
    """Every issue in a sweep config: errors (no sweep) and warnings (spec §2.5).

    Args:
        config: a dict, a zero-argument function returning one, a YAML or JSON file path, or an
            already parsed ``SweepConfig``.
        strict: report warnings as errors.

    Returns:
        All issues found, each with its dotted key path; empty when the config is clean.

    Example:
        >>> [str(i) for i in validate({"method": "grid", "parameters": {"lr": {"min": 0.0,
        ...     "max": 1.0}}})]  # doctest: +NORMALIZE_WHITESPACE
        ['parameters.lr: Parameter lr is a disallowed type with grid search. Grid search
        requires all parameters to be categorical, constant, int_uniform, or q_uniform.
        Specification of probabilities for categorical parameters is disallowed in grid search.
        It is uniform; use values: [...] or method: random']
    """
    return _check(config, strict=strict)[1]


def parse(config: ConfigSource | SweepConfig, *, strict: bool = False) -> SweepConfig:
    """The parsed config, ready for ``next_runs`` and ``runs_to_stop``.

    Raises:
        ConfigError: the config has errors; ``.issues`` lists every one of them.
    """
    parsed, issues = _check(config, strict=strict)
    if parsed is None:
        raise ConfigError([i for i in issues if i.is_error] or issues)
    _PARSED[id(parsed)] = parsed
    return parsed


def stored_config(config: ConfigSource | SweepConfig, *, strict: bool = False) -> dict[str, Any]:
    """The config as a server stores it: as written, with the defaults W&B fills in (spec §2.5).

    Each parameter gets its (inferred) ``distribution`` and that distribution's defaults, and
    ``early_terminate`` its rule's defaults (hyperband: ``eta: 3``, ``strict: true``), so the
    stored config says exactly what ran. ``metric.goal`` is left as written, as W&B does.

    Raises:
        ConfigError: the config has errors.

    Example:
        >>> stored_config({"method": "random", "metric": {"name": "loss"},
        ...     "parameters": {"lr": {"min": 0.1, "max": 1.0}},
        ...     "early_terminate": {"type": "hyperband", "min_iter": 3}})["early_terminate"]
        {'type': 'hyperband', 'min_iter': 3, 'eta': 3, 'strict': True}
    """
    parsed = parse(config, strict=strict)
    stored = parsed.to_dict()
    early = stored.get("early_terminate")
    if isinstance(early, dict):
        for key, value in STOPPING_RULES[early["type"]].defaults.items():
            early.setdefault(key, value)
    return stored


def next_runs(
    config: ConfigSource | SweepConfig,
    runs: Sequence[Run],
    n: int = 1,
    *,
    seed: int | np.random.Generator | None = None,
) -> list[Suggestion]:
    """The parameters of the next ``n`` runs.

    Args:
        config: the sweep config (see ``validate``).
        runs: every run of the sweep so far, in any state, prior runs included.
        n: how many suggestions; later ones treat earlier ones as already taken.
        seed: an int or numpy Generator for reproducible draws. Without one, a config's
            ``seed`` key (hypersweep extension) seeds the draw from the seed and the number of
            runs, so each call of a seeded sweep is reproducible and different from the last.

    Returns:
        Up to ``n`` suggestions; fewer, or none, only when a grid is exhausted.

    Raises:
        ConfigError: the config has errors.

    Example:
        >>> config = {"method": "random", "parameters": {"x": {"min": 0, "max": 9}}}
        >>> next_runs(config, [], n=2, seed=1) == next_runs(config, [], n=2, seed=1)
        True
    """
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    parsed = _parsed(config)
    rng = _rng(parsed, runs, seed)
    return SEARCHERS[parsed.method]().suggest(parsed, runs, n, rng)


def needs_history(config: ConfigSource | SweepConfig) -> bool:
    """Whether ``next_runs`` reads the runs' ``history`` for this config's method (bayes and
    tpe do; grid, random and sobol need only parameters and states).

    Example:
        >>> needs_history({"method": "random", "parameters": {"x": {"min": 0, "max": 1}}})
        False
    """
    return SEARCHERS[_parsed(config).method].reads_history


def runs_to_stop(config: ConfigSource | SweepConfig, runs: Sequence[Run]) -> list[StopOrder]:
    """The running runs that the config's ``early_terminate`` rule stops now.

    Pass ``runs`` in the order they were created (the store's order): ``asha`` judges a run at a
    rung only against the runs created before it, so a run that passed a rung is never stopped
    there later (Li et al. 2020); hyperband and median do not depend on the order.

    Returns:
        One ``StopOrder(run, reason)`` per run to stop; empty without ``early_terminate``.

    Raises:
        ConfigError: the config has errors.
    """
    parsed = _parsed(config)
    if parsed.early_terminate is None:
        return []
    rule = STOPPING_RULES[parsed.early_terminate["type"]]()
    return rule.runs_to_stop(parsed, runs)


# id -> each SweepConfig that ``parse`` returned and that is still alive (a SweepConfig holds
# dicts, so it cannot be a set member)
_PARSED: weakref.WeakValueDictionary[int, SweepConfig] = weakref.WeakValueDictionary()


def _parsed(config: ConfigSource | SweepConfig) -> SweepConfig:
    """``config`` parsed; one that ``parse`` returned is used as it is (parsing it again was a
    tenth of a server's hand-out). Another ``SweepConfig`` is checked: only ``parse`` runs the
    method's and the rule's checks."""
    if isinstance(config, SweepConfig) and _PARSED.get(id(config)) is config:
        return config
    return parse(config)


def _rng(
    config: SweepConfig, runs: Sequence[Run], seed: int | np.random.Generator | None
) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None:
        return np.random.default_rng(seed)
    if config.seed is not None:
        return np.random.default_rng([config.seed, len(runs)])
    return np.random.default_rng()


def _check(
    config: ConfigSource | SweepConfig, *, strict: bool
) -> tuple[SweepConfig | None, list[ConfigIssue]]:
    if isinstance(config, SweepConfig):
        raw: Any = config.raw
    else:
        raw, load_issues = load_source(config)
        if load_issues:
            return None, load_issues
    parsed, issues = parse_config(raw, strict=strict)
    method = raw.get("method") if isinstance(raw, dict) else None
    extra: list[ConfigIssue] = []
    if isinstance(method, str) and method != "custom" and method not in SEARCHERS:
        extra.append(
            ConfigIssue(
                "method",
                f"{method!r} is not one of {sorted(SEARCHERS)}" + did_you_mean(method, SEARCHERS),
            )
        )
    early = raw.get("early_terminate") if isinstance(raw, dict) else None
    kind = early.get("type") if isinstance(early, dict) else None
    if isinstance(kind, str) and kind not in STOPPING_RULES:
        extra.append(
            ConfigIssue(
                "early_terminate.type",
                f"{kind!r} is not one of {sorted(STOPPING_RULES)}"
                + did_you_mean(kind, STOPPING_RULES),
            )
        )
    if parsed is not None and not extra:
        extra.extend(SEARCHERS[parsed.method]().validate(parsed))
        if parsed.early_terminate is not None:
            extra.extend(STOPPING_RULES[parsed.early_terminate["type"]]().validate(parsed))
    strict = strict or (parsed is not None and parsed.controller == "local")
    if strict:
        extra = [ConfigIssue(i.path, i.message, Severity.ERROR) for i in extra]
    issues = issues + extra
    if any(issue.is_error for issue in issues):
        return None, issues
    return parsed, issues
