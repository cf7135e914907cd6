"""Everything SQLite-specific, in one place: pragmas and write-locking transactions.

pysqlite's own transaction handling defers BEGIN until the first write, which breaks
read-then-write atomicity; so the driver's handling is switched off (``isolation_level = None``)
and every transaction emits its own BEGIN: ``BEGIN IMMEDIATE`` for writes, so the write lock
is taken before the first read (this is what makes ``assign_run`` atomic across processes and
avoids lock-upgrade deadlocks that ``busy_timeout`` cannot resolve).

SQLite has one writer. A thread that finds the write lock taken sleeps in SQLite's busy handler
(steps of 1, 2, 5 ... 100 ms) and is not woken when the lock is freed: under load most of a
request's time went there. So the threads of one process queue for writing on a Python lock,
and the next one goes the moment it is released; other processes still meet the busy timeout.
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

__all__ = ["BUSY_TIMEOUT_MS", "WRITE_OPTION", "configure_sqlite"]

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
