"""What every handler needs: the store, its controller and the clock, from ``app.state``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from hypersweep.controller import Controller
from hypersweep.errors import NotFoundError
from hypersweep.server._lanes import Lanes
from hypersweep.store import Store, SweepRecord

__all__ = ["AppContext", "Ctx", "add_sweep_route", "resolve_sweep"]


@dataclass(frozen=True)
class AppContext:
    store: Store
    controller: Controller
    clock: Callable[[], datetime]
    lanes: Lanes = field(default_factory=Lanes)

    def now(self) -> datetime:
        return self.clock()


async def _context(request: Request) -> AppContext:
    context: AppContext = request.app.state.hypersweep
    return context


Ctx = Annotated[AppContext, Depends(_context)]


def resolve_sweep(ctx: AppContext, sweep_id: str, project: str | None = None) -> SweepRecord:
    """The sweep named by ``ID`` or ``PROJECT/ID``; a wrong project is a 404 that says so."""
    sweep = ctx.store.get_sweep(sweep_id)
    if project is not None and project != sweep.project:
        raise NotFoundError(
            f"sweep {sweep_id!r} is in project {sweep.project!r}, not {project!r}; use "
            f"{sweep.project}/{sweep_id} or just {sweep_id}"
        )
    return sweep


def add_sweep_route(
    router: APIRouter, suffix: str, endpoint: Callable[..., Any], **kwargs: Any
) -> None:
    """Serve ``endpoint`` at ``/sweeps/{sweep}SUFFIX``, and at ``/sweeps/{project}/{sweep}SUFFIX``
    (W&B's ``PROJECT/ID``) kept out of the OpenAPI schema."""
    for prefix, in_schema in (("/sweeps/{sweep}", True), ("/sweeps/{project}/{sweep}", False)):
        router.add_api_route(prefix + suffix, endpoint, include_in_schema=in_schema, **kwargs)
