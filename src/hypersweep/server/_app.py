"""``create_app``: the FastAPI application over one store, and the one error mapping.

Every error answer is a ``protocol.ErrorBody``: a ``HypersweepError`` with its class's
``http_status`` (``ConfigError`` -> 422 with every issue), a malformed request -> 422 naming each
bad field, an unknown path -> 404. A user's mistake is never a 500.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hypersweep import __version__
from hypersweep.controller import AGENT_TIMEOUT, Controller
from hypersweep.dashboard import dashboard_router
from hypersweep.errors import ConfigError, HypersweepError
from hypersweep.protocol import API_PREFIX, ErrorBody
from hypersweep.server import (
    agents,
    events,
    health,
    importance,
    keys,
    login,
    predictions,
    runs,
    sweeps,
)
from hypersweep.server._auth import AuthGate
from hypersweep.server._context import AppContext
from hypersweep.server._convert import issue_out
from hypersweep.server._lanes import Lanes
from hypersweep.server._limits import BodySizeLimit
from hypersweep.server._reaper import Reaper
from hypersweep.store import Store

__all__ = ["create_app"]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def create_app(
    store: Store,
    *,
    clock: Callable[[], datetime] | None = None,
    heartbeat_timeout: float = AGENT_TIMEOUT.total_seconds(),
    auth: bool = True,
    inline: bool | None = None,
) -> FastAPI:
    """The hypersweep HTTP API (``/api/v1``) over ``store``.

    Args:
        store: where sweeps and runs live; the app does not close it.
        clock: returns the current UTC time (default: the system clock); tests pass a fake.
        heartbeat_timeout: seconds after which a silent agent's runs are crashed; while the app
            runs (its lifespan) a timer checks for such agents a few times per timeout.
        auth: refuse requests without a valid API key or session (``server/_auth.py``); off
            only for ``hypersweep server --no-auth`` on a loopback address.
        inline: make the store calls of agents' requests (and of key lookups) on the event
            loop rather than on threads (``server/_lanes.py``); default: when ``store.local``.
            Several processes on one SQLite file pass False: a write there may wait in SQLite's
            busy timeout for another process, which must not stop this one's loop.

    The OpenAPI schema is at ``/api/v1/openapi.json`` and the interactive docs at ``/docs``.
    """
    controller = Controller(store, timedelta(seconds=heartbeat_timeout))
    now = clock or _utcnow

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reaper = Reaper(controller, now, interval=max(0.5, heartbeat_timeout / 4))
        reaper.start()
        try:
            yield
        finally:
            reaper.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="hypersweep",
        version=__version__,
        description="Self-hosted hyperparameter sweeps that speak W&B's sweep YAML.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        # every error answer is an ErrorBody; listed so clients and the API fuzzer know them
        responses={code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 503)},
    )
    app.add_middleware(BodySizeLimit)
    inline = store.local if inline is None else inline
    app.state.hypersweep = AppContext(
        store, controller, now, lanes=Lanes.inline() if inline else Lanes()
    )
    # Routes are matched in order, one by one: the ones agents and training programs call
    # many times a second (heartbeat, history) come first. Events, importance and predictions
    # come before sweeps, whose /sweeps/{project}/{sweep} would take their paths.
    for module in (agents, runs, health, events, importance, predictions, sweeps, keys):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(login.router)
    app.include_router(dashboard_router())
    if auth:
        app.add_middleware(AuthGate, store=store, now=now, inline=inline)
    app.add_exception_handler(HypersweepError, _hypersweep_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    return app


def _error(status: int, error: str, message: str, **extra: Any) -> JSONResponse:
    body = ErrorBody(error=error, message=message, **extra)
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


async def _hypersweep_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HypersweepError)
    issues = [issue_out(issue) for issue in exc.issues] if isinstance(exc, ConfigError) else []
    return _error(exc.http_status, type(exc).__name__, str(exc), issues=issues)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(_describe(error) for error in exc.errors())
    message = f"invalid request to {request.method} {request.url.path}: {problems}"
    return _error(422, "ValidationError", message)


def _describe(error: Any) -> str:
    """One bad field: where (``rows.0.step``), what is wrong, and the value when it helps."""
    loc: Sequence[Any] = error.get("loc", ())
    where = ".".join(str(part) for part in loc[1:] if part != "body") if loc else ""
    kind = error.get("type", "")
    if kind == "json_invalid":
        detail = error.get("ctx", {}).get("error", "")
        return f"the body is not valid JSON ({detail}); send a JSON object"
    if kind == "extra_forbidden":
        return f"{where}: unknown field; remove it (check its spelling)"
    if where == "" and kind in ("model_attributes_type", "dict_type"):
        return "the body must be a JSON object, sent with content-type: application/json"
    if kind == "missing":
        return f"{where or 'body'}: field required"
    message = str(error.get("msg", "invalid"))
    if "input" in error and kind not in ("model_attributes_type", "dict_type"):
        message += f" (got {error['input']!r:.60})"
    return f"{where or 'body'}: {message}"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _error(
            404,
            "NotFoundError",
            f"no endpoint {request.method} {request.url.path}; the API is under {API_PREFIX}, "
            "see /docs",
        )
    if exc.status_code == 405:
        return _error(
            405,
            "HTTPError",
            f"{request.method} is not allowed on {request.url.path}; see /docs for its methods",
        )
    return _error(exc.status_code, "HTTPError", str(exc.detail))
