"""The controller tests' harness: a MemoryStore, a controller over it and a fake clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from hypersweep.controller import AssignRun, Command, Controller, create_sweep
from hypersweep.store import MemoryStore

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class Harness:
    """The controller with helpers that read like the agent's side of the protocol."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.controller = Controller(self.store)
        self.clock = Clock()

    def sweep(self, config: Mapping[str, Any]) -> str:
        sweep, _ = create_sweep(self.store, config, self.clock(), project="p")
        return sweep.id

    def agent(self, sweep_id: str, host: str = "h") -> str:
        return self.store.register_agent(sweep_id, host, 1, self.clock()).id

    def beat(self, agent_id: str, running: list[str] | None = None) -> list[Command]:
        return self.controller.heartbeat(agent_id, running or [], self.clock.advance(1))

    def take(self, agent_id: str) -> AssignRun:
        """Heartbeat idle and expect a run."""
        commands = self.beat(agent_id)
        assert len(commands) == 1, commands
        assert isinstance(commands[0], AssignRun), commands
        return commands[0]

    def run_to_end(
        self,
        run_id: str,
        rows: list[dict[str, Any]] | None = None,
        exit_code: int = 0,
    ) -> None:
        self.controller.start_run(run_id, self.clock.advance(1))
        if rows:
            self.controller.on_history(run_id, list(enumerate(rows)), None, self.clock.advance(1))
        self.controller.finish_run(run_id, self.clock.advance(1), exit_code=exit_code)
