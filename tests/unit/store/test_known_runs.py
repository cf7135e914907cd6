"""assign_run's callback sees every change to the sweep's runs, whichever process made it,
although the store keeps the decoded runs between calls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hypersweep.domain import RunState
from hypersweep.store import RunRecord, open_store, sql

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_the_callback_sees_changes_made_through_another_store(tmp_path: Path) -> None:
    mine, other = open_store(tmp_path), open_store(tmp_path)  # two server processes
    sweep = mine.create_sweep("p", {"method": "random", "parameters": {}}, NOW)
    first = mine.create_run(sweep.id, {"x": 1}, NOW)
    seen: list[list[tuple[str, RunState, dict[str, object]]]] = []

    def record(runs: Sequence[RunRecord]) -> None:
        seen.append([(run.id, run.state, dict(run.summary)) for run in runs])

    mine.assign_run(sweep.id, None, record, NOW)
    other.update_run(first.id, NOW, state=RunState.RUNNING)
    second = other.create_run(sweep.id, {"x": 2}, NOW)
    mine.assign_run(sweep.id, None, record, NOW)
    other.log_history(first.id, [(0, {"loss": 0.5})], NOW, summary={"loss": 0.5})
    other.update_run(second.id, NOW, state=RunState.CRASHED)
    mine.assign_run(sweep.id, None, record, NOW)

    assert seen == [
        [(first.id, RunState.PENDING, {})],
        [(first.id, RunState.RUNNING, {}), (second.id, RunState.PENDING, {})],
        [(first.id, RunState.RUNNING, {"loss": 0.5}), (second.id, RunState.CRASHED, {})],
    ]
    mine.close()
    other.close()


def test_kept_runs_stay_within_the_budget_and_evicted_sweeps_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "_KEPT_RUNS", 3)
    store = open_store(tmp_path)
    sweeps = [store.create_sweep("p", {"method": "random", "parameters": {}}, NOW) for _ in "ab"]
    made = {s.id: [store.create_run(s.id, {"i": i}, NOW).id for i in range(2)] for s in sweeps}
    for sweep in [*sweeps, *sweeps]:
        listed = store.list_runs(sweep.id, shared=True)
        assert [run.id for run in listed] == made[sweep.id]
        assert sum(len(runs) for runs in store._known.values()) <= 3
    assert list(store._known) == [sweeps[1].id]  # the least recently read went first
    store.close()
