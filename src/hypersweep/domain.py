"""Plain frozen records shared by every layer: run states and the run as the engine sees it."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAILED_STATES", "IN_FLIGHT_STATES", "TERMINAL_STATES", "Run", "RunState"]


class RunState(str, enum.Enum):
    """The states of a run (spec §4.1, §8.2).

    pending     scheduled by the controller, not started by an agent yet
    running     the program is executing and may log
    finished    exited with code 0
    failed      exited with a non-zero code
    crashed     lost: the agent stopped heartbeating, or the process died without reporting
    killed      stopped on purpose (user, early termination, Ctrl-C)
    preempting  the run announced it is being preempted and is still alive
    preempted   ended after announcing preemption; will be re-queued
    """

    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CRASHED = "crashed"
    KILLED = "killed"
    PREEMPTING = "preempting"
    PREEMPTED = "preempted"


TERMINAL_STATES = frozenset({RunState.FINISHED, RunState.FAILED, RunState.CRASHED, RunState.KILLED})
FAILED_STATES = frozenset({RunState.FAILED, RunState.CRASHED, RunState.KILLED})
IN_FLIGHT_STATES = frozenset({RunState.PENDING, RunState.PREEMPTING, RunState.PREEMPTED})


@dataclass(frozen=True)
class Run:
    """A run of a sweep as the search and stopping logic see it.

    Args:
        name: the run's id or name, unique within the sweep.
        state: a ``RunState`` or its value (``"finished"``).
        params: the parameters as the program sees them: plain nested values, not wrapped in
            ``{"value": ...}`` (a nested parameter block is a nested dict).
        history: the logged rows in order, each a mapping of metric name to value.
        summary: the run's summary (last or explicitly set values).

    Example:
        >>> Run("r1", "finished", {"lr": 0.01}, history=[{"loss": 0.5}]).state
        <RunState.FINISHED: 'finished'>
    """

    name: str
    state: RunState
    params: Mapping[str, Any]
    history: Sequence[Mapping[str, Any]] = ()
    summary: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.state, RunState):
            try:
                object.__setattr__(self, "state", RunState(self.state))
            except ValueError:
                allowed = ", ".join(s.value for s in RunState)
                raise ValueError(
                    f"Run {self.name!r}: state {self.state!r} is not a run state; "
                    f"use one of {allowed}"
                ) from None
