"""``GET /health``: liveness, the version, and which kind of store answers."""

from __future__ import annotations

from fastapi import APIRouter

from hypersweep import __version__
from hypersweep.protocol import Health
from hypersweep.server._context import Ctx
from hypersweep.store import MemoryStore, SqlStore, Store

router = APIRouter(tags=["health"])


def store_kind(store: Store) -> str:
    """memory, sqlite or postgresql."""
    if isinstance(store, MemoryStore):
        return "memory"
    if isinstance(store, SqlStore):
        # SqlStore has no public dialect name yet; its engine is the one place that knows it.
        return store._engine.dialect.name
    return type(store).__name__


@router.get("/health")
async def health(ctx: Ctx) -> Health:
    return Health(version=__version__, store=store_kind(ctx.store))
