"""The threads of one process queue for SQLite's write lock in Python, not in its busy handler."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hypersweep.store import _sqlite, open_store

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_concurrent_writers_of_one_process_never_meet_a_locked_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With no busy timeout, a writer that found the write lock taken would fail at once with
    # "database is locked": every write below succeeds only because writers queue in Python.
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT_MS", 0)
    store = open_store(tmp_path)
    sweep = store.create_sweep("p", {"method": "random", "parameters": {}}, NOW)
    runs = [store.create_run(sweep.id, {}, NOW) for _ in range(8)]
    failures: list[BaseException] = []
    start = threading.Barrier(len(runs))

    def log(run_id: str) -> None:
        start.wait()
        try:
            for step in range(40):
                store.log_history(run_id, [(step, {"loss": 1.0 / (step + 1)})], NOW, batch=step + 1)
        except BaseException as exc:  # collected for the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=log, args=(run.id,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    assert failures == []
    reopened = open_store(tmp_path)
    assert [run.history_rows for run in reopened.list_runs(sweep.id)] == [40] * len(runs)
    reopened.close()
