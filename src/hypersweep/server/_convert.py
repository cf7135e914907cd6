"""Store records and controller commands -> ``protocol`` models, and request values -> what
every store can hold (one place for each mapping)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError

from hypersweep import protocol as p
from hypersweep.controller import (
    AssignRun,
    Command,
    StopRun,
    attempt_of,
    is_importing,
    root_of,
    sweep_summary,
)
from hypersweep.errors import ConfigIssue
from hypersweep.store import AgentRecord, RunRecord, Store, SweepRecord

__all__ = [
    "ID_LENGTH",
    "INT_MAX",
    "INT_MIN",
    "NAME_LENGTH",
    "PROJECT_LENGTH",
    "TAG_LENGTH",
    "RequestCheck",
    "agent_out",
    "command_out",
    "finite_json",
    "issue_out",
    "run_out",
    "sweep_out",
]

# The SQL stores' column limits (store/_tables.py). The API enforces them for every store, so a
# request that PostgreSQL cannot hold is a 422 naming the field on every store, instead of a
# StoreError 503 that the client would retry for ever.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
ID_LENGTH = 64
PROJECT_LENGTH = 128
NAME_LENGTH = 256
#: W&B's limit on a tag and on job_type
TAG_LENGTH = 64


def sweep_out(store: Store, sweep: SweepRecord) -> p.SweepOut:
    summary = sweep_summary(store, sweep)
    best = p.BestRun(run_id=summary.best.run_id, value=summary.best.value) if summary.best else None
    return p.SweepOut(
        id=sweep.id,
        project=sweep.project,
        name=sweep.name,
        config=dict(sweep.config),
        state=sweep.state.value,
        created_at=sweep.created_at,
        updated_at=sweep.updated_at,
        run_counts=summary.run_counts,
        best=best,
    )


def issue_out(issue: ConfigIssue) -> p.IssueOut:
    return p.IssueOut(path=issue.path, message=issue.message, severity=issue.severity.value)


def run_out(run: RunRecord) -> p.RunOut:
    return p.RunOut(
        id=run.id,
        sweep_id=run.sweep_id,
        name=run.name,
        params=dict(run.params),
        state=run.state,
        created_at=run.created_at,
        agent_id=run.agent_id,
        host=run.host,
        exit_code=run.exit_code,
        started_at=run.started_at,
        ended_at=run.ended_at,
        summary=dict(run.summary),
        stopped=run.stopped,
        stop_reason=run.stop_reason,
        retry_of=root_of(run) if attempt_of(run) > 1 else None,
        attempt=attempt_of(run),
        tags=list(run.meta.get("tags") or []),
        notes=run.meta.get("notes"),
        group=run.meta.get("group"),
        job_type=run.meta.get("job_type"),
        history_rows=run.history_rows,
        importing=is_importing(run),
    )


def agent_out(agent: AgentRecord) -> p.AgentOut:
    return p.AgentOut(
        id=agent.id,
        sweep_id=agent.sweep_id,
        host=agent.host,
        pid=agent.pid,
        slot=agent.slot,
        state=agent.state.value,
        created_at=agent.created_at,
        last_heartbeat=agent.last_heartbeat,
    )


def command_out(command: Command) -> p.RunCommand | p.StopCommand | p.ExitCommand:
    if isinstance(command, AssignRun):
        return p.RunCommand(
            run_id=command.run_id,
            sweep_id=command.sweep_id,
            project=command.project,
            params=dict(command.params),
        )
    if isinstance(command, StopRun):
        return p.StopCommand(run_id=command.run_id, reason=command.reason)
    return p.ExitCommand(reason=command.reason, kill=command.kill)


def finite_json(value: Any) -> Any:
    """``value`` with every NaN and infinity replaced by None (JSON ``null``).

    Python's JSON parser accepts the non-standard ``NaN`` and ``Infinity`` tokens, PostgreSQL's
    JSON type refuses them, and the answers render them as ``null`` anyway (as the hypersweep
    client sends them), so every store gets ``null``. The engine skips a null metric value as it
    skips NaN (spec §5.3).
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite_json(item) for item in value]
    return value


class RequestCheck:
    """Collects the request's values that no store could hold; ``done`` raises a 422 naming
    each field (the same ``ErrorBody`` as a malformed request)."""

    def __init__(self) -> None:
        self._errors: list[dict[str, Any]] = []

    def _fail(self, loc: tuple[str | int, ...], value: Any, message: str) -> None:
        self._errors.append(
            {"type": "value_error", "loc": ("body", *loc), "msg": message, "input": value}
        )

    def integer(self, loc: tuple[str | int, ...], value: int | None) -> None:
        if value is not None and not INT_MIN <= value <= INT_MAX:
            self._fail(loc, value, f"must be between {INT_MIN} and {INT_MAX} (a 64-bit integer)")

    def text(
        self, loc: tuple[str | int, ...], value: str | None, limit: int, *, in_url: bool = False
    ) -> None:
        """A name or id: at most ``limit`` characters, no NUL; no ``/`` when it goes in URLs."""
        if value is None:
            return
        if len(value) > limit:
            self._fail(loc, value, f"is {len(value)} characters long; shorten it to {limit}")
        if "\x00" in value:
            self._fail(loc, value, "contains a NUL character (\\x00); remove it")
        if in_url and "/" in value:
            self._fail(
                loc,
                value,
                "contains '/', which its API paths cannot tell from a separator; use letters, "
                "digits, '-', '_' or '.'",
            )

    def done(self) -> None:
        if self._errors:
            raise RequestValidationError(self._errors)
