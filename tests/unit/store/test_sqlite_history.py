"""History rows go to SQLite through the driver (``_sqlite.insert_history``): every value reads
back as it was logged, and a driver error is a ``StoreError`` like any other."""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from hypersweep.errors import StoreError
from hypersweep.store import HistoryWrite, RunRecord, SqlStore, open_store

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
METRICS = {
    "loss": 0.25,
    "big": 2**62,
    "ok": True,
    "none": None,
    "name": "résumé ✓",
    "nested": {"a": [1, 2.5, {"b": "c"}]},
}


def test_rows_written_through_the_driver_read_back_whole(tmp_path: Path) -> None:
    metrics = {**METRICS, "huge": 2**70, "nan": float("nan"), "inf": float("-inf")}
    store = open_store(tmp_path)
    sweep = store.create_sweep("p", {"method": "random", "parameters": {}}, NOW)
    run = store.create_run(sweep.id, {}, NOW)
    store.log_history(run.id, [(0, metrics), (7, {"loss": 0.125})], NOW, batch=1)
    first, second = store.history(run.id)
    back = dict(first.metrics)
    assert math.isnan(back.pop("nan")) and back.pop("inf") == float("-inf")
    assert (first.step, back) == (0, {**METRICS, "huge": 2**70})
    assert (second.step, dict(second.metrics)) == (7, {"loss": 0.125})
    assert store.get_run(run.id).history_rows == 2
    with sqlite3.connect(tmp_path / "hypersweep.db") as db:
        (text,) = db.execute("SELECT metrics FROM history WHERE step = 7").fetchone()
    assert text == '{"loss":0.125}'  # compact JSON, which every reader parses


def test_a_driver_error_is_a_store_error_and_the_batch_is_not_counted(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    sweep = store.create_sweep("p", {"method": "random", "parameters": {}}, NOW)
    run = store.create_run(sweep.id, {}, NOW)
    with sqlite3.connect(tmp_path / "hypersweep.db") as db:
        db.execute("ALTER TABLE history RENAME TO history_elsewhere")
    with pytest.raises(StoreError, match="no such table: history"):
        store.log_history(run.id, [(0, {"loss": 1.0})], NOW, batch=1)
    after = store.get_run(run.id)
    assert (after.history_rows, after.last_batch) == (0, None)


def test_batches_stored_together_take_the_statements_of_one(tmp_path: Path) -> None:
    # What makes a group cheaper than its batches one by one: a lock-and-read of the runs, the
    # rows at once, one update of every run, however many batches and runs.
    store = open_store(tmp_path)
    assert isinstance(store, SqlStore)
    sweep = store.create_sweep("p", {"method": "random", "parameters": {}}, NOW)
    runs = [store.create_run(sweep.id, {}, NOW).id for _ in range(5)]
    statements: list[str] = []
    sa.event.listen(
        store._engine,  # the statements it sends are what is tested
        "before_cursor_execute",
        lambda _conn, _cursor, statement, *_: statements.append(statement.split()[0]),
    )
    one = store.log_histories([HistoryWrite(runs[0], [(0, {"loss": 1.0})], batch=1)], NOW)
    assert isinstance(one[0], RunRecord)
    single = list(statements)
    statements.clear()
    writes = [
        HistoryWrite(run, [(step, {"loss": 1.0})], batch=step + 2)
        for step in range(4)
        for run in runs
    ]
    assert all(isinstance(answer, RunRecord) for answer in store.log_histories(writes, NOW))
    assert statements == single == ["BEGIN", "SELECT", "UPDATE"]
    assert [store.get_run(run).history_rows for run in runs] == [5, 4, 4, 4, 4]
