"""Who may do what: every request but health, login and static files needs a valid key.

A request authenticates with ``Authorization: Bearer <key>`` (CLI, agents, scripts) or with the
dashboard's session cookie. Roles: ``admin`` may do everything; ``agent`` may read and do what
agents and training scripts do (register, heartbeat, report runs, import offline runs); ``read``
may only read. Key management is admin-only, reading included.

The gate is a pure ASGI middleware, not a FastAPI dependency, so it also covers the dashboard's
pages, ``/docs`` and unknown paths, and streams (server-sent events) pass through untouched.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from hypersweep.credentials import digest
from hypersweep.errors import HypersweepError
from hypersweep.protocol import API_PREFIX, ErrorBody
from hypersweep.store import KeyKind, KeyRecord, KeyRole, Store

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "AuthGate",
    "Principal",
    "authenticate",
    "login_page",
    "permits",
]

SESSION_COOKIE = "hypersweep_session"
#: The dashboard sends this header on every request. A cross-site page can make a browser send
#: the session cookie (SameSite=Strict already stops that in current browsers) but cannot add a
#: custom header without a CORS preflight, which this server never grants.
CSRF_HEADER = "x-hypersweep-request"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Key lookups at once: each is one indexed read, and every request of an agent makes one.
LOOKUP_THREADS = 4
_OPEN_PATHS = frozenset({f"{API_PREFIX}/health", "/login", "/logout", "/favicon.ico"})
# what the agent role may write: agents' registration and heartbeats, run reports, run imports
_AGENT_WRITES = re.compile(
    rf"^{API_PREFIX}/(agents/[^/]+/(?:heartbeat|leave)|runs/[^/]+/[a-z]+|sweeps/(?:[^/]+/)?[^/]+/(agents|runs))$"
)


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as; ``via`` is "key", "session" or "none" (--no-auth)."""

    name: str
    role: KeyRole
    via: str
    key_id: str | None = None


OPEN_ACCESS = Principal("anonymous (--no-auth)", KeyRole.ADMIN, "none")


def permits(role: KeyRole, method: str, path: str) -> bool:
    """Whether a key of ``role`` may send ``method`` to ``path``.

    Example:
        >>> permits(KeyRole.READ, "POST", "/api/v1/sweeps")
        False
        >>> permits(KeyRole.AGENT, "POST", "/api/v1/runs/ab12cd34/history")
        True
    """
    if role is KeyRole.ADMIN:
        return True
    if path == f"{API_PREFIX}/keys" or path.startswith(f"{API_PREFIX}/keys/"):
        return False
    if method in _SAFE_METHODS:
        return True
    return role is KeyRole.AGENT and _AGENT_WRITES.match(path) is not None


def authenticate(store: Store, secret: str, now: datetime) -> KeyRecord | None:
    """The valid (unrevoked, unexpired) key or session with this secret, or None."""
    wanted = digest(secret)
    key = store.find_key(wanted)
    # the lookup is by digest; compare it again in constant time so no timing depends on it
    if key is None or not hmac.compare_digest(key.digest, wanted) or not key.valid_at(now):
        return None
    if key.kind is KeyKind.LOGIN:  # a login link opens a session; it is not a key
        return None
    return key


def _bearer(headers: dict[bytes, bytes]) -> str | None:
    value = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _cookie(headers: dict[bytes, bytes], name: str) -> str | None:
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


class AuthGate:
    """The ASGI middleware that refuses requests without a valid key (401) or role (403)."""

    def __init__(
        self, app: ASGIApp, store: Store, now: Callable[[], datetime], inline: bool = False
    ) -> None:
        self.app = app
        self.store = store
        self.now = now
        # The key lookup reads the store: on the event loop when the agents' endpoints run
        # there too (a local store), else on a thread pool of its own, as the agents' lanes do
        # (server/_lanes.py): anyio's run_sync cost more CPU.
        self._lookups = (
            None
            if inline
            else ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="hypersweep-auth")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in _OPEN_PATHS or path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        bearer = _bearer(headers)
        session = None if bearer else _cookie(headers, SESSION_COOKIE)
        secret = bearer or session
        key = None
        if secret is not None:
            try:
                key = (
                    authenticate(self.store, secret, self.now())
                    if self._lookups is None
                    else await asyncio.get_running_loop().run_in_executor(
                        self._lookups, authenticate, self.store, secret, self.now()
                    )
                )
            except HypersweepError as exc:  # the app's error handlers are inside this gate
                await _send_error(send, exc.http_status, type(exc).__name__, str(exc))
                return
        if key is None:
            await _refuse_unauthenticated(scope, send, headers, presented=secret is not None)
            return
        via = "session" if session else "key"
        method: str = scope["method"]
        if not permits(key.role, method, path):
            await _send_error(
                send,
                403,
                "ForbiddenError",
                f"the key {key.name!r} has role {key.role.value}, which may not {method} "
                f"{path}; use a key with role admin (hypersweep key create --role admin)",
            )
            return
        if via == "session" and method not in _SAFE_METHODS and CSRF_HEADER.encode() not in headers:
            await _send_error(
                send,
                403,
                "ForbiddenError",
                f"refused a cross-site {method} {path}: the dashboard's own requests carry the "
                f"{CSRF_HEADER} header; scripts send their key in the Authorization header",
            )
            return
        scope.setdefault("state", {})["principal"] = Principal(key.name, key.role, via, key.id)
        await self.app(scope, receive, send)


async def _refuse_unauthenticated(
    scope: Scope, send: Send, headers: dict[bytes, bytes], *, presented: bool
) -> None:
    path: str = scope["path"]
    wants_html = b"text/html" in headers.get(b"accept", b"")
    if wants_html and not path.startswith(API_PREFIX):
        await _send(send, 401, "text/html; charset=utf-8", login_page(next_path=path).encode())
        return
    problem = (
        "the API key is not valid (unknown, expired or revoked)"
        if presented
        else "this server needs an API key"
    )
    await _send_error(
        send,
        401,
        "AuthError",
        f"{problem}: set HYPERSWEEP_API_KEY, or run `hypersweep login SERVER_URL` once, or open "
        "the login link the server printed at start",
        extra_headers=[(b"www-authenticate", b'Bearer realm="hypersweep"')],
    )


async def _send_error(
    send: Send,
    status: int,
    error: str,
    message: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = ErrorBody(error=error, message=message).model_dump_json().encode()
    await _send(send, status, "application/json", body, extra_headers)


async def _send(
    send: Send,
    status: int,
    content_type: str,
    body: bytes,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(extra_headers or []),
    ]
    start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body})


def login_page(next_path: str = "/", problem: str | None = None) -> str:
    """The dashboard's login page: paste an API key (or open the link the server printed)."""
    notice = f'<p class="problem">{escape(problem)}</p>' if problem else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hypersweep: log in</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><main class="login">
<h1>hypersweep</h1>
<p>This server needs an API key. Open the login link the server printed when it started, or
paste a key (<code>hypersweep key create --name NAME --role read</code> makes one).</p>
{notice}
<form method="post" action="/login">
<input type="hidden" name="next" value="{escape(next_path)}">
<label>API key <input type="password" name="key" autocomplete="current-password" required
autofocus></label>
<button type="submit">Log in</button>
</form></main></body></html>
"""
