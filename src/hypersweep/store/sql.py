"""SqlStore: the Store contract on SQLAlchemy 2 Core (SQLite and PostgreSQL).

Dialect-specific SQL lives in ``_sqlite.py`` and ``_postgres.py``; this module is portable.
Every database call goes through ``SqlStore._transaction``, which commits, rolls back and turns
driver errors into ``StoreError``.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from hypersweep.domain import RunState
from hypersweep.errors import ConflictError, HypersweepError, NotFoundError, StoreError
from hypersweep.store import _tables as t
from hypersweep.store._base import (
    HistoryWrite,
    MakeParams,
    Store,
    apply_run_update,
    check_run_changeable,
    check_sweep_transition,
    log_changes,
    new_run_of,
)
from hypersweep.store._kept import keep_sweep_runs
from hypersweep.store._migrate import check_or_create
from hypersweep.store._postgres import copy_history
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
from hypersweep.store._rows import (
    agent_from_row,
    key_from_row,
    key_values,
    run_from_row,
    run_values,
    sweep_from_row,
)
from hypersweep.store._sqlite import WRITE_OPTION, configure_sqlite, insert_history

__all__ = ["SqlStore"]


def _tail(text: str, lines: int | None) -> str:
    if lines is None:
        return text
    return "".join(text.splitlines(keepends=True)[-lines:]) if lines > 0 else ""


def _json_loads(text: str) -> Any:
    # Most runs' meta and search_info are empty: reading a large sweep decoded ~20,000 JSON
    # values a second, and the parser's per-call cost was most of it for "{}".
    return {} if text == "{}" else json.loads(text)


# The statements every request runs, built once: building one (and its cache key) for each call
# cost more than executing it.
_SWEEP = sa.select(t.sweeps).where(t.sweeps.c.id == sa.bindparam("id"))
_SWEEP_LOCKED = _SWEEP.with_for_update()
_RUN = sa.select(t.runs).where(t.runs.c.id == sa.bindparam("id"))
_RUN_LOCKED = _RUN.with_for_update()
_RUN_ID_TAKEN = sa.select(t.runs.c.id).where(t.runs.c.id == sa.bindparam("id"))
_KEY_BY_DIGEST = sa.select(t.api_keys).where(t.api_keys.c.digest == sa.bindparam("digest"))
_INSERT_RUN = sa.insert(t.runs)
_AGENT = sa.select(t.agents).where(t.agents.c.id == sa.bindparam("id"))
_RUNS = (
    sa.select(t.runs).where(t.runs.c.sweep_id == sa.bindparam("sweep_id")).order_by(t.runs.c.seq)
)
_IN_STATES = t.runs.c.state.in_(sa.bindparam("states", expanding=True))
_OF_AGENTS = t.runs.c.agent_id.in_(sa.bindparam("agents", expanding=True))
_VERSIONS = (
    sa.select(t.runs.c.id, t.runs.c.version)
    .where(t.runs.c.sweep_id == sa.bindparam("sweep_id"))
    .order_by(t.runs.c.seq)
)
_RUNS_BY_ID = sa.select(t.runs).where(t.runs.c.id.in_(sa.bindparam("ids", expanding=True)))
_NEXT_VERSION = t.runs.c.version + 1
# a run's columns (run_values but the id, which picks the row) and its next version
_UPDATE_RUN = (
    sa.update(t.runs).where(t.runs.c.id == sa.bindparam("run_id")).values(version=_NEXT_VERSION)
)
# a history batch: its rows, then the run's count and whatever else the batch changed
_INSERT_HISTORY = sa.insert(t.history)
#: how history rows go in: (connection in its transaction, rows as (run id, step, metrics))
WriteHistory = Callable[[sa.Connection, Sequence[tuple[str, int, Mapping[str, Any]]]], None]
# several batches' runs: what they read, and each run's row once after all its batches
_RUNS_BY_ID_LOCKED = (
    sa.select(t.runs)
    .where(t.runs.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(t.runs.c.id)
    .with_for_update()
)
_UPDATE_LOGGED_RUNS = _UPDATE_RUN.values(
    summary=sa.bindparam("summary"),
    state=sa.bindparam("state"),
    started_at=sa.bindparam("started_at"),
    last_batch=sa.bindparam("last_batch"),
    history_rows=sa.bindparam("rows"),
)
_KEPT_RUNS = 100_000  # decoded runs kept across sweeps (some hundred MB at most)
_READ_CHUNK = 500  # ids per IN (...): well under every driver's limit on parameters
_RUNS_QUERIES = {
    (False, False): _RUNS,
    (True, False): _RUNS.where(_IN_STATES),
    (False, True): _RUNS.where(_OF_AGENTS),
    (True, True): _RUNS.where(_IN_STATES, _OF_AGENTS),
}


def _logged_values(run: RunRecord) -> dict[str, Any]:
    """``_UPDATE_LOGGED_RUNS``'s parameters for ``run`` as its batches left it."""
    return {
        "run_id": run.id,
        "summary": frozen_copy(run.summary),
        "state": run.state.value,
        "started_at": run.started_at,
        "last_batch": run.last_batch,
        "rows": run.history_rows,
    }


class SqlStore(Store):
    """The store in a SQL database through SQLAlchemy Core; see ``open_store``."""

    def __init__(self, url: str) -> None:
        self._url = sa.make_url(url)
        self._where = self._url.render_as_string(hide_password=True)
        # A server's connection may drop (a PostgreSQL restart): check each one before use.
        # A SQLite file has nothing to drop, and the ping was 6 % of a busy server's time.
        ping = self._url.get_backend_name() != "sqlite"
        try:
            self._engine = sa.create_engine(
                self._url, pool_pre_ping=ping, json_deserializer=_json_loads
            )
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(
                f"cannot use the database URL {self._where}: {exc}; "
                "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
            ) from exc
        # sweep id -> run id -> (version, record): the decoded runs assign_run hands its
        # callback, re-read only when their version moved (see _known_runs)
        self._known: OrderedDict[str, dict[str, tuple[int, RunRecord]]] = OrderedDict()
        self._known_lock = threading.Lock()
        self._write_lock: threading.Lock | None = None  # SQLite's writers queue here
        # history rows by COPY on PostgreSQL, through the driver on SQLite (each module says why)
        self._write_history: WriteHistory = self._insert_history
        if self._engine.dialect.name == "postgresql":
            self._write_history = copy_history
        if self._engine.dialect.name == "sqlite":
            self._write_lock = configure_sqlite(self._engine)
            self._write_history = insert_history
            self.local = True
        with self._transaction(write=True) as conn:
            check_or_create(conn, self._where)

    @contextmanager
    def _transaction(self, write: bool = False) -> Iterator[sa.Connection]:
        """One transaction: commit on success, roll back on error, driver errors -> StoreError."""
        queue = self._write_lock if write and self._write_lock is not None else nullcontext()
        try:
            with queue, self._engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    yield conn
        except HypersweepError:
            raise
        except sa.exc.IntegrityError as exc:
            raise ConflictError(
                f"the database refused the change ({exc.orig}); it conflicts with stored data"
            ) from exc
        except sa.exc.OperationalError as exc:
            raise StoreError(
                f"the database at {self._where} failed: {exc.orig}; check that it is reachable, "
                "that the disk is not full and that no other program holds a long lock, then retry"
            ) from exc
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"the database at {self._where} failed: {exc}; retry, and report a bug if it "
                "persists"
            ) from exc

    def close(self) -> None:
        self._engine.dispose()

    # -- lookups inside a transaction ----------------------------------------------------------

    def _get_sweep(self, conn: sa.Connection, sweep_id: str, lock: bool = False) -> SweepRecord:
        row = conn.execute(_SWEEP_LOCKED if lock else _SWEEP, {"id": sweep_id}).first()
        if row is None:
            raise NotFoundError(f"no sweep with id {sweep_id!r}")
        return sweep_from_row(row)

    def _get_run(self, conn: sa.Connection, run_id: str, lock: bool = False) -> RunRecord:
        row = conn.execute(_RUN_LOCKED if lock else _RUN, {"id": run_id}).first()
        if row is None:
            raise NotFoundError(f"no run with id {run_id!r}")
        return run_from_row(row)

    def _get_agent(self, conn: sa.Connection, agent_id: str) -> AgentRecord:
        row = conn.execute(_AGENT, {"id": agent_id}).first()
        if row is None:
            raise NotFoundError(f"no agent with id {agent_id!r}")
        return agent_from_row(row)

    # -- projects and sweeps -------------------------------------------------------------------

    def get_or_create_project(self, name: str, now: datetime) -> ProjectRecord:
        with self._transaction(write=True) as conn:
            return self._project(conn, name, now)

    def _project(self, conn: sa.Connection, name: str, now: datetime) -> ProjectRecord:
        query = sa.select(t.projects).where(t.projects.c.name == name)
        row = conn.execute(query).first()
        if row is None:
            conn.execute(sa.insert(t.projects).values(name=name, created_at=utc(now)))
            return ProjectRecord(name, utc(now))
        return ProjectRecord(row.name, utc(row.created_at))

    def create_sweep(
        self,
        project: str,
        config: Mapping[str, Any],
        now: datetime,
        name: str | None = None,
        sweep_id: str | None = None,
    ) -> SweepRecord:
        sweep = SweepRecord(
            sweep_id or new_id(),
            project,
            name,
            frozen_copy(config),
            SweepState.PENDING,
            utc(now),
            utc(now),
        )
        with self._transaction(write=True) as conn:
            self._project(conn, project, now)
            if conn.execute(sa.select(t.sweeps.c.id).where(t.sweeps.c.id == sweep.id)).first():
                raise ConflictError(f"a sweep with id {sweep.id} already exists; pick another id")
            conn.execute(
                sa.insert(t.sweeps).values(
                    id=sweep.id,
                    project=project,
                    name=name,
                    config=dict(sweep.config),
                    state=sweep.state.value,
                    created_at=sweep.created_at,
                    updated_at=sweep.updated_at,
                )
            )
        return sweep

    def get_sweep(self, sweep_id: str) -> SweepRecord:
        with self._transaction() as conn:
            return self._get_sweep(conn, sweep_id)

    def list_sweeps(self, project: str | None = None) -> list[SweepRecord]:
        query = sa.select(t.sweeps).order_by(t.sweeps.c.created_at, t.sweeps.c.id)
        if project is not None:
            query = query.where(t.sweeps.c.project == project)
        with self._transaction() as conn:
            return [sweep_from_row(row) for row in conn.execute(query)]

    def set_sweep_state(self, sweep_id: str, state: SweepState, now: datetime) -> SweepRecord:
        state = SweepState(state)
        with self._transaction(write=True) as conn:
            sweep = self._get_sweep(conn, sweep_id, lock=True)
            check_sweep_transition(sweep, state)
            if sweep.state is state:
                return sweep
            conn.execute(
                sa.update(t.sweeps)
                .where(t.sweeps.c.id == sweep_id)
                .values(state=state.value, updated_at=utc(now))
            )
            return self._get_sweep(conn, sweep_id)

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
        with self._transaction(write=True) as conn:
            self._get_sweep(conn, sweep_id)
            return self._insert_run(
                conn, sweep_id, params, now, run_id, name, agent_id, search_info
            )

    def _insert_run(
        self,
        conn: sa.Connection,
        sweep_id: str,
        params: Mapping[str, Any],
        now: datetime,
        run_id: str | None = None,
        name: str | None = None,
        agent_id: str | None = None,
        search_info: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        if agent_id is not None:
            self._get_agent(conn, agent_id)
        # a chosen id may be taken; a new one is not (and the primary key still holds)
        if run_id is not None and conn.execute(_RUN_ID_TAKEN, {"id": run_id}).first():
            raise ConflictError(f"a run with id {run_id} already exists; pick another id")
        run_id = run_id or new_id()
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
        conn.execute(_INSERT_RUN, run_values(run))
        return run

    def assign_run(
        self, sweep_id: str, agent_id: str | None, make_params: MakeParams, now: datetime
    ) -> RunRecord | None:
        made = self.assign_runs(sweep_id, [agent_id], make_params, now)
        return made[0] if made else None

    def assign_runs(
        self,
        sweep_id: str,
        agent_ids: Sequence[str | None],
        make_params: MakeParams,
        now: datetime,
    ) -> list[RunRecord]:
        with self._transaction(write=True) as conn:
            # The sweep row lock (FOR UPDATE; on SQLite the transaction's write lock) serialises
            # every assign_run of this sweep, so the callback sees every earlier assignment.
            self._get_sweep(conn, sweep_id, lock=True)
            runs = self._known_runs(conn, sweep_id)
            made: list[RunRecord] = []
            for agent_id in agent_ids:
                wanted = make_params(runs)
                if wanted is None:
                    break
                new = new_run_of(wanted)
                run = self._insert_run(
                    conn, sweep_id, new.params, now, agent_id=agent_id, search_info=new.search_info
                )
                made.append(run)
                runs = [*runs, run]
            # the next hand-out lists them: kept decoded now rather than read back then (a
            # rolled back run is never listed, so never handed on)
            with self._known_lock:
                known = self._known.get(sweep_id)
                if known is not None:
                    known.update((run.id, (0, run)) for run in made)
            return made

    def _known_runs(self, conn: sa.Connection, sweep_id: str) -> list[RunRecord]:
        """The sweep's runs in creation order, decoded once per version: the records are shared
        with the next call, so they are for reading only (``assign_run``'s callback,
        ``list_runs(shared=True)``).

        Decoding every run for every hand-out cost ~50 ms at 1,000 runs, under the write lock;
        the list of versions costs a few."""
        listing = conn.execute(_VERSIONS, {"sweep_id": sweep_id}).all()
        with self._known_lock:
            known = self._known.get(sweep_id, {})
        stale = [run_id for run_id, version in listing if known.get(run_id, (-1,))[0] != version]
        fresh: dict[str, tuple[int, RunRecord]] = {}
        for start in range(0, len(stale), _READ_CHUNK):
            ids = stale[start : start + _READ_CHUNK]
            for row in conn.execute(_RUNS_BY_ID, {"ids": ids}):
                fresh[row.id] = (int(row.version), run_from_row(row))
        current: dict[str, tuple[int, RunRecord]] = {}
        for run_id, _ in listing:
            entry = fresh.get(run_id) or known.get(run_id)
            if entry is not None:  # None: deleted since the listing
                current[run_id] = entry
        with self._known_lock:
            keep_sweep_runs(self._known, sweep_id, current, _KEPT_RUNS)
        return [record for _, record in current.values()]

    def get_run(self, run_id: str) -> RunRecord:
        with self._transaction() as conn:
            return self._get_run(conn, run_id)

    def list_runs(
        self,
        sweep_id: str,
        states: Collection[RunState] | None = None,
        *,
        agents: Collection[str] | None = None,
        shared: bool = False,
    ) -> list[RunRecord]:
        with self._transaction() as conn:
            self._get_sweep(conn, sweep_id)
            if not shared:
                return self._list_runs(conn, sweep_id, states, agents)
            wanted = None if states is None else {RunState(state) for state in states}
            of = None if agents is None else set(agents)
            return [
                run
                for run in self._known_runs(conn, sweep_id)
                if (wanted is None or run.state in wanted) and (of is None or run.agent_id in of)
            ]

    def _list_runs(
        self,
        conn: sa.Connection,
        sweep_id: str,
        states: Collection[RunState] | None,
        agents: Collection[str] | None = None,
    ) -> list[RunRecord]:
        query = _RUNS_QUERIES[states is not None, agents is not None]
        values: dict[str, Any] = {"sweep_id": sweep_id}
        if agents is not None:
            values["agents"] = list(agents)
        if states is not None:
            values["states"] = [RunState(s).value for s in states]
        return [run_from_row(row) for row in conn.execute(query, values)]

    def _update_run(self, run_id: str, now: datetime, changes: Mapping[str, Any]) -> RunRecord:
        with self._transaction(write=True) as conn:
            run = apply_run_update(self._get_run(conn, run_id, lock=True), now, changes)
            if run.agent_id is not None:
                self._get_agent(conn, run.agent_id)
            values = run_values(run)
            del values["id"]
            conn.execute(_UPDATE_RUN, {"run_id": run_id, **values})
            return run

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
        answer = self.log_histories([HistoryWrite(run_id, rows, batch, summary, start)], now)[0]
        if isinstance(answer, HypersweepError):
            raise answer
        return answer

    def log_histories(
        self, writes: Sequence[HistoryWrite], now: datetime
    ) -> list[RunRecord | HypersweepError | None]:
        """All in one transaction of a few statements whatever the number of batches: the
        runs locked and read by one query (in id order, so two such transactions never wait
        for each other in a cycle), the rows of every batch written at once, every run updated
        by one ``executemany``. Over PostgreSQL each statement is a round trip, after which the
        writing thread waits for the interpreter lock: 64 agents' batches stored in groups of
        ~16 took three statements each before."""
        out: list[RunRecord | HypersweepError | None] = []
        rows: list[tuple[str, int, Mapping[str, Any]]] = []
        with self._transaction(write=True) as conn:
            runs = self._lock_runs(conn, {write.run_id for write in writes})
            logged: dict[str, RunRecord] = {}  # run id -> the run after its last batch here
            for write in writes:
                try:
                    after = self._logged(runs, write, now)
                except (NotFoundError, ConflictError) as exc:
                    out.append(exc)
                    continue
                out.append(after)
                if after is not None:
                    runs[write.run_id] = logged[write.run_id] = after
                    rows.extend((write.run_id, step, metrics) for step, metrics in write.rows)
            if rows:
                self._write_history(conn, rows)
            values = [_logged_values(run) for run in logged.values()]
            if values:  # one run's values alone: a plain execute costs less than executemany
                conn.execute(_UPDATE_LOGGED_RUNS, values if len(values) > 1 else values[0])
        return out

    def _lock_runs(self, conn: sa.Connection, run_ids: Collection[str]) -> dict[str, RunRecord]:
        found: dict[str, RunRecord] = {}
        ordered = sorted(run_ids)
        if len(ordered) == 1:  # a statement compiled once, unlike an IN (...) of its ids
            row = conn.execute(_RUN_LOCKED, {"id": ordered[0]}).first()
            return {} if row is None else {row.id: run_from_row(row)}
        for start in range(0, len(ordered), _READ_CHUNK):
            chunk = ordered[start : start + _READ_CHUNK]
            for row in conn.execute(_RUNS_BY_ID_LOCKED, {"ids": chunk}):
                found[row.id] = run_from_row(row)
        return found

    @staticmethod
    def _logged(
        runs: Mapping[str, RunRecord], write: HistoryWrite, now: datetime
    ) -> RunRecord | None:
        """The run after ``write`` (not stored yet), or None for a repeated batch."""
        run = runs.get(write.run_id)
        if run is None:
            raise NotFoundError(f"no run with id {write.run_id!r}")
        after = apply_run_update(run, now, log_changes(run, write.summary, write.start))
        if write.batch is not None and run.last_batch is not None and write.batch <= run.last_batch:
            return None  # stored before: its acknowledgement was lost
        return dataclasses.replace(
            after,
            history_rows=run.history_rows + len(write.rows),
            last_batch=write.batch if write.batch is not None else run.last_batch,
        )

    @staticmethod
    def _insert_history(
        conn: sa.Connection, rows: Sequence[tuple[str, int, Mapping[str, Any]]]
    ) -> None:
        """History rows by SQLAlchemy's insert: for a database other than the two above."""
        conn.execute(
            _INSERT_HISTORY,
            # no deep copy: the JSON column serialises each row, which copies it
            [{"run_id": run, "step": int(step), "metrics": dict(m)} for run, step, m in rows],
        )

    def history(self, run_id: str, keys: Collection[str] | None = None) -> list[HistoryRow]:
        query = (
            sa.select(t.history.c.step, t.history.c.metrics)
            .where(t.history.c.run_id == run_id)
            .order_by(t.history.c.step, t.history.c.seq)
        )
        with self._transaction() as conn:
            self._get_run(conn, run_id)
            rows = conn.execute(query).all()
        wanted = None if keys is None else set(keys)
        out = []
        for step, metrics in rows:
            if wanted is not None:
                metrics = {k: v for k, v in metrics.items() if k in wanted}
                if not metrics:
                    continue
            out.append(HistoryRow(run_id, step, metrics))
        return out

    def append_output(self, run_id: str, stream: str, text: str) -> None:
        with self._transaction(write=True) as conn:
            check_run_changeable(self._get_run(conn, run_id))
            conn.execute(sa.insert(t.output).values(run_id=run_id, stream=stream, text=text))

    def output(self, run_id: str, tail: int | None = None, stream: str | None = None) -> str:
        query = sa.select(t.output.c.text).where(t.output.c.run_id == run_id)
        if stream is not None:
            query = query.where(t.output.c.stream == stream)
        with self._transaction() as conn:
            self._get_run(conn, run_id)
            text = "".join(conn.execute(query.order_by(t.output.c.seq)).scalars())
        return _tail(text, tail)

    # -- agents --------------------------------------------------------------------------------

    def register_agent(
        self, sweep_id: str, host: str, pid: int, now: datetime, slot: str | None = None
    ) -> AgentRecord:
        agent = AgentRecord(
            new_id(), sweep_id, host, pid, AgentState.RUNNING, utc(now), utc(now), slot
        )
        with self._transaction(write=True) as conn:
            self._get_sweep(conn, sweep_id)
            conn.execute(
                sa.insert(t.agents).values(
                    id=agent.id,
                    sweep_id=sweep_id,
                    host=host,
                    pid=pid,
                    state=agent.state.value,
                    created_at=agent.created_at,
                    last_heartbeat=agent.last_heartbeat,
                    slot=slot,
                )
            )
        return agent

    def heartbeat_agent(
        self, agent_id: str, now: datetime, state: AgentState | None = None
    ) -> AgentRecord:
        values: dict[str, Any] = {"last_heartbeat": utc(now)}
        if state is not None:
            values["state"] = AgentState(state).value
        with self._transaction(write=True) as conn:
            conn.execute(sa.update(t.agents).where(t.agents.c.id == agent_id).values(**values))
            return self._get_agent(conn, agent_id)  # NotFoundError when nothing was updated

    def get_agent(self, agent_id: str) -> AgentRecord:
        with self._transaction() as conn:
            return self._get_agent(conn, agent_id)

    def list_agents(self, sweep_id: str) -> list[AgentRecord]:
        query = (
            sa.select(t.agents)
            .where(t.agents.c.sweep_id == sweep_id)
            .order_by(t.agents.c.created_at, t.agents.c.id)
        )
        with self._transaction() as conn:
            self._get_sweep(conn, sweep_id)
            return [agent_from_row(row) for row in conn.execute(query)]

    # -- credentials ---------------------------------------------------------------------------

    def add_key(self, key: KeyRecord) -> KeyRecord:
        with self._transaction(write=True) as conn:
            conn.execute(sa.insert(t.api_keys).values(**key_values(key)))
            row = conn.execute(sa.select(t.api_keys).where(t.api_keys.c.id == key.id)).one()
            return key_from_row(row)

    def find_key(self, digest: str) -> KeyRecord | None:
        with self._transaction() as conn:
            row = conn.execute(_KEY_BY_DIGEST, {"digest": digest}).first()
        return None if row is None else key_from_row(row)

    def list_keys(self, kind: KeyKind | None = KeyKind.API) -> list[KeyRecord]:
        query = sa.select(t.api_keys).order_by(t.api_keys.c.created_at, t.api_keys.c.id)
        if kind is not None:
            query = query.where(t.api_keys.c.kind == kind.value)
        with self._transaction() as conn:
            return [key_from_row(row) for row in conn.execute(query)]

    def revoke_key(self, key_id: str, now: datetime) -> bool:
        keys = t.api_keys
        with self._transaction(write=True) as conn:
            # one conditional UPDATE: of concurrent revocations exactly one changes the row
            changed = conn.execute(
                sa.update(keys)
                .where(keys.c.id == key_id, keys.c.revoked_at.is_(None))
                .values(revoked_at=utc(now))
            ).rowcount
            if (
                changed == 0
                and conn.execute(sa.select(keys.c.id).where(keys.c.id == key_id)).first() is None
            ):
                raise NotFoundError(f"no key with id {key_id!r}")
            return bool(changed)
