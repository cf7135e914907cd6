"""Conversions between table rows and records (the only place that knows both)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hypersweep.domain import RunState
from hypersweep.store._records import (
    AgentRecord,
    AgentState,
    KeyKind,
    KeyRecord,
    KeyRole,
    RunRecord,
    SweepRecord,
    SweepState,
    frozen_copy,
    utc,
    utc_or_none,
)

__all__ = [
    "agent_from_row",
    "key_from_row",
    "key_values",
    "run_from_row",
    "run_values",
    "sweep_from_row",
]


def sweep_from_row(row: sa.Row[Any]) -> SweepRecord:
    m = row._mapping
    return SweepRecord(
        id=m["id"],
        project=m["project"],
        name=m["name"],
        config=_decoded(m["config"]),
        state=SweepState(m["state"]),
        created_at=utc(m["created_at"]),
        updated_at=utc(m["updated_at"]),
    )


def _decoded(value: Any) -> dict[str, Any]:
    """A JSON column's value as the driver just decoded it: a new object for each row read, so
    no copy is needed (a deep copy of every run's parameters and summary was most of the time
    of reading a large sweep's runs)."""
    return value if isinstance(value, dict) else {}


def run_from_row(row: sa.Row[Any]) -> RunRecord:
    m = row._mapping
    return RunRecord(
        id=m["id"],
        sweep_id=m["sweep_id"],
        name=m["name"],
        params=_decoded(m["params"]),
        state=RunState(m["state"]),
        created_at=utc(m["created_at"]),
        agent_id=m["agent_id"],
        host=m["host"],
        exit_code=m["exit_code"],
        started_at=utc_or_none(m["started_at"]),
        ended_at=utc_or_none(m["ended_at"]),
        summary=_decoded(m["summary"]),
        stopped=bool(m["stopped"]),
        stop_reason=m["stop_reason"],
        search_info=_decoded(m["search_info"]),
        history_rows=int(m["history_rows"]),
        last_batch=m["last_batch"],
        meta=_decoded(m["meta"]),
    )


def agent_from_row(row: sa.Row[Any]) -> AgentRecord:
    m = row._mapping
    return AgentRecord(
        id=m["id"],
        sweep_id=m["sweep_id"],
        host=m["host"],
        pid=m["pid"],
        state=AgentState(m["state"]),
        created_at=utc(m["created_at"]),
        last_heartbeat=utc(m["last_heartbeat"]),
        slot=m["slot"],
    )


def key_from_row(row: sa.Row[Any]) -> KeyRecord:
    m = row._mapping
    return KeyRecord(
        id=m["id"],
        name=m["name"],
        role=KeyRole(m["role"]),
        kind=KeyKind(m["kind"]),
        digest=m["digest"],
        created_at=utc(m["created_at"]),
        expires_at=utc_or_none(m["expires_at"]),
        revoked_at=utc_or_none(m["revoked_at"]),
    )


def key_values(key: KeyRecord) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role.value,
        "kind": key.kind.value,
        "digest": key.digest,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
    }


def run_values(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "sweep_id": run.sweep_id,
        "name": run.name,
        "params": frozen_copy(run.params),
        "state": run.state.value,
        "agent_id": run.agent_id,
        "host": run.host,
        "exit_code": run.exit_code,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "summary": frozen_copy(run.summary),
        "stopped": run.stopped,
        "stop_reason": run.stop_reason,
        "search_info": frozen_copy(run.search_info),
        "meta": frozen_copy(run.meta),
    }
