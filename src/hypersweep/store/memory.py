"""MemoryStore: the Store contract kept in dicts behind one lock, for tests and quick starts."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from hypersweep.domain import RunState
from hypersweep.errors import ConflictError, NotFoundError
from hypersweep.store._base import (
    MakeParams,
    Store,
    apply_run_update,
    check_run_changeable,
    check_sweep_transition,
    log_changes,
    new_run_of,
)
from hypersweep.store._records import (
    AgentRecord,
    AgentState,
    HistoryRow,
    KeyKind,
    KeyRecord,
    ProjectRecord,
    RunRecord,
    SweepRecord,
    SweepState,
    frozen_copy,
    new_id,
    utc,
)

__all__ = ["MemoryStore"]


def _snapshot(run: RunRecord) -> RunRecord:
    return dataclasses.replace(
        run,
        params=frozen_copy(run.params),
        summary=frozen_copy(run.summary),
        search_info=frozen_copy(run.search_info),
        meta=frozen_copy(run.meta),
    )


def _tail(text: str, lines: int | None) -> str:
    if lines is None:
        return text
    if lines <= 0:
        return ""
    return "".join(text.splitlines(keepends=True)[-lines:])


class MemoryStore(Store):
    """The whole store in process memory; one re-entrant lock makes every call atomic."""

    local = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._projects: dict[str, ProjectRecord] = {}
        self._sweeps: dict[str, SweepRecord] = {}
        self._runs: dict[str, RunRecord] = {}
        self._history: dict[str, list[HistoryRow]] = {}
        self._output: dict[str, list[tuple[str, str]]] = {}
        self._agents: dict[str, AgentRecord] = {}
        self._keys: dict[str, KeyRecord] = {}

    # -- projects and sweeps -------------------------------------------------------------------

    def get_or_create_project(self, name: str, now: datetime) -> ProjectRecord:
        with self._lock:
            if name not in self._projects:
                self._projects[name] = ProjectRecord(name, utc(now))
            return self._projects[name]

    def create_sweep(
        self,
        project: str,
        config: Mapping[str, Any],
        now: datetime,
        name: str | None = None,
        sweep_id: str | None = None,
    ) -> SweepRecord:
        with self._lock:
            sweep_id = sweep_id or new_id()
            if sweep_id in self._sweeps:
                raise ConflictError(f"a sweep with id {sweep_id} already exists; pick another id")
            self.get_or_create_project(project, now)
            sweep = SweepRecord(
                sweep_id, project, name, frozen_copy(config), SweepState.PENDING, utc(now), utc(now)
            )
            self._sweeps[sweep_id] = sweep
            return dataclasses.replace(sweep, config=frozen_copy(sweep.config))

    def get_sweep(self, sweep_id: str) -> SweepRecord:
        with self._lock:
            sweep = self._sweep(sweep_id)
            return dataclasses.replace(sweep, config=frozen_copy(sweep.config))

    def _sweep(self, sweep_id: str) -> SweepRecord:
        try:
            return self._sweeps[sweep_id]
        except KeyError:
            raise NotFoundError(f"no sweep with id {sweep_id!r}") from None

    def list_sweeps(self, project: str | None = None) -> list[SweepRecord]:
        with self._lock:
            return [
                dataclasses.replace(s, config=frozen_copy(s.config))
                for s in sorted(self._sweeps.values(), key=lambda s: (s.created_at, s.id))
                if project is None or s.project == project
            ]

    def set_sweep_state(self, sweep_id: str, state: SweepState, now: datetime) -> SweepRecord:
        with self._lock:
            sweep = self._sweep(sweep_id)
            check_sweep_transition(sweep, SweepState(state))
            if sweep.state is not state:
                sweep = dataclasses.replace(sweep, state=SweepState(state), updated_at=utc(now))
                self._sweeps[sweep_id] = sweep
            return dataclasses.replace(sweep, config=frozen_copy(sweep.config))

    # -- runs ----------------------------------------------------------------------------------

    def create_run(
        self,
        sweep_id: str,
        params: Mapping[str, Any],
        now: datetime,
        *,
        run_id: str | None = None,
        name: str | None = None,
        agent_id: str | None = None,
        search_info: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        with self._lock:
            self._sweep(sweep_id)
            if agent_id is not None:
                self._agent(agent_id)
            run_id = run_id or new_id()
            if run_id in self._runs:
                raise ConflictError(f"a run with id {run_id} already exists; pick another id")
            run = RunRecord(
                id=run_id,
                sweep_id=sweep_id,
                name=name or run_id,
                params=frozen_copy(params),
                state=RunState.PENDING,
                created_at=utc(now),
                agent_id=agent_id,
                search_info=frozen_copy(search_info),
            )
            self._runs[run_id] = run
            return _snapshot(run)

    def assign_run(
        self, sweep_id: str, agent_id: str | None, make_params: MakeParams, now: datetime
    ) -> RunRecord | None:
        with self._lock:
            made = make_params(self.list_runs(sweep_id))
            if made is None:
                return None
            new = new_run_of(made)
            return self.create_run(
                sweep_id, new.params, now, agent_id=agent_id, search_info=new.search_info
            )

    def get_run(self, run_id: str) -> RunRecord:
        with self._lock:
            return _snapshot(self._run(run_id))

    def _run(self, run_id: str) -> RunRecord:
        try:
            return self._runs[run_id]
        except KeyError:
            raise NotFoundError(f"no run with id {run_id!r}") from None

    def list_runs(
        self,
        sweep_id: str,
        states: Collection[RunState] | None = None,
        *,
        agents: Collection[str] | None = None,
        shared: bool = False,
    ) -> list[RunRecord]:
        wanted = None if agents is None else set(agents)
        with self._lock:
            self._sweep(sweep_id)
            return [
                _snapshot(run)
                for run in self._runs.values()
                if run.sweep_id == sweep_id
                and (states is None or run.state in states)
                and (wanted is None or run.agent_id in wanted)
            ]

    def _update_run(self, run_id: str, now: datetime, changes: Mapping[str, Any]) -> RunRecord:
        with self._lock:
            run = apply_run_update(self._run(run_id), now, changes)
            if run.agent_id is not None:
                self._agent(run.agent_id)
            self._runs[run_id] = run
            return _snapshot(run)

    # -- history and output --------------------------------------------------------------------

    def log_history(
        self,
        run_id: str,
        rows: Sequence[tuple[int, Mapping[str, Any]]],
        now: datetime,
        *,
        batch: int | None = None,
        summary: Mapping[str, Any] | None = None,
        start: bool = False,
    ) -> RunRecord | None:
        with self._lock:
            run = self._run(run_id)
            after = apply_run_update(run, now, log_changes(run, summary, start))
            if batch is not None and run.last_batch is not None and batch <= run.last_batch:
                return None  # stored before: its acknowledgement was lost
            stored = [HistoryRow(run_id, int(step), frozen_copy(m)) for step, m in rows]
            self._history.setdefault(run_id, []).extend(stored)
            self._runs[run_id] = dataclasses.replace(
                after,
                history_rows=run.history_rows + len(stored),
                last_batch=batch if batch is not None else run.last_batch,
            )
            return _snapshot(self._runs[run_id])

    def history(self, run_id: str, keys: Collection[str] | None = None) -> list[HistoryRow]:
        with self._lock:
            self._run(run_id)
            rows = sorted(self._history.get(run_id, []), key=lambda row: row.step)
            if keys is None:
                return [HistoryRow(r.run_id, r.step, frozen_copy(r.metrics)) for r in rows]
            wanted = set(keys)
            out = []
            for row in rows:
                picked = {k: v for k, v in row.metrics.items() if k in wanted}
                if picked:
                    out.append(HistoryRow(row.run_id, row.step, frozen_copy(picked)))
            return out

    def append_output(self, run_id: str, stream: str, text: str) -> None:
        with self._lock:
            check_run_changeable(self._run(run_id))
            self._output.setdefault(run_id, []).append((stream, text))

    def output(self, run_id: str, tail: int | None = None, stream: str | None = None) -> str:
        with self._lock:
            self._run(run_id)
            chunks = self._output.get(run_id, [])
            text = "".join(t for s, t in chunks if stream is None or s == stream)
            return _tail(text, tail)

    # -- agents --------------------------------------------------------------------------------

    def register_agent(
        self, sweep_id: str, host: str, pid: int, now: datetime, slot: str | None = None
    ) -> AgentRecord:
        with self._lock:
            self._sweep(sweep_id)
            agent = AgentRecord(
                new_id(), sweep_id, host, pid, AgentState.RUNNING, utc(now), utc(now), slot
            )
            self._agents[agent.id] = agent
            return agent

    def heartbeat_agent(
        self, agent_id: str, now: datetime, state: AgentState | None = None
    ) -> AgentRecord:
        with self._lock:
            agent = self._agent(agent_id)
            new_state = agent.state if state is None else AgentState(state)
            agent = dataclasses.replace(agent, last_heartbeat=utc(now), state=new_state)
            self._agents[agent_id] = agent
            return agent

    def get_agent(self, agent_id: str) -> AgentRecord:
        with self._lock:
            return self._agent(agent_id)

    def _agent(self, agent_id: str) -> AgentRecord:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise NotFoundError(f"no agent with id {agent_id!r}") from None

    def list_agents(self, sweep_id: str) -> list[AgentRecord]:
        with self._lock:
            self._sweep(sweep_id)
            agents = sorted(self._agents.values(), key=lambda a: (a.created_at, a.id))
            return [a for a in agents if a.sweep_id == sweep_id]

    # -- credentials ---------------------------------------------------------------------------

    def add_key(self, key: KeyRecord) -> KeyRecord:
        with self._lock:
            if key.id in self._keys or self.find_key(key.digest) is not None:
                raise ConflictError(f"a key with id {key.id!r} or the same secret is stored")
            stored = dataclasses.replace(
                key,
                created_at=utc(key.created_at),
                expires_at=None if key.expires_at is None else utc(key.expires_at),
            )
            self._keys[key.id] = stored
            return stored

    def find_key(self, digest: str) -> KeyRecord | None:
        with self._lock:
            return next((k for k in self._keys.values() if k.digest == digest), None)

    def list_keys(self, kind: KeyKind | None = KeyKind.API) -> list[KeyRecord]:
        with self._lock:
            keys = sorted(self._keys.values(), key=lambda k: (k.created_at, k.id))
            return [k for k in keys if kind is None or k.kind == kind]

    def revoke_key(self, key_id: str, now: datetime) -> bool:
        with self._lock:
            try:
                key = self._keys[key_id]
            except KeyError:
                raise NotFoundError(f"no key with id {key_id!r}") from None
            if key.revoked_at is not None:
                return False
            self._keys[key_id] = dataclasses.replace(key, revoked_at=utc(now))
            return True

    def close(self) -> None:
        """Nothing to release."""
