"""What the controller tells an agent on a heartbeat (spec §7.1): plain values, no HTTP.

The server turns them into ``protocol`` models; the local controller can act on them directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AssignRun", "Command", "Exit", "StopRun"]


@dataclass(frozen=True)
class AssignRun:
    """Start run ``run_id`` of ``sweep_id`` with ``params`` (plain nested values)."""

    run_id: str
    sweep_id: str
    project: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StopRun:
    """Stop the alive run ``run_id`` (spec §7.7); repeated on every heartbeat until it is gone."""

    run_id: str
    reason: str


@dataclass(frozen=True)
class Exit:
    """Nothing more to do: exit once idle; ``kill`` (a cancel) means SIGKILL the runs first."""

    reason: str
    kill: bool = False


Command = AssignRun | StopRun | Exit
