"""The dashboard's login: a one-time link or a pasted key opens a session cookie.

The cookie is HttpOnly (page scripts cannot read it) and SameSite=Strict (other sites cannot
make the browser send it); the session is stored like a key, as a digest, for 30 days.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hypersweep.credentials import digest
from hypersweep.server._auth import SESSION_COOKIE, authenticate, login_page
from hypersweep.server._context import Ctx
from hypersweep.server._credentials import SESSION_LIFETIME, mint
from hypersweep.store import KeyKind, KeyRole

router = APIRouter(include_in_schema=False)

_FORM_LIMIT = 16 * 1024  # bytes: a key and a path, nothing more


def _safe_next(path: str | None) -> str:
    """Only a path on this server: an open redirect would let a link send users elsewhere."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def _open_session(request: Request, ctx: Ctx, role: KeyRole, name: str, to: str) -> Response:
    secret, _ = mint(ctx.store, name, role, ctx.now(), KeyKind.SESSION, SESSION_LIFETIME)
    response = RedirectResponse(_safe_next(to), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.get("/login")
def login_form(request: Request, ctx: Ctx, token: str | None = None, next: str = "/") -> Response:
    if token is None:
        return HTMLResponse(login_page(_safe_next(next)))
    link = ctx.store.find_key(digest(token))
    usable = link is not None and link.kind is KeyKind.LOGIN and link.valid_at(ctx.now())
    # revoking is the atomic step: of two tabs opening the same link, one gets the session
    if link is None or not usable or not ctx.store.revoke_key(link.id, ctx.now()):
        problem = (
            "This login link was already used or has expired. Restart the server for a new "
            "one, or paste an API key."
        )
        return HTMLResponse(login_page(_safe_next(next), problem), status_code=401)
    return _open_session(request, ctx, link.role, "dashboard session (login link)", next)


@router.post("/login")
async def login_with_key(request: Request, ctx: Ctx) -> Response:
    body = (await request.body())[:_FORM_LIMIT].decode("utf-8", "replace")
    form = {name: values[0] for name, values in parse_qs(body).items()}
    next_path = _safe_next(form.get("next"))
    key = (
        authenticate(ctx.store, form.get("key", "").strip(), ctx.now()) if form.get("key") else None
    )
    if key is None or key.kind is not KeyKind.API:
        problem = "That key is not valid (unknown, expired or revoked)."
        return HTMLResponse(login_page(next_path, problem), status_code=401)
    return _open_session(request, ctx, key.role, f"dashboard session of {key.name}", next_path)


@router.post("/logout")
def logout(request: Request, ctx: Ctx) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        session = ctx.store.find_key(digest(secret))
        if session is not None and session.kind is KeyKind.SESSION:
            ctx.store.revoke_key(session.id, ctx.now())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
