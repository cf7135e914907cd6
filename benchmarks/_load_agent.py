"""One process of simulated agents for ``benchmarks/load.py`` (started by it, never by hand).

``--agents`` agents run as asyncio tasks sharing one ``httpx.AsyncClient``, each speaking the
raw ``/api/v1`` protocol as an agent and its training program do (the client library's
threads and pydantic models would cost more CPU than the server work being measured).

Handshake with the parent over stdin/stdout: once every agent is registered the process
prints ``ready``; the parent answers ``go T0`` with T0 on ``time.monotonic()`` (one clock for
every process on Linux); the agents work from T0 for ``--duration`` seconds, then finish the
run they hold and stop; the last stdout line is the JSON result (counts and latencies of the
requests that completed inside the window).

One agent's loop, ``long`` mode (a training run):
    heartbeat (no run alive) -> a run (timed: the assignment latency)
    POST /runs/R/start
    BATCHES x POST /runs/R/history with ROWS rows (batch numbered), one every PERIOD seconds
        (the next is sent at once if the answer came late), and a heartbeat naming the run
        every HEARTBEAT seconds
    POST /runs/R/finish (exit code 0), then straight back to the heartbeat for the next run
``trivial`` mode is the same with one batch of one row and no wait: a trivial objective.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

API = "/api/v1"


@dataclass
class Tally:
    """What every agent of this process saw; only requests answered inside the window count."""

    end: float = 0.0
    heartbeats: int = 0
    heartbeat_ms: list[float] = field(default_factory=list)
    assign_ms: list[float] = field(default_factory=list)
    later_assign_ms: list[float] = field(default_factory=list)  # an agent's first left out
    history_rows: int = 0
    history_ms: list[float] = field(default_factory=list)
    completed: int = 0  # runs that logged every batch and finished inside the window
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    received: list[tuple[str, str]] = field(default_factory=list)  # (agent, run), every one
    exits: int = 0

    def inside(self) -> bool:
        return time.monotonic() <= self.end


class Agents:
    def __init__(self, client: httpx.AsyncClient, args: argparse.Namespace) -> None:
        self.client = client
        self.args = args
        self.tally = Tally()

    async def post(self, path: str, body: dict[str, Any]) -> tuple[Any, float] | None:
        """The answer's JSON and the round trip in ms, or None (counted as an error)."""
        start = time.perf_counter()
        try:
            response = await self.client.post(API + path, json=body)
        except httpx.HTTPError as exc:
            self.error(f"{path}: {type(exc).__name__} {exc}")
            return None
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code >= 400:
            self.error(f"{path}: HTTP {response.status_code} {response.text[:200]}")
            return None
        return response.json(), elapsed

    def error(self, message: str) -> None:
        self.tally.errors += 1
        if len(self.tally.error_samples) < 5:
            self.tally.error_samples.append(message)

    async def register(self, sweep: str, index: int) -> str:
        for _ in range(10):
            answer = await self.post(f"/sweeps/{sweep}/agents", {"host": HOST, "pid": index})
            if answer is not None:
                return str(answer[0]["id"])
            await asyncio.sleep(0.5)
        raise SystemExit(f"could not register agent {index}: {self.tally.error_samples}")

    async def heartbeat(self, agent: str, running: list[str]) -> tuple[list[Any], float] | None:
        answer = await self.post(f"/agents/{agent}/heartbeat", {"running": running})
        if answer is None:
            return None
        if self.tally.inside():
            self.tally.heartbeats += 1
            self.tally.heartbeat_ms.append(answer[1])
        return answer[0]["commands"], answer[1]

    async def run_agent(self, agent: str) -> None:
        handed = 0
        while self.tally.inside():
            answer = await self.heartbeat(agent, [])
            if answer is None:
                await asyncio.sleep(0.1)
                continue
            commands, elapsed = answer
            if any(command["type"] == "exit" for command in commands):
                self.tally.exits += 1
                return
            runs = [command["run_id"] for command in commands if command["type"] == "run"]
            if not runs:  # nothing to hand out right now; a real agent waits its interval
                await asyncio.sleep(self.args.heartbeat)
                continue
            for run in runs:
                self.tally.received.append((agent, run))
            if self.tally.inside():
                self.tally.assign_ms.append(elapsed)
                if handed:  # not the agent's first: outside the fleet's start-up burst
                    self.tally.later_assign_ms.append(elapsed)
            handed += 1
            await self.run(agent, runs[0])

    async def run(self, agent: str, run: str) -> None:
        args = self.args
        await self.post(f"/runs/{run}/start", {"host": HOST, "agent_id": agent})
        batches, rows = (1, 1) if args.mode == "trivial" else (args.batches, args.rows)
        tick = time.monotonic()
        next_heartbeat = tick + args.heartbeat
        logged_all = True
        for number in range(1, batches + 1):
            if not self.tally.inside():
                logged_all = False
                break
            first = (number - 1) * rows
            body = {
                "rows": [
                    {"step": step, "metrics": {"loss": 1.0 / (step + 1), "acc": step * 1e-4}}
                    for step in range(first, first + rows)
                ],
                "batch": number,
            }
            answer = await self.post(f"/runs/{run}/history", body)
            if answer is not None and self.tally.inside():
                self.tally.history_rows += rows
                self.tally.history_ms.append(answer[1])
            if number == batches:
                break
            if time.monotonic() >= next_heartbeat:
                next_heartbeat += args.heartbeat
                await self.heartbeat(agent, [run])
            tick += args.period
            delay = tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        finished = await self.post(f"/runs/{run}/finish", {"exit_code": 0})
        if finished is not None and logged_all and self.tally.inside():
            self.tally.completed += 1


HOST = socket.gethostname()


async def main_async(args: argparse.Namespace) -> None:
    key = os.environ.get("HYPERSWEEP_API_KEY")  # the environment, so no key shows in ps
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=args.agents, max_keepalive_connections=args.agents)
    timeout = httpx.Timeout(args.timeout)
    async with httpx.AsyncClient(
        base_url=args.url, headers=headers, limits=limits, timeout=timeout
    ) as client:
        agents = Agents(client, args)
        base = args.index * args.agents
        # Together, so each agent holds its own connection when the fleet starts, as a real
        # agent's first heartbeat reuses the connection it registered on.
        ids = await asyncio.gather(
            *(agents.register(args.sweep, base + i) for i in range(args.agents))
        )
        print("ready", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        start = float(line.split()[1])
        agents.tally.end = start + args.duration
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        cpu = time.process_time()
        await asyncio.gather(*(agents.run_agent(agent) for agent in ids))
        result = agents.tally.__dict__ | {"cpu_s": time.process_time() - cpu}
        print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--sweep", required=True)
    parser.add_argument("--agents", type=int, required=True)
    parser.add_argument("--index", type=int, default=0, help="this process's number")
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--mode", choices=("long", "trivial"), default="long")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--period", type=float, default=0.1)
    parser.add_argument("--heartbeat", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=30.0)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
