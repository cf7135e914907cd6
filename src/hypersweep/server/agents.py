"""``POST /agents/{agent}/heartbeat``: the agent's alive runs in, its commands out (spec §7.1)."""

from __future__ import annotations

from fastapi import APIRouter

from hypersweep.protocol import Heartbeat, HeartbeatReply
from hypersweep.server._context import Ctx
from hypersweep.server._convert import command_out
from hypersweep.server._lanes import in_lane

router = APIRouter(tags=["agents"])


@router.post("/agents/{agent}/heartbeat")
@in_lane("heartbeats")
def heartbeat(agent: str, body: Heartbeat, ctx: Ctx) -> HeartbeatReply:
    ended = [(item.run_id, item.exit_code) for item in body.ended]
    commands = ctx.controller.heartbeat(agent, body.running, ctx.now(), ended=ended)
    return HeartbeatReply(commands=[command_out(command) for command in commands])
