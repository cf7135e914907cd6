"""``hypersweep server --workers N``: N server processes on one socket and one database.

Correct with several processes because every decision that must happen once is made inside the
database's own lock: run assignment (and so grid exhaustion and ``run_cap``) under the sweep's
row lock (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite's single writer, ``BEGIN IMMEDIATE`` with a
busy timeout), and stop orders as idempotent updates of the run. Each process's metric-series
cache notices rows another process stored (``controller/_series.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from hypersweep.controller import AGENT_TIMEOUT
from hypersweep.server._app import create_app
from hypersweep.server._embedded import bind, freeze_startup_objects, url_of
from hypersweep.store import open_store

__all__ = ["app_from_env", "serve_workers"]

#: How the parent tells each worker process which database to open, and the lease.
DB_ENV = "HYPERSWEEP_WORKER_DB"
TIMEOUT_ENV = "HYPERSWEEP_WORKER_HEARTBEAT_TIMEOUT"
NO_AUTH_ENV = "HYPERSWEEP_WORKER_NO_AUTH"


def app_from_env() -> FastAPI:
    """The app of one worker process, over the store named by ``HYPERSWEEP_WORKER_DB``."""
    timeout = float(os.environ.get(TIMEOUT_ENV, AGENT_TIMEOUT.total_seconds()))
    auth = os.environ.get(NO_AUTH_ENV) != "1"
    # several processes share the database: a SQLite write may wait for another process
    app = create_app(
        open_store(os.environ[DB_ENV]), heartbeat_timeout=timeout, auth=auth, inline=False
    )
    freeze_startup_objects()
    return app


def serve_workers(
    target: str,
    host: str,
    port: int,
    workers: int,
    *,
    log_level: str = "info",
    on_ready: Callable[[str], None] | None = None,
    heartbeat_timeout: float = AGENT_TIMEOUT.total_seconds(),
    auth: bool = True,
) -> None:
    """Serve the API from ``workers`` processes until Ctrl-C or SIGTERM.

    The caller has opened (and so migrated) the store once before, so workers never race to
    migrate it.

    Raises:
        PortInUse: the address is taken.
    """
    sock = bind(host, port)
    os.environ[DB_ENV] = target  # inherited by the spawned workers
    os.environ[TIMEOUT_ENV] = repr(heartbeat_timeout)
    os.environ[NO_AUTH_ENV] = "0" if auth else "1"
    try:
        config = uvicorn.Config(
            f"{__name__}:app_from_env",
            factory=True,
            workers=workers,
            log_level=log_level,
            access_log=log_level == "debug",
            timeout_graceful_shutdown=10,
        )
        if on_ready is not None:
            on_ready(url_of(sock))
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
