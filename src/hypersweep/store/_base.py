"""The Store interface and its contract.

Contract, for every implementation (one suite, ``tests/contracts/test_store.py``, checks it):

Thread safety
    Every method may be called from many threads at once; a store is shared by the whole server.

Snapshots
    Every returned record is an immutable snapshot (a frozen dataclass whose dicts are private
    copies). Later changes to the store do not show in it; changing it does not change the store.

Time
    The store reads no clock: every call that stamps a time takes ``now``. Returned datetimes are
    timezone-aware UTC.

Errors
    An unknown id raises ``NotFoundError``; a request the stored state forbids (an illegal state
    transition, a change to a terminal run, a duplicate id) raises ``ConflictError``; a database
    failure raises ``StoreError`` with a sentence saying what to do. Nothing else escapes.

Terminal runs never change
    Once a run is finished, failed, crashed or killed, every call that would change it (state,
    summary, history, output, stop order) raises ``ConflictError``.

Atomicity
    Each method is atomic on its own. ``assign_run`` is the one read-modify-write: it reads the
    sweep's runs, asks the callback for parameters and inserts the new run in ONE transaction
    that holds the sweep's lock, so parallel agents never receive the same grid point.
    ``log_history`` inserts the whole batch or nothing.

Run state machine (``RUN_TRANSITIONS``)::

    pending    -> running, finished, failed, crashed, killed
    running    -> preempting, finished, failed, crashed, killed
    preempting -> running, preempted, finished, failed, crashed, killed
    preempted  -> pending, running, crashed, killed
    finished, failed, crashed, killed -> (nothing)

Sweep state machine: no state returns to pending; finished and canceled move only to running
(resume, spec §8.1); the others may move to any state. Setting a sweep to the state it is in is
a no-op. Which user actions are allowed from which state (spec §8.1) is the controller's rule.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from hypersweep.domain import TERMINAL_STATES, RunState
from hypersweep.errors import ConflictError, HypersweepError, NotFoundError
from hypersweep.store._records import (
    SWEEP_TERMINAL_STATES,
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
    utc,
)

__all__ = ["RUN_TRANSITIONS", "HistoryWrite", "MakeParams", "NewRun", "Store", "new_run_of"]

S = RunState
RUN_TRANSITIONS: Mapping[RunState, frozenset[RunState]] = {
    S.PENDING: frozenset({S.RUNNING, S.FINISHED, S.FAILED, S.CRASHED, S.KILLED}),
    S.RUNNING: frozenset({S.PREEMPTING, S.FINISHED, S.FAILED, S.CRASHED, S.KILLED}),
    S.PREEMPTING: frozenset({S.RUNNING, S.PREEMPTED, S.FINISHED, S.FAILED, S.CRASHED, S.KILLED}),
    S.PREEMPTED: frozenset({S.PENDING, S.RUNNING, S.CRASHED, S.KILLED}),
    **{state: frozenset() for state in TERMINAL_STATES},
}


@dataclasses.dataclass(frozen=True)
class NewRun:
    """What ``assign_run``'s callback may return: the params and the run's ``search_info``,
    stored in the same transaction (so a concurrent assignment already sees the info)."""

    params: Mapping[str, Any]
    search_info: Mapping[str, Any] | None = None


#: Given the sweep's runs (read inside the lock), the new run's params (or a ``NewRun``), or None
#: for no run.
MakeParams = Callable[[Sequence[RunRecord]], "Mapping[str, Any] | NewRun | None"]


@dataclasses.dataclass(frozen=True)
class HistoryWrite:
    """One ``log_history`` call, for ``log_histories``."""

    run_id: str
    rows: Sequence[tuple[int, Mapping[str, Any]]]
    batch: int | None = None
    summary: Mapping[str, Any] | None = None
    start: bool = False


def new_run_of(made: Mapping[str, Any] | NewRun) -> NewRun:
    return made if isinstance(made, NewRun) else NewRun(made)


def check_sweep_transition(sweep: SweepRecord, state: SweepState) -> None:
    if state is sweep.state:
        return
    if state is SweepState.PENDING:
        raise ConflictError(
            f"sweep {sweep.id} is {sweep.state.value} and cannot become pending again; "
            "pause it instead"
        )
    # spec §8.1: a finished or canceled sweep can only be resumed (wandb/wandb#5901)
    if sweep.state in SWEEP_TERMINAL_STATES and state is not SweepState.RUNNING:
        raise ConflictError(
            f"sweep {sweep.id} is {sweep.state.value} and cannot become {state.value}; "
            "resume it first (it becomes running)"
        )


def check_run_changeable(run: RunRecord) -> None:
    if run.state in TERMINAL_STATES:
        raise ConflictError(
            f"run {run.id} is {run.state.value} and a terminal run never changes; "
            "start a new run instead"
        )


def apply_run_update(run: RunRecord, now: datetime, changes: Mapping[str, Any]) -> RunRecord:
    """The one place run updates are validated and applied; both stores call it."""
    check_run_changeable(run)
    new: dict[str, Any] = {}
    state = changes.get("state")
    if state is not None:
        state = RunState(state)
        if state is not run.state and state not in RUN_TRANSITIONS[run.state]:
            allowed = ", ".join(sorted(s.value for s in RUN_TRANSITIONS[run.state])) or "none"
            raise ConflictError(
                f"run {run.id} cannot go from {run.state.value} to {state.value}; "
                f"allowed from {run.state.value}: {allowed}"
            )
        new["state"] = state
        if state is RunState.RUNNING and run.started_at is None:
            new["started_at"] = utc(now)
        if state in TERMINAL_STATES:
            new["ended_at"] = utc(now)
    for key in ("exit_code", "stop_reason", "agent_id", "host", "name"):
        if changes.get(key) is not None:
            new[key] = changes[key]
    if changes.get("stopped") is not None:
        new["stopped"] = bool(changes["stopped"])
    if changes.get("summary"):
        new["summary"] = {**frozen_copy(run.summary), **frozen_copy(changes["summary"])}
    if changes.get("search_info") is not None:
        new["search_info"] = frozen_copy(changes["search_info"])
    if changes.get("meta"):
        new["meta"] = {**frozen_copy(run.meta), **frozen_copy(changes["meta"])}
    return dataclasses.replace(run, **new)


def log_changes(run: RunRecord, summary: Mapping[str, Any] | None, start: bool) -> dict[str, Any]:
    """``apply_run_update`` changes of a history batch: its summary, and pending -> running."""
    return {
        "summary": summary,
        "state": RunState.RUNNING if start and run.state is RunState.PENDING else None,
    }


class Store(ABC):
    """Where sweeps, runs, their history and output, and agents live; see the module contract."""

    #: Every call is work in this process, a millisecond or so, with no network round trip to
    #: wait for (SQLite, memory); a server may then make its calls on its event loop
    #: (``server/_lanes.py``).
    local: bool = False

    # -- projects and sweeps -------------------------------------------------------------------

    @abstractmethod
    def get_or_create_project(self, name: str, now: datetime) -> ProjectRecord:
        """Return the project called ``name``, creating it if it does not exist."""

    @abstractmethod
    def create_sweep(
        self,
        project: str,
        config: Mapping[str, Any],
        now: datetime,
        name: str | None = None,
        sweep_id: str | None = None,
    ) -> SweepRecord:
        """Create a pending sweep (and its project if needed); ConflictError on a taken id."""

    @abstractmethod
    def get_sweep(self, sweep_id: str) -> SweepRecord:
        """Return the sweep; NotFoundError if there is none with this id."""

    @abstractmethod
    def list_sweeps(self, project: str | None = None) -> list[SweepRecord]:
        """Every sweep (of ``project`` if given), oldest first."""

    @abstractmethod
    def set_sweep_state(self, sweep_id: str, state: SweepState, now: datetime) -> SweepRecord:
        """Move the sweep to ``state``; ConflictError if the sweep state machine forbids it."""

    # -- runs ----------------------------------------------------------------------------------

    @abstractmethod
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
        """Insert a pending run; its name defaults to its id. ConflictError on a taken id."""

    @abstractmethod
    def assign_run(
        self, sweep_id: str, agent_id: str | None, make_params: MakeParams, now: datetime
    ) -> RunRecord | None:
        """Atomically read the sweep's runs, call ``make_params`` and insert its run.

        Returns the new pending run, or None when ``make_params`` returned None. The callback
        runs while the sweep is locked: keep it quick, and do no store calls from it. The
        records it gets may be shared with later calls (a store may keep them decoded): read
        them, never modify them.
        """

    def assign_runs(
        self,
        sweep_id: str,
        agent_ids: Sequence[str | None],
        make_params: MakeParams,
        now: datetime,
    ) -> list[RunRecord]:
        """``assign_run`` for each of ``agent_ids`` in turn, stopping at the first None from
        ``make_params``; each call of it sees the runs made before it. Returns the runs made,
        in the order of ``agent_ids`` (so fewer than them when it stopped).

        A store may make them all in one transaction (``SqlStore`` does); this one makes one
        transaction each.
        """
        made: list[RunRecord] = []
        for agent_id in agent_ids:
            run = self.assign_run(sweep_id, agent_id, make_params, now)
            if run is None:
                break
            made.append(run)
        return made

    @abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """Return the run; NotFoundError if there is none with this id."""

    @abstractmethod
    def list_runs(
        self,
        sweep_id: str,
        states: Collection[RunState] | None = None,
        *,
        agents: Collection[str] | None = None,
        shared: bool = False,
    ) -> list[RunRecord]:
        """The sweep's runs (only those in ``states``, and of one of ``agents``, if given), in
        creation order.

        With ``shared`` the records may be shared with other callers (a store may keep them
        decoded between calls, as a busy server reads a large sweep's runs many times a
        second): read them, never modify them."""

    @abstractmethod
    def _update_run(self, run_id: str, now: datetime, changes: Mapping[str, Any]) -> RunRecord:
        """Apply ``apply_run_update`` to the stored run atomically."""

    def update_run(
        self,
        run_id: str,
        now: datetime,
        *,
        state: RunState | None = None,
        exit_code: int | None = None,
        summary: Mapping[str, Any] | None = None,
        stopped: bool | None = None,
        stop_reason: str | None = None,
        agent_id: str | None = None,
        host: str | None = None,
        search_info: Mapping[str, Any] | None = None,
        name: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """Change a run; arguments left None are left as they are.

        ``summary`` and ``meta`` are merged key by key over the stored ones. Moving to running
        stamps ``started_at`` (once); moving to a terminal state stamps ``ended_at``.

        Raises:
            NotFoundError: no run has this id.
            ConflictError: the run is terminal, or the state transition is not allowed.
        """
        changes = {
            "state": state,
            "exit_code": exit_code,
            "summary": summary,
            "stopped": stopped,
            "stop_reason": stop_reason,
            "agent_id": agent_id,
            "host": host,
            "search_info": search_info,
            "name": name,
            "meta": meta,
        }
        return self._update_run(run_id, now, changes)

    # -- history and output --------------------------------------------------------------------

    @abstractmethod
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
        """Append ``(step, metrics)`` rows in one batch (all of them or none) and what the batch
        says about the run, in one transaction.

        ``batch`` is the sender's sequence number of the batch (1, 2, ...; a retry repeats it):
        a batch at or below the run's ``last_batch`` was stored before and is skipped, so a
        batch whose acknowledgement was lost is stored once.

        ``summary`` is merged over the run's summary (as ``update_run``), and with ``start`` a
        pending run becomes running. One write instead of two is what lets a busy server store
        a batch per request without queueing twice for the database's write lock.

        Returns:
            The run after the batch, or None for a repeated ``batch`` (nothing changed).

        Raises:
            NotFoundError: no run has this id.
            ConflictError: the run is terminal.
        """

    def log_histories(
        self, writes: Sequence[HistoryWrite], now: datetime
    ) -> list[RunRecord | HypersweepError | None]:
        """``log_history`` for each of ``writes`` in turn: for each, what it returns, or the
        ``NotFoundError`` or ``ConflictError`` it raises. A batch refused does not stop the
        others; a database failure (``StoreError``) is raised and may leave none stored.

        A store may store them all in one transaction (``SqlStore`` does); this one makes one
        transaction each.
        """
        out: list[RunRecord | HypersweepError | None] = []
        for write in writes:
            try:
                out.append(
                    self.log_history(
                        write.run_id,
                        write.rows,
                        now,
                        batch=write.batch,
                        summary=write.summary,
                        start=write.start,
                    )
                )
            except (NotFoundError, ConflictError) as exc:
                out.append(exc)
        return out

    @abstractmethod
    def history(self, run_id: str, keys: Collection[str] | None = None) -> list[HistoryRow]:
        """The run's rows by step (ties in insertion order).

        With ``keys``, each row keeps only those metrics and rows with none of them are left out.
        """

    @abstractmethod
    def append_output(self, run_id: str, stream: str, text: str) -> None:
        """Append a chunk of the program's ``stream`` ("stdout" or "stderr")."""

    @abstractmethod
    def output(self, run_id: str, tail: int | None = None, stream: str | None = None) -> str:
        """The run's output chunks joined in order; ``tail`` keeps the last ``tail`` lines."""

    # -- agents --------------------------------------------------------------------------------

    @abstractmethod
    def register_agent(
        self, sweep_id: str, host: str, pid: int, now: datetime, slot: str | None = None
    ) -> AgentRecord:
        """Register a running agent of the sweep (``slot``: which of a host's agents it is)."""

    @abstractmethod
    def heartbeat_agent(
        self, agent_id: str, now: datetime, state: AgentState | None = None
    ) -> AgentRecord:
        """Stamp the agent's heartbeat (and change its state if given)."""

    @abstractmethod
    def get_agent(self, agent_id: str) -> AgentRecord:
        """Return the agent; NotFoundError if there is none with this id."""

    @abstractmethod
    def list_agents(self, sweep_id: str) -> list[AgentRecord]:
        """The sweep's agents, in registration order."""

    # -- credentials ---------------------------------------------------------------------------

    @abstractmethod
    def add_key(self, key: KeyRecord) -> KeyRecord:
        """Store a key; ConflictError if its id or digest is already stored."""

    @abstractmethod
    def find_key(self, digest: str) -> KeyRecord | None:
        """The key whose secret has this SHA-256 hex digest (revoked or not), or None."""

    @abstractmethod
    def list_keys(self, kind: KeyKind | None = KeyKind.API) -> list[KeyRecord]:
        """The keys of one kind (None: all), oldest first, revoked ones included."""

    @abstractmethod
    def revoke_key(self, key_id: str, now: datetime) -> bool:
        """Revoke the key; True if this call revoked it, False if it already was.

        Atomic: of many concurrent calls on one key exactly one returns True, which is what
        makes a login link usable once. NotFoundError if there is no such key.
        """

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store may not be used afterwards."""

    # -- derived helpers, written once ---------------------------------------------------------

    def run_counts(self, sweep_id: str) -> dict[RunState, int]:
        """How many of the sweep's runs are in each state (every state present, maybe 0)."""
        counts = Counter(run.state for run in self.list_runs(sweep_id))
        return {state: counts.get(state, 0) for state in RunState}

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
