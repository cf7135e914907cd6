"""Everything SQLite-specific, in one place: pragmas, write-locking transactions, and history
rows written through the driver.

pysqlite's own transaction handling defers BEGIN until the first write, which breaks
read-then-write atomicity; so the driver's handling is switched off (``isolation_level = None``)
and every transaction emits its own BEGIN: ``BEGIN IMMEDIATE`` for writes, so the write lock
is taken before the first read (this is what makes ``assign_run`` atomic across processes and
avoids lock-upgrade deadlocks that ``busy_timeout`` cannot resolve).

SQLite has one writer. A thread that finds the write lock taken sleeps in SQLite's busy handler
(steps of 1, 2, 5 ... 100 ms) and is not woken when the lock is freed: under load most of a
request's time went there. So the threads of one process queue for writing on a Python lock,
and the next one goes the moment it is released; other processes still meet the busy timeout.

A history batch is the server's most frequent write. Through SQLAlchemy's insert each row's
parameters are built and its JSON column encoded by a per-row processor: 0.82-0.92 ms of CPU
for 50 rows, against 0.64 ms when the rows go to the driver's ``executemany`` as tuples with
their JSON already encoded (``insert_history``). The encoding is pydantic-core's ``to_json``
(already a dependency): 1.4 us a row against 7.2 us for ``json.dumps``, the same values read
back (NaN and infinities as ``json.dumps`` writes them), compact and in UTF-8.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_json
from sqlalchemy import event

__all__ = ["BUSY_TIMEOUT_MS", "WRITE_OPTION", "configure_sqlite", "insert_history"]

BUSY_TIMEOUT_MS = 30_000
#: Execution option that marks a connection's next transaction as a write transaction.
WRITE_OPTION = "hypersweep_write"


def configure_sqlite(engine: sa.Engine) -> threading.Lock:
    """Install the connect and begin hooks on a SQLite ``engine``; returns the lock that its
    write transactions must hold (see the module docstring)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return threading.Lock()


_INSERT_HISTORY = "INSERT INTO history (run_id, step, metrics) VALUES (?, ?, ?)"


def insert_history(conn: sa.Connection, rows: Sequence[tuple[str, int, Mapping[str, Any]]]) -> None:
    """Append ``rows`` (run id, step, metrics), of one run or several, to the history table
    inside ``conn``'s transaction.

    Driver errors are SQLAlchemy's, as for any other statement, so the store's transaction
    turns them into ``StoreError`` alike.
    """
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection inside a transaction is checked out
    values = [(run_id, int(step), to_json(metrics).decode()) for run_id, step, metrics in rows]
    try:
        driver.executemany(_INSERT_HISTORY, values)
    except sqlite3.Error as exc:
        raise sa.exc.DBAPIError.instance(_INSERT_HISTORY, None, exc, sqlite3.Error) from exc
