"""API fuzzing (issue 8 fault test): schemathesis generates requests for every operation of the
server's OpenAPI schema and checks that none answers 5xx and every answer conforms to the schema.

The app runs in-process on a MemoryStore with a seeded sweep, agent and run. Each generated case
is sent as generated (random ids: the 404 paths) and again with the seeded ids in its path (the
paths that reach the store and the controller). The example count is bounded and the generation
derandomized, so CI runs the same requests every time, in about a minute on two cores.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from hypersweep.protocol import API_PREFIX
from hypersweep.server import create_app
from hypersweep.server._credentials import mint
from hypersweep.store import KeyRole, MemoryStore

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    response_schema_conformance,
    status_code_conformance,
)

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.timeout(180)

#: Examples per operation: 24 operations x 2 calls each, ~30 s of CPU on this machine.
EXAMPLES = 6
#: The error answers every operation can give (auth, unknown id, conflict, body size, bad
#: request, store down), each an ``ErrorBody``.
ERROR_STATUSES = ("400", "401", "403", "404", "409", "413", "422", "503")
T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
SEED_CONFIG = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"values": list(range(1000))}},
}


# Module-level, because schemathesis reads the schema while pytest collects the tests (its
# fixture-based lazy loader does not work with pytest 9); the fixtures below hand them out.
_STORE = MemoryStore()
_APP = create_app(_STORE, clock=lambda: T0)
_ADMIN_KEY, _ = mint(_STORE, "fuzzer", KeyRole.ADMIN, T0)


@pytest.fixture(scope="module")
def api_headers() -> dict[str, str]:
    """Every header a fuzzed request carries: an admin key, so no operation is refused 401/403
    before its own checks run."""
    return {"Authorization": f"Bearer {_ADMIN_KEY}"}


schema = schemathesis.openapi.from_asgi(
    f"{API_PREFIX}/openapi.json", _APP, headers={"Authorization": f"Bearer {_ADMIN_KEY}"}
)


def _undocumented_errors() -> list[str]:
    """Operations whose schema leaves out one of ``ERROR_STATUSES``."""
    missing = []
    for path, operations in _APP.openapi()["paths"].items():
        for method, operation in operations.items():
            absent = [code for code in ERROR_STATUSES if code not in operation["responses"]]
            if absent:
                missing.append(f"{method.upper()} {path}: {', '.join(absent)}")
    return missing


# every answer's status must be one the schema lists (create_app lists the ErrorBody answers)
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@pytest.fixture(scope="module")
def seeded_ids(api_headers: dict[str, str]) -> Iterator[dict[str, str]]:
    """Path parameters that name stored things: a sweep with an agent and a running run."""
    with TestClient(_APP, base_url=f"http://testserver{API_PREFIX}/") as client:
        client.headers.update(api_headers)
        created = client.post("sweeps", json={"config": SEED_CONFIG, "project": "fuzz"})
        assert created.status_code == 201, created.text
        sweep = created.json()["id"]
        agent = client.post(f"sweeps/{sweep}/agents", json={"host": "h", "pid": 1}).json()["id"]
        [command] = client.post(f"agents/{agent}/heartbeat", json={}).json()["commands"]
        run = command["run_id"]
        assert client.post(f"runs/{run}/start", json={}).status_code == 200
        yield {"sweep": sweep, "agent": agent, "run": run, "project": "fuzz"}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx_or_off_its_schema(
    case: Any, api_headers: dict[str, str], seeded_ids: dict[str, str]
) -> None:
    case.call_and_validate(headers=api_headers, checks=CHECKS)
    names = case.path_parameters or {}
    # never the key id: revoking the fuzzer's own key would turn the rest into 401s; and not
    # the event stream: on a live sweep it streams until the client leaves (seconds per call)
    seeded = {name: seeded_ids[name] for name in names if name in seeded_ids}
    if case.path.endswith("/events"):
        seeded = {}
    if seeded:
        case.path_parameters = {**names, **seeded}
        case.call_and_validate(headers=api_headers, checks=CHECKS)


def test_every_operation_documents_its_error_answers() -> None:
    assert _undocumented_errors() == []
