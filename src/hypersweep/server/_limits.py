"""Limits on what a request may hold: ``BodySizeLimit``, the largest body the server reads
(``MAX_BODY_BYTES``, 32 MiB), and ``check_nesting``, the deepest logged value (``MAX_NESTING``).

Without a bound, one request (a history batch of millions of rows, a giant output chunk) makes
the server hold the whole body, then its parsed JSON and pydantic models, in memory at once. A
body over the limit is refused with 413 and an ``ErrorBody`` before it reaches a route:

- with a ``Content-Length`` over the limit, at once, without reading the body;
- without one (chunked transfer), once the bytes received pass the limit: the read is aborted,
  whatever the app answers to the aborted read is dropped, and the 413 is sent instead.

A pure ASGI middleware, not ``BaseHTTPMiddleware``, so streamed answers (server-sent events)
pass through untouched and the body is counted as it arrives rather than after it is read.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hypersweep.errors import RequestTooLarge
from hypersweep.protocol import ErrorBody

__all__ = ["MAX_BODY_BYTES", "MAX_NESTING", "BodySizeLimit", "check_nesting", "nests_deeper"]

_MIB = 1024 * 1024
#: 32 MiB: ~30 times the largest batch the client sends (1,000 rows of typical metrics), far
#: below what one request may cost in memory once parsed.
MAX_BODY_BYTES = 32 * _MIB
#: Levels of JSON objects and arrays inside each other in a logged value (metrics, summary):
#: the server's recursive steps (``finite_json``, the error messages' ``repr``) overflow
#: Python's stack at a few hundred levels; real values use a handful.
MAX_NESTING = 32


class _TooLarge(Exception):
    """Raised into the app from ``receive`` to abort reading a body over the limit."""


class BodySizeLimit:
    """Refuses (413) a request whose body is over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, declared)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to the aborted read (e.g. FastAPI's 400); ours follows
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # FastAPI may wrap _TooLarge in its own error; any error after the abort is ours
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(send, None)

    async def _refuse(self, send: Send, declared: int | None) -> None:
        limit = f"{self.max_bytes / _MIB:g} MiB"
        size = f"is {declared / _MIB:.1f} MiB" if declared is not None else "passed the limit"
        body = ErrorBody(
            error=RequestTooLarge.__name__,
            message=(
                f"the request body {size}; the server accepts at most {limit} per request: "
                "send fewer rows per history batch, or the output in smaller chunks"
            ),
        )
        payload = body.model_dump_json().encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    # the rest of the body is not read; the client must not reuse the connection
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server (uvicorn) refuses it first; count the bytes anyway
    return None


def nests_deeper(value: object, limit: int = MAX_NESTING) -> bool:
    """Whether ``value`` (parsed JSON) has more than ``limit`` levels of objects and arrays;
    iterative, so it is safe on any depth, and it stops at the first level past ``limit``."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def check_nesting(loc: tuple[str | int, ...], value: object) -> None:
    """A 422 naming ``loc`` when ``value`` nests deeper than ``MAX_NESTING``: call it before
    anything walks the value recursively (``finite_json``, the store's JSON encoder)."""
    if value is not None and nests_deeper(value):
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", *loc),
                    # no "input": its repr would recurse as deep as the value
                    "msg": f"nests objects and arrays more than {MAX_NESTING} levels deep; log "
                    "flatter values (e.g. keys like 'val/loss' instead of nested objects)",
                }
            ]
        )
