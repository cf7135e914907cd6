"""The immutable snapshots the store returns, and the state machines of sweeps, runs and agents.

Every record is a frozen dataclass; its dict fields are private copies, so changing one changes
neither the store nor any other record. Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import copy
import enum
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hypersweep.domain import TERMINAL_STATES, RunState

__all__ = [
    "AgentRecord",
    "AgentState",
    "HistoryRow",
    "KeyKind",
    "KeyRecord",
    "KeyRole",
    "ProjectRecord",
    "RunRecord",
    "SweepRecord",
    "SweepState",
    "new_id",
    "utc",
]

_ALPHABET = string.ascii_lowercase + string.digits


def new_id() -> str:
    """Return a fresh id of 8 lowercase letters and digits, like W&B's sweep and run ids."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def utc(moment: datetime) -> datetime:
    """Return ``moment`` as an aware UTC datetime; a naive datetime is taken to be UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)


def frozen_copy(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A deep copy, so a record never shares a mutable value with the store or a caller."""
    return copy.deepcopy(dict(value)) if value else {}


class SweepState(str, enum.Enum):
    """The states of a sweep (spec §8).

    pending   created, no agent has asked for a run yet
    running   agents receive new runs
    paused    no new runs; running runs continue; may resume
    finished  no new runs ever (stopped, grid exhausted, run_cap or metric.target reached)
    canceled  no new runs ever, and running runs were killed
    """

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELED = "canceled"


SWEEP_TERMINAL_STATES = frozenset({SweepState.FINISHED, SweepState.CANCELED})


class AgentState(str, enum.Enum):
    """The states of an agent: running (heartbeating), finished (exited cleanly), lost."""

    RUNNING = "running"
    FINISHED = "finished"
    LOST = "lost"


class KeyRole(str, enum.Enum):
    """What a key may do: everything, what agents and training scripts do, or only read."""

    ADMIN = "admin"
    AGENT = "agent"
    READ = "read"


class KeyKind(str, enum.Enum):
    """An API key a person or program holds, a dashboard session, or a one-time login link."""

    API = "api"
    SESSION = "session"
    LOGIN = "login"


@dataclass(frozen=True)
class KeyRecord:
    """A credential as stored: only the SHA-256 ``digest`` of its secret, never the secret.

    A key is valid at ``now`` while it is neither revoked nor past ``expires_at`` (None: never).
    """

    id: str
    name: str
    role: KeyRole
    kind: KeyKind
    digest: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def valid_at(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or utc(now) < self.expires_at


@dataclass(frozen=True)
class ProjectRecord:
    """A project: a namespace of sweeps, created on first use."""

    name: str
    created_at: datetime


@dataclass(frozen=True)
class SweepRecord:
    """A sweep as stored: its validated config and its state."""

    id: str
    project: str
    name: str | None
    config: Mapping[str, Any]
    state: SweepState
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RunRecord:
    """A run as stored.

    ``stopped`` is set when a stop order was issued (the run may still be running until the
    agent kills it); ``stop_reason`` says why. ``search_info`` is what the searcher wants to keep
    with the run (e.g. the hyperband bracket).
    """

    id: str
    sweep_id: str
    name: str
    params: Mapping[str, Any]
    state: RunState
    created_at: datetime
    agent_id: str | None = None
    host: str | None = None
    exit_code: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    stopped: bool = False
    stop_reason: str | None = None
    search_info: Mapping[str, Any] = field(default_factory=dict)
    #: history rows appended so far (by any server process sharing the store)
    history_rows: int = 0
    #: the highest sequence number of a history batch stored (``log_history(batch=)``)
    last_batch: int | None = None
    #: what ``init()`` says about the run besides its name: tags, notes, group, job_type
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(frozen=True)
class AgentRecord:
    """An agent process working on a sweep."""

    id: str
    sweep_id: str
    host: str
    pid: int
    state: AgentState
    created_at: datetime
    last_heartbeat: datetime
    #: which of several agents started by one command (``--gpus 0,1`` -> "gpu 1"), if any
    slot: str | None = None


@dataclass(frozen=True)
class HistoryRow:
    """One logged row of a run: its step and its metrics."""

    run_id: str
    step: int
    metrics: Mapping[str, Any]
