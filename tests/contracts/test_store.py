"""The Store contract (``hypersweep/store/_base.py``), run once against every implementation."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import FrozenInstanceError
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from _pg import fresh_schema
from hypersweep.domain import TERMINAL_STATES, RunState
from hypersweep.errors import ConflictError, NotFoundError, StoreError
from hypersweep.store import (
    UPGRADE_COMMAND,
    AgentState,
    HistoryWrite,
    KeyKind,
    KeyRecord,
    KeyRole,
    MemoryStore,
    NewRun,
    RunRecord,
    SqlStore,
    Store,
    SweepState,
    head_revision,
    open_store,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _pg_store() -> Iterator[Store]:
    with fresh_schema("hs_test") as url:
        store = SqlStore(url)
        try:
            yield store
        finally:
            store.close()


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("sqlite"),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        with open_store(tmp_path / "data") as sql_store:
            yield sql_store
    else:
        yield from _pg_store()


def test_local_says_whether_a_call_may_wait_for_a_network(
    store: Store, request: pytest.FixtureRequest
) -> None:
    # the server makes a local store's calls on its event loop (server/_lanes.py)
    assert store.local is (request.node.callspec.params["store"] != "postgres")


@pytest.fixture
def sweep_id(store: Store) -> str:
    return store.create_sweep("proj", {"method": "grid"}, T0, name="s").id


def test_sweep_round_trip(store: Store) -> None:
    config = {"method": "grid", "parameters": {"lr": {"values": [0.1, 0.01]}}}
    sweep = store.create_sweep("proj", config, T0, name="first")
    assert len(sweep.id) == 8
    assert sweep.id.isalnum()
    assert sweep.id == sweep.id.lower()
    got = store.get_sweep(sweep.id)
    assert got == sweep
    assert got.config == config
    assert got.state is SweepState.PENDING
    assert got.created_at == T0
    assert got.created_at.tzinfo is not None
    assert store.get_or_create_project("proj", at(9)).created_at == T0


def test_list_sweeps_by_project(store: Store) -> None:
    a = store.create_sweep("p1", {}, at(1))
    b = store.create_sweep("p2", {}, at(2))
    c = store.create_sweep("p1", {}, at(3))
    assert [s.id for s in store.list_sweeps()] == [a.id, b.id, c.id]
    assert [s.id for s in store.list_sweeps("p1")] == [a.id, c.id]
    assert store.list_sweeps("nope") == []


def test_duplicate_sweep_id_conflicts(store: Store) -> None:
    store.create_sweep("p", {}, T0, sweep_id="abcd1234")
    with pytest.raises(ConflictError, match="abcd1234"):
        store.create_sweep("p", {}, T0, sweep_id="abcd1234")


def test_sweep_states(store: Store, sweep_id: str) -> None:
    assert store.set_sweep_state(sweep_id, SweepState.RUNNING, at(1)).state is SweepState.RUNNING
    paused = store.set_sweep_state(sweep_id, SweepState.PAUSED, at(2))
    assert paused.state is SweepState.PAUSED
    assert paused.updated_at == at(2)
    assert store.set_sweep_state(sweep_id, SweepState.PAUSED, at(3)).updated_at == at(2)
    store.set_sweep_state(sweep_id, SweepState.FINISHED, at(4))
    with pytest.raises(ConflictError, match="resume it first"):
        store.set_sweep_state(sweep_id, SweepState.PAUSED, at(5))
    assert store.get_sweep(sweep_id).state is SweepState.FINISHED
    # spec §8.1: resume works from any state, finished and canceled included
    assert store.set_sweep_state(sweep_id, SweepState.RUNNING, at(6)).state is SweepState.RUNNING
    store.set_sweep_state(sweep_id, SweepState.CANCELED, at(7))
    assert store.set_sweep_state(sweep_id, SweepState.RUNNING, at(8)).state is SweepState.RUNNING
    with pytest.raises(ConflictError, match="pending"):
        store.set_sweep_state(sweep_id, SweepState.PENDING, at(9))


def test_unknown_ids_raise_not_found(store: Store, sweep_id: str) -> None:
    calls: list[Any] = [
        lambda: store.get_sweep("missing0"),
        lambda: store.set_sweep_state("missing0", SweepState.PAUSED, T0),
        lambda: store.create_run("missing0", {}, T0),
        lambda: store.create_run(sweep_id, {}, T0, agent_id="missing0"),
        lambda: store.list_runs("missing0"),
        lambda: store.get_run("missing0"),
        lambda: store.update_run("missing0", T0, state=RunState.RUNNING),
        lambda: store.log_history("missing0", [(0, {"a": 1})], T0),
        lambda: store.history("missing0"),
        lambda: store.append_output("missing0", "stdout", "x"),
        lambda: store.output("missing0"),
        lambda: store.register_agent("missing0", "h", 1, T0),
        lambda: store.heartbeat_agent("missing0", T0),
        lambda: store.get_agent("missing0"),
        lambda: store.list_agents("missing0"),
        lambda: store.assign_run("missing0", None, lambda runs: {}, T0),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match="missing0"):
            call()


def test_run_round_trip(store: Store, sweep_id: str) -> None:
    agent = store.register_agent(sweep_id, "host1", 42, T0)
    run = store.create_run(
        sweep_id, {"lr": 0.1, "opt": {"name": "adam"}}, T0, agent_id=agent.id, search_info={"b": 1}
    )
    assert run.state is RunState.PENDING
    assert run.name == run.id
    assert store.get_run(run.id) == run
    named = store.create_run(sweep_id, {}, at(1), run_id="myrun001", name="nice")
    assert (named.id, named.name) == ("myrun001", "nice")
    with pytest.raises(ConflictError):
        store.create_run(sweep_id, {}, at(1), run_id="myrun001")
    assert [r.id for r in store.list_runs(sweep_id)] == [run.id, named.id]


def test_records_are_immutable_snapshots(store: Store, sweep_id: str) -> None:
    run = store.create_run(sweep_id, {"lr": 0.1, "nested": {"a": [1]}}, T0)
    with pytest.raises(FrozenInstanceError):
        run.state = RunState.RUNNING  # type: ignore[misc]
    params: Any = run.params
    params["lr"] = 99
    params["nested"]["a"].append(2)
    assert store.get_run(run.id).params == {"lr": 0.1, "nested": {"a": [1]}}
    store.update_run(run.id, at(1), state=RunState.RUNNING)
    assert run.state is RunState.PENDING
    sweep = store.get_sweep(sweep_id)
    config: Any = sweep.config
    config["method"] = "random"
    assert store.get_sweep(sweep_id).config == {"method": "grid"}


def test_update_run_lifecycle(store: Store, sweep_id: str) -> None:
    run = store.create_run(sweep_id, {}, T0)
    running = store.update_run(run.id, at(1), state=RunState.RUNNING, host="h1")
    assert running.started_at == at(1)
    assert running.host == "h1"
    store.update_run(run.id, at(2), summary={"loss": 0.5, "acc": 0.1})
    store.update_run(run.id, at(3), summary={"loss": 0.4})
    stopping = store.update_run(run.id, at(4), stopped=True, stop_reason="rung 2: below band")
    assert stopping.stopped
    assert stopping.state is RunState.RUNNING
    done = store.update_run(run.id, at(5), state=RunState.KILLED, exit_code=-15)
    assert done.summary == {"loss": 0.4, "acc": 0.1}
    assert (done.started_at, done.ended_at, done.exit_code) == (at(1), at(5), -15)
    assert done.stop_reason == "rung 2: below band"
    assert store.get_run(run.id) == done


def test_illegal_transition_conflicts(store: Store, sweep_id: str) -> None:
    run = store.create_run(sweep_id, {}, T0)
    with pytest.raises(ConflictError, match="pending to preempted"):
        store.update_run(run.id, at(1), state=RunState.PREEMPTED)
    store.update_run(run.id, at(1), state=RunState.RUNNING)
    with pytest.raises(ConflictError, match="running to pending"):
        store.update_run(run.id, at(2), state=RunState.PENDING)
    store.update_run(run.id, at(2), state=RunState.PREEMPTING)
    store.update_run(run.id, at(3), state=RunState.PREEMPTED)
    assert store.update_run(run.id, at(4), state=RunState.PENDING).state is RunState.PENDING


TERMINAL = sorted(TERMINAL_STATES, key=str)


@pytest.mark.parametrize("final", TERMINAL, ids=[state.value for state in TERMINAL])
def test_terminal_runs_never_change(store: Store, sweep_id: str, final: RunState) -> None:
    run = store.create_run(sweep_id, {}, T0)
    store.update_run(run.id, at(1), state=RunState.RUNNING)
    store.log_history(run.id, [(0, {"loss": 1.0})], T0)
    store.append_output(run.id, "stdout", "hi\n")
    ended = store.update_run(run.id, at(2), state=final, exit_code=0, summary={"loss": 1.0})
    attempts: list[Any] = [
        lambda: store.update_run(run.id, at(3), state=RunState.RUNNING),
        lambda: store.update_run(run.id, at(3), state=final),
        lambda: store.update_run(run.id, at(3), summary={"loss": 0.0}),
        lambda: store.update_run(run.id, at(3), stopped=True, stop_reason="late"),
        lambda: store.log_history(run.id, [(1, {"loss": 0.0})], T0),
        lambda: store.append_output(run.id, "stdout", "more"),
    ]
    for attempt in attempts:
        with pytest.raises(ConflictError, match="terminal"):
            attempt()
    assert store.get_run(run.id) == ended
    assert len(store.history(run.id)) == 1
    assert store.output(run.id) == "hi\n"


def test_list_runs_by_state_and_counts(store: Store, sweep_id: str) -> None:
    a = store.create_run(sweep_id, {"i": 0}, T0)
    b = store.create_run(sweep_id, {"i": 1}, T0)
    c = store.create_run(sweep_id, {"i": 2}, T0)
    store.update_run(a.id, at(1), state=RunState.RUNNING)
    store.update_run(b.id, at(1), state=RunState.FAILED, exit_code=1)
    live = store.list_runs(sweep_id, states={RunState.RUNNING, RunState.FAILED})
    assert [r.id for r in live] == [a.id, b.id]
    agent = store.register_agent(sweep_id, "h", 1, T0)
    store.update_run(a.id, at(2), agent_id=agent.id)
    assert [r.id for r in store.list_runs(sweep_id, agents=[agent.id])] == [a.id]
    assert store.list_runs(sweep_id, states={RunState.FAILED}, agents=[agent.id]) == []
    other = store.register_agent(sweep_id, "h", 2, T0)
    store.update_run(c.id, at(2), agent_id=other.id)
    both = store.list_runs(sweep_id, agents=[agent.id, other.id])
    assert [r.id for r in both] == [a.id, c.id]
    assert [r.id for r in store.list_runs(sweep_id, agents=[other.id], shared=True)] == [c.id]
    assert store.list_runs(sweep_id, agents=[]) == []
    counts = store.run_counts(sweep_id)
    assert counts[RunState.PENDING] == 1
    assert counts[RunState.RUNNING] == 1
    assert counts[RunState.FAILED] == 1
    assert counts[RunState.FINISHED] == 0


def test_history_batches_order_and_keys(store: Store, sweep_id: str) -> None:
    run = store.create_run(sweep_id, {}, T0)
    store.log_history(run.id, [(0, {"loss": 1.0, "acc": 0.1}), (2, {"loss": 0.5})], T0)
    store.log_history(run.id, [(1, {"acc": 0.2, "lr": 0.1}), (3, {"loss": 0.2, "acc": 0.9})], T0)
    store.log_history(run.id, [], T0)
    rows = store.history(run.id)
    assert [(r.step, dict(r.metrics)) for r in rows] == [
        (0, {"loss": 1.0, "acc": 0.1}),
        (1, {"acc": 0.2, "lr": 0.1}),
        (2, {"loss": 0.5}),
        (3, {"loss": 0.2, "acc": 0.9}),
    ]
    assert all(r.run_id == run.id for r in rows)
    picked = store.history(run.id, keys=["loss"])
    assert [(r.step, dict(r.metrics)) for r in picked] == [
        (0, {"loss": 1.0}),
        (2, {"loss": 0.5}),
        (3, {"loss": 0.2}),
    ]
    other = store.create_run(sweep_id, {}, T0)
    assert store.history(other.id) == []


def test_logged_values_of_every_json_kind_come_back_as_logged(store: Store, sweep_id: str) -> None:
    """PostgreSQL takes history rows by COPY (``store/_postgres.py``), whose text format
    escapes tabs, newlines and backslashes: each must come back as it was sent."""
    run = store.create_run(sweep_id, {}, T0)
    odd = 'tab\there, line\nbreak, back\\slash, "quoted", nul\x00, \u00e9t\u00e9 \U0001f600'
    rows = [
        (0, {"text": odd, "none": None, "yes": True, "big": 2**62, "tiny": 1e-300}),
        (1, {"nested": {"list": [1, "two", {"three": [3.5, None]}], "empty": {}}, "odd": odd}),
        (1, {"again": 1}),  # a step logged twice keeps both rows, in order
    ]
    assert store.log_history(run.id, rows, T0, batch=1) is not None
    assert [(row.step, dict(row.metrics)) for row in store.history(run.id)] == rows
    assert store.get_run(run.id).history_rows == 3


def test_a_repeated_history_batch_is_stored_once(store: Store, sweep_id: str) -> None:
    run = store.create_run(sweep_id, {}, T0)
    assert store.log_history(run.id, [(0, {"loss": 1.0})], T0, batch=1) is not None
    assert store.log_history(run.id, [(0, {"loss": 1.0})], T0, batch=1) is None  # a retry
    assert store.log_history(run.id, [(1, {"loss": 0.5})], T0, batch=2) is not None
    assert store.log_history(run.id, [(0, {"loss": 1.0})], T0, batch=1) is None  # a late retry
    assert store.log_history(run.id, [(2, {"loss": 0.2})], T0) is not None  # no number: stored
    assert [row.step for row in store.history(run.id)] == [0, 1, 2]
    stored = store.get_run(run.id)
    assert (stored.last_batch, stored.history_rows) == (2, 3)


def test_histories_logged_together_answer_each_batch_and_refuse_only_the_bad_ones(
    store: Store, sweep_id: str
) -> None:
    first = store.create_run(sweep_id, {}, T0)
    second = store.create_run(sweep_id, {}, T0)
    ended = store.create_run(sweep_id, {}, T0)
    store.update_run(ended.id, T0, state=RunState.FINISHED)
    store.log_history(second.id, [(0, {"loss": 1.0})], T0, batch=1)
    writes = [
        HistoryWrite(second.id, [(1, {"loss": 0.9})], batch=2, summary={"s": 2}, start=True),
        HistoryWrite(first.id, [(0, {"loss": 0.5})], batch=1),
        HistoryWrite("no-such-run", [(0, {"loss": 0.1})], batch=1),
        HistoryWrite(ended.id, [(0, {"loss": 0.2})], batch=1),
        HistoryWrite(second.id, [(0, {"loss": 9.0})], batch=1),  # a late retry: not stored
        HistoryWrite(first.id, [(1, {"loss": 0.4}), (2, {"loss": 0.3})], batch=2),
    ]
    out = store.log_histories(writes, at(3))
    assert len(out) == len(writes)
    logged_second, logged_first, missing, refused, retry, logged_first_again = out
    assert isinstance(missing, NotFoundError) and isinstance(refused, ConflictError)
    assert retry is None
    assert isinstance(logged_second, RunRecord) and isinstance(logged_first, RunRecord)
    assert isinstance(logged_first_again, RunRecord)
    assert (logged_second.state, logged_second.started_at, dict(logged_second.summary)) == (
        RunState.RUNNING,
        at(3),
        {"s": 2},
    )
    # one run's batches in their order, each answer the run as that batch left it
    assert (logged_first.history_rows, logged_first.last_batch) == (1, 1)
    assert (logged_first_again.history_rows, logged_first_again.last_batch) == (3, 2)
    assert [row.step for row in store.history(first.id)] == [0, 1, 2]
    assert [(row.step, dict(row.metrics)) for row in store.history(second.id)] == [
        (0, {"loss": 1.0}),
        (1, {"loss": 0.9}),
    ]
    assert store.history(ended.id) == []
    assert store.get_run(first.id) == logged_first_again
    assert store.log_histories([], at(4)) == []


def test_histories_logged_together_from_threads_never_wait_on_each_other_for_ever(
    store: Store, sweep_id: str
) -> None:
    # Two writers, each holding several runs' rows locks until it commits: batches of the same
    # runs given in opposite orders must not deadlock (PostgreSQL would abort one of them).
    runs = [store.create_run(sweep_id, {}, T0).id for _ in range(4)]
    errors: list[BaseException] = []

    def writer(order: list[str]) -> None:
        try:
            for step in range(15):
                writes = [HistoryWrite(run, [(step, {"loss": 1.0})]) for run in order]
                for answer in store.log_histories(writes, T0):
                    assert isinstance(answer, RunRecord), answer
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(order,)) for order in (runs, runs[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert all(store.get_run(run).history_rows == 30 for run in runs)


def test_log_history_stores_the_batch_and_its_summary_at_once(store: Store, sweep_id: str) -> None:
    run = store.create_run(sweep_id, {}, T0)
    store.update_run(run.id, T0, summary={"kept": 1})
    after = store.log_history(
        run.id,
        [(0, {"loss": 1.0}), (1, {"loss": 0.5})],
        at(5),
        batch=1,
        summary={"loss": 0.5},
        start=True,
    )
    assert after is not None
    assert (after.state, after.started_at, after.history_rows, after.last_batch) == (
        RunState.RUNNING,
        at(5),
        2,
        1,
    )
    assert dict(after.summary) == {"kept": 1, "loss": 0.5}
    assert store.get_run(run.id) == after
    # a retry of the batch changes nothing, not even the summary
    assert (
        store.log_history(run.id, [(0, {"loss": 9.0})], at(6), batch=1, summary={"loss": 9.0})
        is None
    )
    # start leaves a running run's start time alone; no summary leaves the summary alone
    later = store.log_history(run.id, [(2, {"acc": 0.9})], at(7), batch=2, start=True)
    assert later is not None
    assert (later.started_at, later.history_rows, dict(later.summary)) == (
        at(5),
        3,
        {"kept": 1, "loss": 0.5},
    )
    assert [row.step for row in store.history(run.id)] == [0, 1, 2]
    store.update_run(run.id, at(8), state=RunState.FINISHED)
    with pytest.raises(ConflictError):
        store.log_history(run.id, [(3, {"loss": 0.1})], at(9), batch=3)
    assert store.get_run(run.id).history_rows == 3


def test_shared_run_lists_match_fresh_ones_after_every_change(store: Store, sweep_id: str) -> None:
    def both(**filters: Any) -> tuple[list[RunRecord], list[RunRecord]]:
        return store.list_runs(sweep_id, **filters), store.list_runs(
            sweep_id, shared=True, **filters
        )

    first = store.create_run(sweep_id, {"x": 1}, T0)
    fresh, shared = both()
    assert fresh == shared == [first]
    store.update_run(first.id, at(1), state=RunState.RUNNING)
    second = store.create_run(sweep_id, {"x": 2}, T0)
    store.log_history(first.id, [(0, {"loss": 0.5})], at(2), summary={"loss": 0.5})
    fresh, shared = both()
    assert fresh == shared
    assert [(run.id, run.state, dict(run.summary)) for run in shared] == [
        (first.id, RunState.RUNNING, {"loss": 0.5}),
        (second.id, RunState.PENDING, {}),
    ]
    fresh, shared = both(states=[RunState.PENDING])
    assert fresh == shared == [store.get_run(second.id)]
    agent = store.register_agent(sweep_id, "h", 1, at(3))
    seen: list[list[RunRecord]] = []
    for index in range(3):  # each hand-out's run is listed by the next one's callback
        seen.clear()

        def make(records: Sequence[RunRecord], index: int = index) -> NewRun:
            seen.append(list(records))
            return NewRun({"x": 10 + index}, {"rank": index})

        handed = store.assign_run(sweep_id, agent.id, make, at(4 + index))
        assert handed is not None
        fresh, shared = both()
        assert fresh == shared
        assert shared[-1] == handed == store.get_run(handed.id)
        assert seen[0] == fresh[:-1]


def test_assign_runs_makes_one_run_per_agent_until_the_callback_says_none(
    store: Store, sweep_id: str
) -> None:
    agents = [store.register_agent(sweep_id, "h", pid, T0).id for pid in range(4)]
    seen: list[list[str]] = []

    def make(records: Sequence[RunRecord]) -> NewRun | None:
        seen.append([run.id for run in records])
        return None if len(records) == 3 else NewRun({"x": len(records)})

    made = store.assign_runs(sweep_id, agents, make, at(1))
    assert [(run.agent_id, run.params["x"]) for run in made] == [(agents[i], i) for i in range(3)]
    # each call saw the runs made before it in the same assignment; the fourth got none
    assert seen == [[run.id for run in made[:count]] for count in range(4)]
    assert store.list_runs(sweep_id) == made


def test_runs_count_their_history_rows(store: Store, sweep_id: str) -> None:
    run = store.create_run(sweep_id, {}, T0)
    assert run.history_rows == 0
    store.log_history(run.id, [(0, {"loss": 1.0}), (1, {"acc": 0.5})], T0)
    store.log_history(run.id, [], T0)
    store.update_run(run.id, T0, summary={"loss": 1.0})  # an update keeps the count
    store.log_history(run.id, [(2, {"loss": 0.5})], T0)
    assert store.get_run(run.id).history_rows == 3
    (listed,) = store.list_runs(sweep_id)
    assert listed.history_rows == 3


def test_output_chunks_and_tail(store: Store, sweep_id: str) -> None:
    run = store.create_run(sweep_id, {}, T0)
    store.append_output(run.id, "stdout", "one\ntw")
    store.append_output(run.id, "stderr", "o\nthree\n")
    store.append_output(run.id, "stdout", "four\n")
    assert store.output(run.id) == "one\ntwo\nthree\nfour\n"
    assert store.output(run.id, tail=2) == "three\nfour\n"
    assert store.output(run.id, tail=0) == ""
    assert store.output(run.id, tail=100) == "one\ntwo\nthree\nfour\n"
    assert store.output(run.id, stream="stdout") == "one\ntwfour\n"


def test_agents(store: Store, sweep_id: str) -> None:
    a = store.register_agent(sweep_id, "host1", 10, at(1))
    b = store.register_agent(sweep_id, "host2", 20, at(2))
    assert a.state is AgentState.RUNNING
    assert a.last_heartbeat == at(1)
    beat = store.heartbeat_agent(a.id, at(5))
    assert (beat.last_heartbeat, beat.state) == (at(5), AgentState.RUNNING)
    gone = store.heartbeat_agent(b.id, at(6), state=AgentState.LOST)
    assert store.get_agent(b.id) == gone
    assert [x.id for x in store.list_agents(sweep_id)] == [a.id, b.id]
    assert (store.get_agent(a.id).host, store.get_agent(a.id).pid) == ("host1", 10)


def test_assign_run_returns_none_without_inserting(store: Store, sweep_id: str) -> None:
    assert store.assign_run(sweep_id, None, lambda runs: None, T0) is None
    assert store.list_runs(sweep_id) == []
    agent = store.register_agent(sweep_id, "h", 1, T0)
    run = store.assign_run(sweep_id, agent.id, lambda runs: {"x": len(runs)}, T0)
    assert run is not None
    assert (run.agent_id, dict(run.params), run.state) == (agent.id, {"x": 0}, RunState.PENDING)


def test_assign_run_never_hands_out_a_point_twice(store: Store, sweep_id: str) -> None:
    agents = [store.register_agent(sweep_id, f"h{i}", i, T0).id for i in range(8)]
    errors: list[BaseException] = []

    def next_point(runs: Sequence[RunRecord]) -> Mapping[str, Any] | None:
        used = {run.params["i"] for run in runs}
        free = next(i for i in range(len(used) + 1) if i not in used)
        return None if free >= 100 else {"i": free}

    def worker(agent_id: str) -> None:
        try:
            for _ in range(25):
                store.assign_run(sweep_id, agent_id, next_point, T0)
        except BaseException as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    points = sorted(run.params["i"] for run in store.list_runs(sweep_id))
    assert points == list(range(100))


# -- SQL only: migrations and the revision check ---------------------------------------------


def test_migration_applies_on_fresh_file_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    with open_store(path) as first:
        sweep = first.create_sweep("p", {"a": 1}, T0)
    with open_store(path) as second:
        assert second.get_sweep(sweep.id) == sweep
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        journal = conn.execute(sa.text("PRAGMA journal_mode")).scalar()
    engine.dispose()
    assert revision == head_revision()
    assert journal == "wal"


def test_unknown_revision_names_the_upgrade_command(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    open_store(path).close()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff9999'"))
    engine.dispose()
    with pytest.raises(StoreError) as info:
        open_store(path)
    message = str(info.value)
    assert UPGRADE_COMMAND in message
    assert "older than the database" in message


def test_foreign_tables_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE stuff (x INTEGER)"))
    engine.dispose()
    with pytest.raises(StoreError, match="no hypersweep schema revision"):
        open_store(path)


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="database URL"):
        open_store("nosuchdialect://x/y")


def test_upgrading_a_0001_database_keeps_its_runs_and_counts_their_rows(tmp_path: Path) -> None:
    from hypersweep.store._migrate import _config

    path = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        from alembic import command

        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(sa.text("INSERT INTO projects VALUES ('p', '2026-01-01 00:00:00')"))
        conn.execute(
            sa.text(
                "INSERT INTO sweeps VALUES ('s', 'p', NULL, '{}', 'running', "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO runs (id, sweep_id, name, params, state, created_at, summary, "
                "stopped, search_info) VALUES ('r', 's', 'r', '{}', 'running', "
                "'2026-01-01 00:00:00', '{}', 0, '{}')"
            )
        )
        for step in range(3):
            conn.execute(
                sa.text(f"INSERT INTO history (run_id, step, metrics) VALUES ('r', {step}, '{{}}')")
            )
    engine.dispose()
    with pytest.raises(StoreError, match=UPGRADE_COMMAND):
        open_store(path)
    from hypersweep.cli.server import _upgrade

    assert _upgrade(str(path)) == ("0001", head_revision())
    with open_store(path) as store:
        assert store.get_run("r").history_rows == 3
        store.log_history("r", [(2**40, {"tokens": 1})], T0)  # 64-bit steps
        assert store.history("r")[-1].step == 2**40


def test_migrations_create_exactly_the_tables(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from hypersweep.store._tables import metadata

    path = tmp_path / "schema.db"
    open_store(path).close()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


# -- credentials -------------------------------------------------------------------------------


def _key(key_id: str, digest: str, kind: KeyKind = KeyKind.API, **extra: Any) -> KeyRecord:
    return KeyRecord(key_id, f"name-{key_id}", KeyRole.AGENT, kind, digest, at(0), **extra)


def test_keys_round_trip_by_digest(store: Store) -> None:
    stored = store.add_key(_key("k1", "a" * 64, expires_at=at(60)))
    assert store.find_key("a" * 64) == stored
    assert stored.role is KeyRole.AGENT
    assert stored.expires_at == at(60)
    assert store.find_key("b" * 64) is None
    assert stored.valid_at(at(59))
    assert not stored.valid_at(at(60))


def test_duplicate_key_id_or_digest_conflicts(store: Store) -> None:
    store.add_key(_key("k1", "a" * 64))
    with pytest.raises(ConflictError):
        store.add_key(_key("k1", "b" * 64))
    with pytest.raises(ConflictError):
        store.add_key(_key("k2", "a" * 64))


def test_list_keys_by_kind_oldest_first(store: Store) -> None:
    store.add_key(_key("k2", "b" * 64))
    store.add_key(_key("s1", "c" * 64, kind=KeyKind.SESSION))
    store.add_key(_key("k1", "a" * 64))
    assert [k.id for k in store.list_keys()] == ["k1", "k2"]
    assert [k.id for k in store.list_keys(KeyKind.SESSION)] == ["s1"]
    assert len(store.list_keys(None)) == 3


def test_revoke_key_once(store: Store) -> None:
    store.add_key(_key("k1", "a" * 64))
    assert store.revoke_key("k1", at(5)) is True
    assert store.revoke_key("k1", at(6)) is False
    revoked = store.find_key("a" * 64)
    assert revoked is not None
    assert revoked.revoked_at == at(5)
    assert not revoked.valid_at(at(7))
    with pytest.raises(NotFoundError):
        store.revoke_key("nope", at(5))


def test_concurrent_revocations_succeed_exactly_once(store: Store) -> None:
    store.add_key(_key("k1", "a" * 64, kind=KeyKind.LOGIN))
    results: list[bool] = []
    lock = threading.Lock()

    def revoke() -> None:
        outcome = store.revoke_key("k1", at(1))
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=revoke) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False] * 7 + [True]


def test_run_name_and_meta_are_merged(store: Store, sweep_id: str) -> None:
    run = store.create_run(sweep_id, {"x": 1}, T0)
    assert run.meta == {}
    store.update_run(run.id, at(1), name="baseline", meta={"tags": ["a"], "group": "g"})
    updated = store.update_run(run.id, at(2), meta={"notes": "first try"})
    assert updated.name == "baseline"
    assert updated.meta == {"tags": ["a"], "group": "g", "notes": "first try"}
    assert store.get_run(run.id).meta == updated.meta


def test_agents_keep_their_slot(store: Store, sweep_id: str) -> None:
    plain = store.register_agent(sweep_id, "node-1", 10, T0)
    pinned = store.register_agent(sweep_id, "node-1", 11, at(1), slot="gpu 1")
    assert plain.slot is None
    assert [a.slot for a in store.list_agents(sweep_id)] == [None, "gpu 1"]
    assert store.get_agent(pinned.id).slot == "gpu 1"
