"""Creating sweeps, the user's state changes (spec §8.1), and registering agents."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hypersweep import engine
from hypersweep.domain import RunState
from hypersweep.errors import ConfigError, ConfigIssue, ConflictError
from hypersweep.store import AgentRecord, Store, SweepRecord, SweepState

__all__ = ["DEFAULT_PROJECT", "create_sweep", "register_agent", "sweep_action"]

#: W&B's server files a sweep with no project under ``uncategorized`` (spec §2.4).
DEFAULT_PROJECT = "uncategorized"
ACTIONS = ("pause", "resume", "stop", "cancel")
_ACTIVE = frozenset({SweepState.PENDING, SweepState.RUNNING, SweepState.PAUSED})


def create_sweep(
    store: Store,
    config: Mapping[str, Any],
    now: datetime,
    *,
    project: str | None = None,
    name: str | None = None,
    strict: bool = False,
) -> tuple[SweepRecord, list[ConfigIssue]]:
    """Validate ``config`` and store it as a pending sweep, as written plus W&B's defaults.

    The stored config is ``engine.stored_config``: each parameter's inferred distribution and
    the stopping rule's defaults are filled in, so the stored config says exactly what runs.

    The project is ``project``, else the config's ``project`` key, else ``uncategorized``; the
    name is ``name``, else the config's ``name`` key (spec §2.4).

    Returns:
        The sweep and the config's warnings (spec §2.5: they do not stop the sweep).

    Raises:
        ConfigError: the config has errors (or warnings, with ``strict``); it lists every issue.
    """
    issues = engine.validate(dict(config), strict=strict)
    if any(issue.is_error for issue in issues):
        raise ConfigError(issues)
    project = project or _text(config.get("project")) or DEFAULT_PROJECT
    name = name or _text(config.get("name"))
    sweep = store.create_sweep(project, engine.stored_config(dict(config)), now, name=name)
    return sweep, issues


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def sweep_action(store: Store, sweep_id: str, action: str, now: datetime) -> SweepRecord:
    """Apply a user's ``pause``, ``resume``, ``stop`` or ``cancel`` (spec §8.1).

    pause: only from running or paused. stop (-> finished) and cancel (-> canceled): only from
    pending, running or paused. resume (-> running): from any state, finished and canceled
    included. Cancel also kills every pending run and flags every running run stopped, so its
    agent's ``finish`` records it killed; agents receive ``exit`` with ``kill`` on their next
    heartbeat.

    Raises:
        ConflictError: the sweep's state forbids the action (W&B's message, then the fix).
        NotFoundError: no sweep has this id.
    """
    sweep = store.get_sweep(sweep_id)
    state = sweep.state.value
    if action == "pause":
        if sweep.state not in (SweepState.RUNNING, SweepState.PAUSED):
            raise ConflictError(
                f"Cannot pause {state} sweep. Sweep {sweep.id} is {state}; only a running sweep "
                "can be paused" + ("; resume it first" if state != "pending" else "")
            )
        return store.set_sweep_state(sweep.id, SweepState.PAUSED, now)
    if action == "resume":
        return store.set_sweep_state(sweep.id, SweepState.RUNNING, now)
    if action in ("stop", "cancel"):
        if sweep.state not in _ACTIVE:
            raise ConflictError(
                f"Sweep already {state}. Sweep {sweep.id} hands out no runs; resume it first "
                f"if you want to {action} it"
            )
        if action == "stop":
            return store.set_sweep_state(sweep.id, SweepState.FINISHED, now)
        sweep = store.set_sweep_state(sweep.id, SweepState.CANCELED, now)
        _kill_runs(store, sweep.id, now)
        return sweep
    raise ConflictError(f"unknown sweep action {action!r}; use one of {', '.join(ACTIONS)}")


def _kill_runs(store: Store, sweep_id: str, now: datetime) -> None:
    reason = "sweep canceled"
    for run in store.list_runs(sweep_id, states=[RunState.PENDING, RunState.RUNNING]):
        try:
            if run.state is RunState.PENDING:
                store.update_run(run.id, now, state=RunState.KILLED, stop_reason=reason)
            else:
                store.update_run(run.id, now, stopped=True, stop_reason=reason)
        except ConflictError:
            continue  # it ended meanwhile: nothing to kill


def register_agent(
    store: Store, sweep_id: str, host: str, pid: int, now: datetime, slot: str | None = None
) -> AgentRecord:
    """Register an agent of a sweep that still hands out runs.

    ``slot`` says which of its host's agents it is (``gpu 0``, ``slot 2/4``), so the dashboard
    can tell the agents of one ``--gpus`` or ``--parallel`` fleet apart.

    Raises:
        ConflictError: the sweep is finished or canceled (W&B answers ``Sweep X is not running``).
        NotFoundError: no sweep has this id.
    """
    sweep = store.get_sweep(sweep_id)
    if sweep.state not in _ACTIVE:
        raise ConflictError(
            f"Sweep {sweep.id} is not running (it is {sweep.state.value}); resume it first to "
            "start agents on it"
        )
    return store.register_agent(sweep.id, host, pid, now, slot=slot)
