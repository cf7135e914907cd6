"""``POST /agents/{agent}/heartbeat``: the agent's alive runs in, its commands out (spec §7.1)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from hypersweep.controller import Beat, Command, Controller
from hypersweep.errors import HypersweepError
from hypersweep.protocol import Heartbeat, HeartbeatReply
from hypersweep.server._context import Ctx
from hypersweep.server._convert import command_out

router = APIRouter(tags=["agents"])


@router.post("/agents/{agent}/heartbeat")
async def heartbeat(agent: str, body: Heartbeat, ctx: Ctx) -> HeartbeatReply:
    ended = [(item.run_id, item.exit_code) for item in body.ended]
    beat: Beat = (agent, body.running, ended)
    commands = await ctx.lanes.call_together(
        "heartbeats", _heartbeats, (ctx.controller, ctx.now(), beat)
    )
    return HeartbeatReply(commands=[command_out(command) for command in commands])


def _heartbeats(
    waiting: list[tuple[Controller, datetime, Beat]],
) -> list[list[Command] | HypersweepError]:
    """The heartbeats waiting together, answered together: a fleet of agents asking for runs
    at once gets them in one store transaction (``Controller.heartbeats``), at the time of the
    latest."""
    controller = waiting[0][0]
    return controller.heartbeats([beat for _, _, beat in waiting], max(at for _, at, _ in waiting))
