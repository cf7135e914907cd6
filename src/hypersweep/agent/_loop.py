"""The command agent (``hypersweep agent SWEEP``): the main loop of spec §7.4.

Each turn: reap ended runs (report their exit codes, apply the failure rules, count them),
leave if done, heartbeat with the runs still alive, and act on the commands. It waits between
turns for the heartbeat interval, or less when a run ends, so the next run starts at once.

Preemption: a run whose program got SIGTERM that the agent did not send, and every run of an
agent that itself got SIGTERM, ends ``preempted`` (reported with ``state="preempted"``), and the
controller runs it again. SIGTERM to the agent is therefore not the first Ctrl-C of spec §7.8
**[deviation]**: Slurm, Kubernetes and spot reclaims send it to the whole job and SIGKILL after a
grace period, so waiting for the runs (W&B) would lose their ends; the agent passes SIGTERM on,
SIGKILLs after ``WANDB_AGENT_KILL_DELAY``, reports the runs preempted and exits 143.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_before_delay,
    wait_random_exponential,
)

from hypersweep.agent._child import Child
from hypersweep.agent._job import job_env
from hypersweep.agent._rules import FailureRules, preemption
from hypersweep.agent._settings import heartbeat_interval, kill_delay, report_interval
from hypersweep.agent._wakeup import Wakeup
from hypersweep.agent._wandb_bridge import WandbBridge
from hypersweep.client import ApiClient, split_sweep_path
from hypersweep.config import render_command
from hypersweep.errors import HypersweepError, NotFoundError, ServerUnavailable
from hypersweep.protocol import ExitCommand, RunCommand, StopCommand

__all__ = ["AgentOptions", "CommandAgent", "say"]

_SHUTDOWN_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
#: Signals that ask the runs for something, not the agent to stop: Slurm's ``--signal=USR1@60``
#: warns a job before its time limit so that the program can checkpoint. With ``-f`` they go to
#: the runs (spec §7.8) and the agent carries on; without it they are not passed on, but the
#: agent no longer dies of them (their default action), which would leave its runs orphaned.
_PASS_ON_SIGNALS = ("SIGUSR1", "SIGUSR2")
#: How long an agent keeps trying to report a run's end while the server is unreachable; the
#: server's heartbeat timeout (60 s by default) would crash the run soon after anyway.
_FINISH_PATIENCE = 60.0
_EXIT_NOT_STARTED = 127  # the shell's code for a command that could not be run
#: The agent's exit code after SIGTERM from outside: 128 + 15, as a shell reports it, so the
#: scheduler (Slurm, Kubernetes) sees the job step ended by its signal, not a success.
EXIT_PREEMPTED = 128 + int(signal.SIGTERM)
#: Full jitter (agents do not stampede a server that comes back), doubling from 0.5 s on
#: average up to 5 s between tries.
_BACKOFF = wait_random_exponential(multiplier=0.5, max=5.0)
_PREEMPTED = "preempted"
_FINISHED = "finished"


@dataclass(frozen=True)
class _End:
    """A run's end, not yet reported. The ends with a ``state`` go by ``finish_run``:
    ``preempted`` (only the agent knows the SIGTERM was not its own) and ``finished`` (exit code
    0 before the agent sent the program any SIGTERM or SIGKILL: a stop order the sweep's rule
    gave meanwhile came too late, and the run's results are whole, so it is not recorded
    killed). The others ride on the next heartbeat."""

    run_id: str
    exit_code: int
    state: str | None = None

    @property
    def preempted(self) -> bool:
        return self.state == _PREEMPTED


def say(message: str) -> None:
    """One line for the person at the terminal (stderr, so a program's stdout stays clean)."""
    print(f"hypersweep agent: {message}", file=sys.stderr, flush=True)


@dataclass
class AgentOptions:
    """What ``hypersweep agent`` was asked to do."""

    sweep: str
    server: str | None = None
    project: str | None = None
    entity: str | None = None
    count: int | None = None
    forward_signals: bool = False
    term_timeout: float | None = None
    max_consecutive_failed_runs: int | None = None
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


class CommandAgent:
    """Runs a sweep's program, one run at a time, until the sweep or ``count`` says stop.

    ``run()`` returns the process exit code: 0 when the sweep has no more runs or ``count``
    runs ended; 1 when the agent gave up (failure rules, sweep not found, no server); 143
    when it got SIGTERM from outside and its runs ended preempted.
    """

    def __init__(self, options: AgentOptions, api: ApiClient | None = None) -> None:
        self.options = options
        self.api = api or ApiClient(options.server)
        self._path_project, self.sweep_id = split_sweep_path(options.sweep)
        self.project = options.project or self._path_project
        self.interval = heartbeat_interval(options.env)
        self.kill_delay = kill_delay(options.env)
        self.report_interval = report_interval(options.env)
        self._reported_at = time.monotonic()
        self.rules = FailureRules.from_env(
            time.monotonic(), options.env, max_consecutive=options.max_consecutive_failed_runs
        )
        self.children: dict[str, Child] = {}
        # per run: brings the metrics of a program that imports the real wandb to the server
        self._bridges: dict[str, WandbBridge] = {}
        self.completed = 0
        self.exit_code = 0
        self._accepting = True
        self._heartbeating = True
        self._leave = False
        self._signals = 0
        self._preempted = False  # got SIGTERM from outside: its runs end preempted
        self._kill_at: float | None = None
        self._wake = Wakeup()  # set by signal handlers too: see _wakeup
        self._host = socket.gethostname()
        self._sweep_config: dict[str, Any] = {}
        self._agent_id = ""
        self._unreachable_since: float | None = None
        # runs that ended, not yet reported: the next heartbeat carries them
        self._unreported: list[_End] = []

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> int:
        """Register, then loop until done; the exit code (see the class)."""
        sweep = self.api.get_sweep(self.sweep_id)
        if self._path_project is not None and self._path_project != sweep.project:
            # as `hypersweep runs` and W&B's agent, which looks the sweep up in that project
            raise NotFoundError(
                f"sweep {sweep.id!r} is in project {sweep.project!r}, not "
                f"{self._path_project!r}; use {sweep.project}/{sweep.id} or just {sweep.id}"
            )
        self._sweep_config = dict(sweep.config)
        self.project = self.project or sweep.project
        # set by --gpus / --parallel (agent/_fleet.py); a label only, so a longer one set by
        # hand is cut to the 64 characters the server keeps rather than refused
        slot = self.options.env.get("HYPERSWEEP_AGENT_SLOT", "").strip()[:64] or None
        agent = self.api.register_agent(self.sweep_id, self._host, os.getpid(), slot=slot)
        self._agent_id = agent.id
        where = f"{self._host}, {slot}" if slot else self._host
        say(
            f"Starting agent {agent.id} ({where}) for sweep {sweep.project}/{sweep.id} "
            f"on {self.api.url}"
        )
        controller = sweep.config.get("controller")
        if isinstance(controller, Mapping) and controller.get("type") == "local":
            say(
                f"Sweep {sweep.project}/{sweep.id} has a local controller: runs come once "
                f"`hypersweep controller {sweep.project}/{sweep.id}` runs"
            )
        previous = self._install_signal_handlers()
        try:
            while True:
                self._reap()
                self._enforce_kill_deadlines()
                self._report()
                if self._done():
                    break
                if self._heartbeating:
                    self._heartbeat()
                if self._done():
                    break
                self._wake.wait(self._wait_time())
        finally:
            self._restore_signal_handlers(previous)
            self._kill_all(signal.SIGKILL)
            self._reap()
            for end in self._unreported:  # no heartbeat will carry them now
                self._report_finish(end.run_id, end.exit_code, state=end.state)
            self._unreported.clear()
            self._leave_server()
        say("Exiting.")
        return self.exit_code

    def _report(self) -> None:
        """W&B's periodic line of the runs alive, when WANDB_AGENT_REPORT_INTERVAL asks."""
        now = time.monotonic()
        if self.report_interval > 0 and now - self._reported_at >= self.report_interval:
            self._reported_at = now
            say(f"Running runs: {list(self.children)}")

    def _leave_server(self) -> None:
        """Tell the server this agent exits, so nothing is scheduled for it (a local
        controller looks for idle agents) while it would only be found lost a minute later."""
        if self._agent_id and self._heartbeating:
            with contextlib.suppress(HypersweepError):
                self.api.leave_agent(self._agent_id)

    def _done(self) -> bool:
        if self.children:
            return False
        return self._leave or not self._accepting

    def _wait_time(self) -> float:
        wait = self.interval
        deadlines = [
            child.term_sent_at + self.kill_delay
            for child in self.children.values()
            if child.term_sent_at is not None and not child.killed
        ]
        if self._kill_at is not None:
            deadlines.append(self._kill_at)
        if deadlines:
            wait = min(wait, max(0.05, min(deadlines) - time.monotonic()))
        return wait

    # -- heartbeats and commands ---------------------------------------------------------------

    def _heartbeat(self) -> None:
        try:
            # before the heartbeat, which would crash a run it no longer lists as alive
            self._send_with_state()
            sent = list(self._unreported)
            ended = [(end.run_id, end.exit_code) for end in sent]
            reply = self.api.heartbeat(self._agent_id, list(self.children), ended=ended)
        except NotFoundError:
            self._sweep_gone()
            return
        except ServerUnavailable as exc:
            # spec §7.1.3: transport errors mean "no commands"; runs carry on meanwhile
            if self._unreachable_since is None:
                self._unreachable_since = time.monotonic()
                say(f"{exc}; retrying every {self.interval:g} s, runs keep going")
            return
        except HypersweepError as exc:
            say(f"heartbeat refused: {exc}")
            return
        del self._unreported[: len(sent)]  # recorded by the server
        if self._unreachable_since is not None:
            say("server reachable again")
            self._unreachable_since = None
        commands = reply.commands
        if any(isinstance(command, ExitCommand) and command.kill for command in commands):
            # a cancel: SIGKILL at once (spec §7.8), not the SIGTERM of its stop orders
            commands = [command for command in commands if isinstance(command, ExitCommand)]
        for command in commands:
            if isinstance(command, RunCommand):
                self._start(command)
            elif isinstance(command, StopCommand):
                self._stop(command)
            elif isinstance(command, ExitCommand):
                self._exit(command)

    def _send_with_state(self) -> None:
        """Report the ends that have a state; a server that refuses the state gets the bare
        exit code.

        Raises:
            ServerUnavailable: as the heartbeat; the ends stay for the next try.
        """
        for end in [end for end in self._unreported if end.state is not None]:
            try:
                self.api.finish_run(end.run_id, exit_code=end.exit_code, state=end.state)
            except ServerUnavailable:
                raise
            except HypersweepError as exc:
                say(f"the server refused run {end.run_id} as {end.state}: {exc}")
                self._unreported[self._unreported.index(end)] = _End(end.run_id, end.exit_code)
                continue
            self._unreported.remove(end)

    def _sweep_gone(self) -> None:
        self._heartbeating = False
        self._leave = True
        if not self._preempted:  # 143 tells the scheduler more
            self.exit_code = 1
        if self.children:
            say(
                "Sweep was deleted or agent was not found. Active runs will be allowed to "
                "finish before the agent exits."
            )
        else:
            say("Sweep was deleted or agent was not found. Stopping agent.")

    def _exit(self, command: ExitCommand) -> None:
        say(f"Agent received command: exit ({command.reason})")
        self._leave = True
        self._accepting = False
        if command.kill:
            self._kill_all(signal.SIGKILL)

    def _stop(self, command: StopCommand) -> None:
        child = self.children.get(command.run_id)
        if child is None:
            return
        if child.term_sent_at is None:
            say(f"Stopping run {command.run_id}: {command.reason}")
            child.signal(signal.SIGTERM)
        elif time.monotonic() - child.term_sent_at >= self.kill_delay and not child.killed:
            child.signal(signal.SIGKILL)

    def _start(self, command: RunCommand) -> None:
        if not self._accepting or command.run_id in self.children:
            return
        say(f"Agent received command: run {command.run_id}")
        lines = "".join(f"\n\t{key}: {value!r}" for key, value in command.params.items())
        say(f"Agent starting run with config:{lines}")
        try:
            env = job_env(
                self.options.env,
                sweep_id=command.sweep_id,
                run_id=command.run_id,
                project=self.project or command.project,
                entity=self.options.entity,
                server=self.api.url,
                agent_id=self._agent_id,
                params=command.params,
                sweep_config=self._sweep_config,
            )
            argv = render_command(
                self._sweep_config, command.params, command.run_id, command.sweep_id, env
            )
        except (OSError, ValueError, TypeError) as exc:
            self._not_started(command.run_id, f"could not prepare the run: {exc}")
            return
        say(f"About to run command: {shlex.join(argv)}")
        try:
            child = Child(command.run_id, argv, env, self._shipper(command.run_id), self._wake.set)
        except OSError as exc:
            what = argv[0] if argv else "(empty command)"
            self._not_started(
                command.run_id,
                f"could not start {what!r}: {exc.strerror or exc}; check the sweep's "
                "`program` and `command`, and that the agent runs in the program's directory",
            )
            return
        self.children[command.run_id] = child
        # after the spawn, so the program does not wait for this round trip to start
        self._report_start(command.run_id)
        # a stop answer wakes the loop, whose heartbeat then fetches the stop order at once
        bridge = WandbBridge(
            env["WANDB_DIR"], command.run_id, self.api, on_stop=self._wake.set, say=say
        )
        bridge.start()
        self._bridges[command.run_id] = bridge

    def _report_start(self, run_id: str) -> None:
        try:
            self.api.start_run(run_id, host=self._host, agent_id=self._agent_id)
        except HypersweepError as exc:
            say(f"could not mark run {run_id} started ({exc}); running it anyway")

    def _not_started(self, run_id: str, message: str) -> None:
        """A run whose program never ran: failed with the reason in its output."""
        say(message)
        with contextlib.suppress(HypersweepError):
            self.api.append_output(run_id, "stderr", f"hypersweep agent: {message}\n")
        self._ended(run_id, _EXIT_NOT_STARTED)

    def _shipper(self, run_id: str) -> Any:
        def ship(stream: str, text: str) -> None:
            self.api.append_output(run_id, stream, text)

        return ship

    # -- run ends ------------------------------------------------------------------------------

    def _reap(self) -> None:
        for run_id, child in list(self.children.items()):
            code = child.exit_code()
            if code is None:
                continue
            del self.children[run_id]
            bridge = self._bridges.pop(run_id, None)
            if bridge is not None:  # its last rows and summary, before the end is reported
                bridge.close()
            why = preemption(
                code,
                agent_sent_term=child.term_sent_at is not None,
                agent_preempted=self._preempted,
            )
            whole = code == 0 and child.term_sent_at is None and not child.killed
            self._ended(run_id, code, preempted_because=why, whole=whole)

    def _ended(
        self,
        run_id: str,
        code: int,
        *,
        preempted_because: str | None = None,
        whole: bool = False,
    ) -> None:
        preempted = preempted_because is not None
        if preempted:
            say(f"Run {run_id} preempted: {preempted_because}")
            with contextlib.suppress(HypersweepError):  # the reason, next to the run's output
                self.api.append_output(
                    run_id, "stderr", f"hypersweep agent: preempted: {preempted_because}\n"
                )
        else:
            say(f"Run {run_id} ended with exit code {code}")
        # reported with the heartbeat that follows at once (one request for the end and the
        # next run); kept until a heartbeat gets through
        state = _PREEMPTED if preempted else _FINISHED if whole else None
        self._unreported.append(_End(run_id, code, state))
        self.completed += 1
        reason = self.rules.record(code, time.monotonic(), preempted=preempted)
        if reason is not None:
            say(reason)
            self.exit_code = 1
            self._accepting = False
            self._kill_all(signal.SIGTERM)
        if self.options.count and self.completed >= self.options.count:
            self._accepting = False
        self._wake.set()  # ask for the next run now, not at the next beat

    def _report_finish(self, run_id: str, code: int, *, state: str | None = None) -> None:
        """Report the exit code, retrying while the server is away (a restart takes seconds)."""
        retrying = Retrying(
            retry=retry_if_exception_type(ServerUnavailable),
            wait=_BACKOFF,
            stop=stop_before_delay(_FINISH_PATIENCE),
            reraise=True,
        )
        try:
            retrying(self.api.finish_run, run_id, exit_code=code, state=state)
        except ServerUnavailable as exc:
            say(f"could not report the end of run {run_id}: {exc}")
        except HypersweepError as exc:
            if state is not None:  # a server that does not know the state still records the end
                say(f"the server refused run {run_id} as {state}: {exc}")
                self._report_finish(run_id, code)
                return
            say(f"the server refused the end of run {run_id}: {exc}")

    # -- signals -------------------------------------------------------------------------------

    def _kill_all(self, signum: int) -> None:
        for child in self.children.values():
            child.signal(signum)

    def _enforce_kill_deadlines(self) -> None:
        now = time.monotonic()
        for child in self.children.values():
            if (
                child.term_sent_at is not None
                and not child.killed
                and now - child.term_sent_at >= self.kill_delay
            ):
                child.signal(signal.SIGKILL)
        if self._kill_at is not None and now >= self._kill_at:
            self._kill_all(signal.SIGKILL)
            self._kill_at = None

    def _install_signal_handlers(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return previous  # only the main thread may handle signals
        for name in _SHUTDOWN_SIGNALS:
            signum = getattr(signal, name, None)
            if signum is not None:
                previous[signum] = signal.signal(signum, self._on_signal)
        for name in _PASS_ON_SIGNALS:
            signum = getattr(signal, name, None)
            if signum is not None:
                previous[signum] = signal.signal(signum, self._on_pass_on_signal)
        return previous

    def _restore_signal_handlers(self, previous: dict[int, Any]) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGTERM:
            self._on_preemption()
            return
        self._signals += 1
        self._accepting = False
        if self.options.forward_signals:
            say(f"forwarding {signal.Signals(signum).name} to the runs")
            self._kill_all(signum)
            if self.options.term_timeout is not None and self._kill_at is None:
                self._kill_at = time.monotonic() + self.options.term_timeout
        elif self._signals == 1:
            say("ctrl-c received. Waiting for runs to end. Send ctrl-c again to terminate them.")
        elif self._signals == 2:
            say("Terminating and syncing runs. Send shutdown signal again to kill.")
            self._kill_all(signal.SIGTERM)
        else:
            say("Killing runs and quitting.")
            self._kill_all(signal.SIGKILL)
        self._wake.set()

    def _on_pass_on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.options.forward_signals:
            say(f"forwarding {name} to the runs")
            self._kill_all(signum)
        else:
            say(f"{name} received and not passed on to the runs; start the agent with -f to do so")

    def _on_preemption(self) -> None:
        """SIGTERM from outside: pass it on, SIGKILL after the kill delay, exit 143."""
        self._accepting = False
        self.exit_code = EXIT_PREEMPTED
        if self._preempted:  # a second SIGTERM: the scheduler is out of patience
            say("SIGTERM again: killing runs and quitting.")
            self._kill_all(signal.SIGKILL)
        else:
            self._preempted = True
            say(
                "SIGTERM received: the job is being preempted or the machine reclaimed. "
                f"Sending SIGTERM to the runs, SIGKILL in {self.kill_delay:g} s; they end "
                "preempted and the sweep runs them again."
            )
            self._kill_all(signal.SIGTERM)  # SIGKILL by _enforce_kill_deadlines
            if self.options.forward_signals and self.options.term_timeout is not None:
                # -f -t bound the wait before SIGKILL (spec §7.8), as for any forwarded signal
                self._kill_at = time.monotonic() + self.options.term_timeout
        self._wake.set()
