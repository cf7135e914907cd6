"""Access control: every route needs a valid key, roles limit writes, revocation is immediate,
and the dashboard's login link and session cookie are safe against cross-site requests."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from hypersweep.errors import StoreError
from hypersweep.protocol import API_PREFIX
from hypersweep.server import create_app
from hypersweep.server._credentials import login_link, mint
from hypersweep.store import KeyRole, Store

if TYPE_CHECKING:
    from conftest import Api, FakeClock

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SWEEP = {"method": "grid", "parameters": {"x": {"values": [1, 2]}}}


def _paths(client: Api) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI schema, with its path parameters filled in."""
    schema = client.ok(client.get("openapi.json"))
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x1", path))
        for path, item in schema["paths"].items()
        for method in item
    ]


def _anonymous(client: Api, checked: bool = True) -> Api:
    """A client with no key; ``checked``: its 4xx answers must be JSON ErrorBodies."""
    anonymous = type(client)(client.app, base_url=str(client.base_url))
    if checked:
        anonymous.event_hooks = client.event_hooks
    return anonymous


def _with_key(client: Api, secret: str) -> Api:
    other = _anonymous(client)
    other.headers["Authorization"] = f"Bearer {secret}"
    return other


def test_every_route_but_health_refuses_requests_without_a_key(client: Api) -> None:
    anonymous = _anonymous(client)
    paths = _paths(client)
    assert len(paths) >= 20
    for method, path in paths:
        response = anonymous.request(method, f"http://testserver{path}", json={})
        if path == f"{API_PREFIX}/health":
            assert response.status_code == 200
            continue
        error = anonymous.error(response, 401)
        assert error.error == "AuthError", (method, path)
        assert "HYPERSWEEP_API_KEY" in error.message
        assert "hypersweep login" in error.message
        assert response.headers["www-authenticate"].startswith("Bearer")
    for page in ("/", "/sweeps/x1", "/runs/x1", "/docs", f"{API_PREFIX}/openapi.json"):
        response = anonymous.get(f"http://testserver{page}")
        assert response.status_code == 401, page


def test_a_wrong_key_is_refused_with_a_sentence(client: Api) -> None:
    wrong = _with_key(client, "hs_not-a-key")
    error = wrong.error(wrong.get("sweeps"), 401)
    assert "not valid" in error.message


def test_dashboard_pages_without_a_session_show_the_login_form(client: Api) -> None:
    anonymous = _anonymous(client, checked=False)
    response = anonymous.get("http://testserver/", headers={"accept": "text/html"})
    assert response.status_code == 401
    assert '<form method="post" action="/login">' in response.text


def test_read_key_reads_but_may_not_write(client: Api, store: Store, clock: FakeClock) -> None:
    sweep_id = client.create_sweep(SWEEP)["id"]
    secret, _ = mint(store, "viewer", KeyRole.READ, clock())
    reader = _with_key(client, secret)
    assert reader.ok(reader.get(f"sweeps/{sweep_id}"))["id"] == sweep_id
    assert reader.ok(reader.get(f"sweeps/{sweep_id}/runs")) == []
    for method, path, body in [
        ("POST", "sweeps", {"config": SWEEP}),
        ("POST", f"sweeps/{sweep_id}/state", {"action": "pause"}),
        ("POST", f"sweeps/{sweep_id}/agents", {"host": "h", "pid": 1}),
        ("GET", "keys", None),
    ]:
        error = reader.error(reader.request(method, path, json=body), 403)
        assert error.error == "ForbiddenError"
        assert "role read" in error.message
    assert client.sweep(sweep_id)["state"] == "pending"  # nothing changed


def test_agent_key_runs_agents_but_may_not_steer_sweeps(
    client: Api, store: Store, clock: FakeClock
) -> None:
    sweep_id = client.create_sweep(SWEEP)["id"]
    secret, _ = mint(store, "gpu-node", KeyRole.AGENT, clock())
    agent = _with_key(client, secret)
    agent_id = agent.register_agent(sweep_id)
    run_id = agent.next_run(agent_id)["run_id"]
    agent.ok(agent.post(f"runs/{run_id}/start", json={"host": "gpu-node"}))
    rows = {"rows": [{"step": 0, "metrics": {"loss": 1.0}}]}
    agent.ok(agent.post(f"runs/{run_id}/history", json=rows))
    agent.error(agent.post(f"sweeps/{sweep_id}/state", json={"action": "cancel"}), 403)
    agent.error(agent.post("sweeps", json={"config": SWEEP}), 403)
    agent.error(agent.post("keys", json={"name": "more"}), 403)


def test_revoked_key_is_refused_at_once(client: Api, store: Store, clock: FakeClock) -> None:
    made = client.ok(client.post("keys", json={"name": "ci", "role": "agent"}), 201)
    assert made["key"].startswith("hs_")
    ci = _with_key(client, made["key"])
    assert ci.ok(ci.get("auth")) == {"name": "ci", "role": "agent", "via": "key"}
    listed = client.ok(client.get("keys"))
    assert [k["name"] for k in listed if k["id"] == made["id"]] == ["ci"]
    assert all("key" not in k and "digest" not in k for k in listed)  # secrets never leave
    revoked = client.ok(client.delete(f"keys/{made['id']}"))
    assert revoked["revoked_at"] is not None
    ci.error(ci.get("sweeps"), 401)
    client.error(client.delete("keys/nope"), 404)


def test_key_create_names_a_bad_role(client: Api) -> None:
    error = client.error(client.post("keys", json={"name": "x", "role": "root"}), 422)
    assert "role" in error.message


def test_login_link_opens_one_session_with_a_safe_cookie(
    client: Api, store: Store, clock: FakeClock
) -> None:
    link = login_link(store, "http://testserver", clock())
    browser = _anonymous(client)
    response = browser.get(link, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert browser.ok(browser.get("auth"))["via"] == "session"
    again = _anonymous(client, checked=False).get(link, follow_redirects=False)
    assert again.status_code == 401
    assert "already used or has expired" in again.text


def test_login_link_expires(client: Api, store: Store, clock: FakeClock) -> None:
    link = login_link(store, "http://testserver", clock())
    clock.advance(25 * 3600)
    assert _anonymous(client, checked=False).get(link, follow_redirects=False).status_code == 401


def test_session_writes_need_the_dashboard_header(
    client: Api, store: Store, clock: FakeClock
) -> None:
    sweep_id = client.create_sweep(SWEEP)["id"]
    browser = _anonymous(client)
    browser.get(login_link(store, "http://testserver", clock()), follow_redirects=False)
    body: dict[str, Any] = {"action": "cancel"}
    forged = browser.error(browser.post(f"sweeps/{sweep_id}/state", json=body), 403)
    assert "cross-site" in forged.message
    assert client.sweep(sweep_id)["state"] == "pending"
    own = browser.post(
        f"sweeps/{sweep_id}/state", json=body, headers={"x-hypersweep-request": "dashboard"}
    )
    assert browser.ok(own)["state"] == "canceled"


def test_login_form_with_a_key_and_logout(client: Api, store: Store, clock: FakeClock) -> None:
    secret, _ = mint(store, "viewer", KeyRole.READ, clock())
    browser = _anonymous(client, checked=False)
    bad = browser.post("http://testserver/login", data={"key": "hs_wrong", "next": "/"})
    assert bad.status_code == 401
    good = browser.post(
        "http://testserver/login",
        data={"key": secret, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert good.headers["location"] == "/"  # no open redirect
    assert browser.ok(browser.get("auth")) == {
        "name": "dashboard session of viewer",
        "role": "read",
        "via": "session",
    }
    browser.post("http://testserver/logout", follow_redirects=False)
    browser.error(browser.get("auth"), 401)


def test_no_auth_app_answers_everyone(client: Api, store: Store, clock: FakeClock) -> None:
    app = create_app(store, clock=clock, auth=False)
    with type(client)(app, base_url=f"http://testserver{API_PREFIX}/") as anonymous:
        assert anonymous.ok(anonymous.get("auth"))["via"] == "none"
        assert anonymous.ok(anonymous.get("sweeps")) == []


def test_a_database_failure_while_checking_the_key_is_a_503_that_says_so(
    client: Api, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The gate runs outside the app's error handlers: the store's error must still be answered
    # as everywhere else (503 and its sentence, which clients retry), not as a bare 500.
    def failing(digest: str) -> None:
        raise StoreError("the database at test failed: gone; check that it is reachable")

    monkeypatch.setattr(store, "find_key", failing)
    unchecked = _anonymous(client, checked=False)  # this 5xx is the one expected
    unchecked.headers["Authorization"] = client.headers["Authorization"]
    error = unchecked.error(unchecked.get("sweeps"), 503)
    assert error.error == "StoreError"
    assert "check that it is reachable" in error.message
