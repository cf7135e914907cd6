"""Access control endpoints: who am I (``/auth``) and API keys (``/keys``, admin only)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from hypersweep.errors import NotFoundError
from hypersweep.protocol import KeyCreate, KeyCreated, KeyOut, Principal
from hypersweep.server._auth import OPEN_ACCESS
from hypersweep.server._auth import Principal as Who
from hypersweep.server._context import Ctx
from hypersweep.server._credentials import mint
from hypersweep.store import KeyKind, KeyRecord, KeyRole

router = APIRouter(tags=["access"])


def _key_out(key: KeyRecord) -> KeyOut:
    return KeyOut(
        id=key.id,
        name=key.name,
        role=key.role.value,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


@router.get("/auth")
def whoami(request: Request) -> Principal:
    who: Who = getattr(request.state, "principal", OPEN_ACCESS)
    return Principal.model_validate({"name": who.name, "role": who.role.value, "via": who.via})


@router.post("/keys", status_code=201)
def create_key(body: KeyCreate, ctx: Ctx) -> KeyCreated:
    secret, key = mint(ctx.store, body.name, KeyRole(body.role), ctx.now())
    return KeyCreated(**_key_out(key).model_dump(), key=secret)


@router.get("/keys")
def list_keys(ctx: Ctx) -> list[KeyOut]:
    return [_key_out(key) for key in ctx.store.list_keys(KeyKind.API)]


@router.delete("/keys/{key}")
def revoke_key(key: str, ctx: Ctx) -> KeyOut:
    found = next((k for k in ctx.store.list_keys(KeyKind.API) if k.id == key), None)
    if found is None:
        raise NotFoundError(f"no API key with id {key!r}; `hypersweep key list` shows the ids")
    ctx.store.revoke_key(key, ctx.now())
    revoked = ctx.store.find_key(found.digest)
    assert revoked is not None
    return _key_out(revoked)
