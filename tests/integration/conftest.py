"""The HTTP API over every store: ``client`` is a ``TestClient`` on ``create_app(store, clock)``.

``store`` runs each test on MemoryStore, SqlStore on SQLite in ``tmp_path``, and SqlStore on
PostgreSQL when ``HYPERSWEEP_TEST_PG_URL`` is set: one schema per session, made and dropped by
``tests/_pg.py``, emptied before each test. Every answer the client gets is
checked on the way: never a 5xx, and every 4xx body is an ``ErrorBody``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.exceptions import StarletteDeprecationWarning

from _pg import fresh_schema
from _servers import server_thread
from hypersweep.protocol import API_PREFIX, ErrorBody
from hypersweep.server import create_app
from hypersweep.server._credentials import mint
from hypersweep.store import KeyRole, MemoryStore, SqlStore, Store, open_store

with warnings.catch_warnings():
    # Starlette warns on import that it prefers httpx2 over httpx; the venv pins httpx (the
    # client's transport), and the suite turns warnings into errors.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


class FakeClock:
    """The app's clock: starts at ``T0`` and moves only when a test says so."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[tuple[SqlStore, sa.Engine]]:
    """One PostgreSQL schema for the session, migrated once (migrating per test costs ~0.5 s)."""
    with fresh_schema("hs_api") as url:
        store = SqlStore(url)
        in_schema = sa.create_engine(url)
        try:
            yield store, in_schema
        finally:
            store.close()
            in_schema.dispose()


def _emptied(store: SqlStore, engine: sa.Engine) -> SqlStore:
    """The session's PostgreSQL store with every row gone, so each test starts from nothing."""
    with engine.begin() as conn:
        tables = conn.execute(
            sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{name}"' for name in tables)
        if names:
            conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))
    return store


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
        yield _emptied(*request.getfixturevalue("pg_schema"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _check_answer(response: httpx.Response) -> None:
    response.read()
    request = response.request
    assert response.status_code < 500, (
        f"{request.method} {request.url.path} answered {response.status_code}: {response.text}"
    )
    if response.status_code >= 400:
        ErrorBody.model_validate(response.json())


class Api(TestClient):
    """A ``TestClient`` rooted at ``/api/v1/`` with the few calls every API test repeats."""

    def ok(self, response: httpx.Response, status: int = 200) -> Any:
        """The answer's JSON, after checking its status."""
        assert response.status_code == status, response.text
        return response.json()

    def error(self, response: httpx.Response, status: int) -> ErrorBody:
        """The answer's ErrorBody, after checking its status."""
        assert response.status_code == status, response.text
        return ErrorBody.model_validate(response.json())

    def create_sweep(self, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.ok(self.post("sweeps", json={"config": config, **extra}), 201)
        return body

    def register_agent(self, sweep_id: str, host: str = "node-1") -> str:
        body = {"host": host, "pid": 4242}
        agent_id: str = self.ok(self.post(f"sweeps/{sweep_id}/agents", json=body), 201)["id"]
        return agent_id

    def heartbeat(self, agent_id: str, running: list[str] | None = None) -> list[dict[str, Any]]:
        body = {"running": running or []}
        commands: list[dict[str, Any]] = self.ok(
            self.post(f"agents/{agent_id}/heartbeat", json=body)
        )["commands"]
        return commands

    def next_run(self, agent_id: str) -> dict[str, Any]:
        """Heartbeat an idle agent and return the ``run`` command it must get."""
        commands = self.heartbeat(agent_id)
        assert [command["type"] for command in commands] == ["run"], commands
        return commands[0]

    def run(self, run_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.ok(self.get(f"runs/{run_id}"))
        return body

    def sweep(self, sweep_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.ok(self.get(f"sweeps/{sweep_id}"))
        return body


@pytest.fixture
def admin_key(store: Store, clock: FakeClock) -> str:
    """An admin API key stored in ``store``: what every request of ``client`` sends."""
    secret, _ = mint(store, "test admin", KeyRole.ADMIN, clock())
    return secret


@pytest.fixture
def client(store: Store, clock: FakeClock, admin_key: str) -> Iterator[Api]:
    app = create_app(store, clock=clock)
    # raise_server_exceptions (the default) turns any unhandled error into a test failure too.
    with Api(app, base_url=f"http://testserver{API_PREFIX}/") as test_client:
        test_client.event_hooks = {"response": [_check_answer]}
        test_client.headers["Authorization"] = f"Bearer {admin_key}"
        yield test_client


# -- a live server in this process, for the client library and the function agent ---------------


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real server on loopback (SQLite), which the client library finds by HYPERSWEEP_SERVER."""
    with server_thread() as url:
        monkeypatch.setenv("HYPERSWEEP_SERVER", url)
        yield url


@pytest.fixture
def fast_heartbeats(clean_client: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Agents in this process heartbeat every 0.1 s: a test waits tenths, not seconds."""
    monkeypatch.setenv("HYPERSWEEP_AGENT_HEARTBEAT", "0.1")
