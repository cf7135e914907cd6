"""``hypersweep.agent(sweep_id, function=f, count=n)``: runs in this process (spec §7.9).

Each job calls ``function()`` on the calling thread with the sweep's environment set (spec
§7.2), so ``hypersweep.init()`` inside it picks the run up. While it runs, a thread heartbeats
and passes stop orders to the run; its next ``log()`` raises ``RunStopped``, which ends the job
as killed (stopped). The agent, not ``finish()``, reports each job's end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from hypersweep.agent._job import JOB_ENV_KEYS, job_env
from hypersweep.agent._loop import AgentOptions, CommandAgent, say
from hypersweep.agent._rules import FailureRules
from hypersweep.agent._settings import heartbeat_interval
from hypersweep.client import (
    ApiClient,
    current_run,
    request_stop,
    set_inprocess_agent,
    split_sweep_path,
    take_exit_code,
)
from hypersweep.errors import HypersweepError, RunStopped, ServerUnavailable
from hypersweep.protocol import ExitCommand, RunCommand, StopCommand

__all__ = ["agent"]


def agent(
    sweep_id: str,
    function: Callable[[], Any] | None = None,
    entity: str | None = None,
    project: str | None = None,
    count: int | None = None,
    *,
    server: str | None = None,
    max_consecutive_failed_runs: int | None = None,
) -> None:
    """Run a sweep's jobs, shaped like ``wandb.agent``.

    Args:
        sweep_id: ``SWEEP``, ``PROJECT/SWEEP`` or ``ENTITY/PROJECT/SWEEP``.
        function: called with no arguments once per run; it calls ``hypersweep.init()``. Without
            it, the sweep's ``program`` runs as a subprocess, as ``hypersweep agent`` does.
        entity: accepted for W&B scripts.
        project: the project runs are filed under (default: the sweep's).
        count: how many jobs to run (default: until the sweep has no more).
        server: the server address (default ``$HYPERSWEEP_SERVER``, else the local default).
        max_consecutive_failed_runs: stop after this many failed jobs in a row.

    When a failure rule of spec §7.6 fires (jobs that raised, not those that called
    ``sys.exit`` or ``finish(exit_code=...)``), it says why and returns, as W&B's does: the
    calling script goes on.

    Raises:
        NotFoundError: the sweep does not exist.
        ServerUnavailable: no server answers at the address.
        HypersweepError: without ``function``, the agent gave up.
    """
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise TypeError(f"count={count!r}: expected an integer number of runs, or None")
    if function is None:
        options = AgentOptions(
            sweep_id,
            server=server,
            project=project,
            entity=entity,
            count=count,
            max_consecutive_failed_runs=max_consecutive_failed_runs,
        )
        if CommandAgent(options).run() != 0:
            raise HypersweepError(f"the agent of sweep {sweep_id} gave up; see its messages")
        return
    if not callable(function):
        raise TypeError(f"function={function!r} is not callable; pass the training function")
    with ApiClient(server) as api:
        job_runner = _FunctionAgent(
            api, sweep_id, function, project, entity, count, max_consecutive_failed_runs
        )
        job_runner.run()


class _FunctionAgent:
    def __init__(
        self,
        api: ApiClient,
        sweep: str,
        function: Callable[[], Any],
        project: str | None,
        entity: str | None,
        count: int | None,
        max_consecutive: int | None,
    ) -> None:
        self.api = api
        path_project, self.sweep_id = split_sweep_path(sweep)
        self.project = project or path_project
        self.entity = entity
        self.function = function
        self.count = count
        self.interval = heartbeat_interval()
        self.rules = FailureRules.from_env(
            time.monotonic(), max_consecutive=max_consecutive, in_process=True
        )
        self._beat_lock = threading.Lock()

    def run(self) -> None:
        sweep = self.api.get_sweep(self.sweep_id)
        config = dict(sweep.config)
        self.project = self.project or sweep.project
        slot = os.environ.get("HYPERSWEEP_AGENT_SLOT", "").strip()[:64] or None
        agent_id = self.api.register_agent(
            self.sweep_id, socket.gethostname(), os.getpid(), slot=slot
        ).id
        started = 0
        waiting_said = False
        set_inprocess_agent(True)
        try:
            while self.count is None or self.count <= 0 or started < self.count:
                command = self._next(agent_id)
                if isinstance(command, ExitCommand):
                    break
                if command is None:
                    if not waiting_said:
                        say("Sweep Agent: Waiting for job.")
                        waiting_said = True
                    time.sleep(self.interval)
                    continue
                waiting_said = False
                started += 1
                raised = self._job(agent_id, command, config)
                # spec §7.6: an in-process failure is an exception from the function
                reason = self.rules.record(1 if raised else 0, time.monotonic())
                if reason is not None:
                    say(reason)
                    break
        finally:
            set_inprocess_agent(False)
            with contextlib.suppress(HypersweepError):  # as CommandAgent._leave_server
                self.api.leave_agent(agent_id)
            say("Sweep Agent: Exiting.")

    def _next(self, agent_id: str) -> RunCommand | ExitCommand | None:
        with self._beat_lock:
            try:
                reply = self.api.heartbeat(agent_id, [])
            except ServerUnavailable as exc:
                say(f"{exc}; retrying")
                return None
        for command in reply.commands:
            if isinstance(command, (RunCommand, ExitCommand)):
                return command
        return None

    def _job(self, agent_id: str, command: RunCommand, config: dict[str, Any]) -> bool:
        """Run one job and report its end; whether ``function`` raised (a failure, §7.6)."""
        lines = "".join(f"\n\t{key}: {value!r}" for key, value in command.params.items())
        say(f"Agent Starting Run: {command.run_id} with config:{lines}")
        saved = {key: os.environ.get(key) for key in (*JOB_ENV_KEYS, "WANDB_DIR")}
        env = job_env(
            os.environ,
            sweep_id=command.sweep_id,
            run_id=command.run_id,
            project=self.project or command.project,
            entity=self.entity,
            server=self.api.url,
            agent_id=agent_id,
            params=command.params,
            sweep_config=config,
        )
        for key in (*JOB_ENV_KEYS, "WANDB_DIR"):
            if key in env:
                os.environ[key] = env[key]
        stop_beating = threading.Event()
        beater = threading.Thread(
            target=self._beat_while_running,
            args=(agent_id, command.run_id, stop_beating),
            daemon=True,
        )
        code = 1
        raised = False
        whole = False  # returned with no stop order taking effect: see CommandAgent's _End
        try:
            self.api.start_run(command.run_id, host=socket.gethostname(), agent_id=agent_id)
            beater.start()
            self.function()
            code = take_exit_code(command.run_id) or 0  # its own finish(exit_code=...)
            whole = code == 0
        except KeyboardInterrupt:
            code = -signal.SIGINT  # ended by the user: killed, not failed
            raise
        except RunStopped as exc:
            say(f"Run {command.run_id} stopped: {exc}")
            code = 0  # the server records it killed: it carries the stop order
        except SystemExit as exc:
            # sys.exit() in a job ends the job, as in W&B's agent (which runs each job in a
            # thread, where SystemExit ends only the thread), with the code a process would have
            code = _exit_code(exc)
            whole = code == 0
            say(f"Run {command.run_id} called sys.exit({exc.code!r})")
        except Exception as exc:  # a job's error must not end the agent
            traceback.print_exc()
            say(f"Run {command.run_id} errored: {exc!r}")
            code, raised = 1, True
        finally:
            stop_beating.set()
            if beater.is_alive():
                beater.join()
            run = current_run()
            if run is not None and run.id == command.run_id:
                run.finish(exit_code=code)  # delivers what it logged; the end is ours
            try:
                state = "finished" if whole else None
                self.api.finish_run(command.run_id, exit_code=code, state=state)
            except HypersweepError as exc:
                say(f"could not report the end of run {command.run_id}: {exc}")
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        return raised

    def _beat_while_running(self, agent_id: str, run_id: str, done: threading.Event) -> None:
        while not done.wait(self.interval):
            with self._beat_lock:
                try:
                    reply = self.api.heartbeat(agent_id, [run_id])
                except (HypersweepError, OSError):
                    continue  # the job goes on; the next beat retries
            for command in reply.commands:
                reason = _stop_reason(command, run_id)
                if reason is not None:
                    request_stop(run_id, reason)


def _exit_code(exc: SystemExit) -> int:
    """The exit code a process would have had: ``sys.exit()`` 0, ``sys.exit(3)`` 3, and
    ``sys.exit("message")`` 1 (Python prints the message)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _stop_reason(command: RunCommand | StopCommand | ExitCommand, run_id: str) -> str | None:
    """Why ``command`` ends the running job: its stop order, or a cancel's exit with kill."""
    if isinstance(command, StopCommand):
        return command.reason if command.run_id == run_id else None
    if isinstance(command, ExitCommand) and command.kill:
        return command.reason
    return None
