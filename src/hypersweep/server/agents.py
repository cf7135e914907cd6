"""``POST /agents/{agent}/heartbeat``: the agent's alive runs in, its commands out (spec §7.1);
``POST /agents/{agent}/leave``: the agent exits."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from hypersweep.controller import Beat, Command, Controller
from hypersweep.errors import HypersweepError
from hypersweep.protocol import AgentOut, Heartbeat, HeartbeatReply
from hypersweep.server._context import Ctx
from hypersweep.server._convert import agent_out, command_out

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


@router.post("/agents/{agent}/leave")
def leave(agent: str, ctx: Ctx) -> AgentOut:
    """The agent exits: ``finished``, and a run handed to it that it never started is crashed
    (``Controller.leave_agent``)."""
    return agent_out(ctx.controller.leave_agent(agent, ctx.now()))
