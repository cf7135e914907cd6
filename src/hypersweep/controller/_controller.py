"""The controller: applies the pure engine to a sweep's stored runs (spec §7.1, §8, §4.6).

One ``Controller`` serves one store; it keeps only caches (parsed configs, metric series), so
restarting it resumes every sweep exactly where its runs left it (spec §11).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypersweep import engine
from hypersweep.controller._commands import AssignRun, Command, Exit, StopRun
from hypersweep.controller._retry import latest_attempts, next_preempted_rerun, next_retry
from hypersweep.controller._series import Row, SeriesCache
from hypersweep.controller._summary import PRIOR, counted_for_cap, finite, reaches
from hypersweep.controller._sweeps import register_agent
from hypersweep.domain import RunState
from hypersweep.errors import ConflictError, HypersweepError, NotFoundError
from hypersweep.store import (
    AgentRecord,
    AgentState,
    HistoryWrite,
    NewRun,
    RunRecord,
    Store,
    SweepRecord,
    SweepState,
)

__all__ = ["AGENT_TIMEOUT", "Controller", "is_importing"]

#: An agent silent this long is lost and its runs crashed (``hypersweep server
#: --heartbeat-timeout``). W&B waits about 5 minutes (spec §7.1.5); a minute is twelve of the
#: agent's 5 s heartbeats, so a dead machine's grid point is free again that much sooner.
AGENT_TIMEOUT = timedelta(seconds=60)
_ALIVE = (RunState.PENDING, RunState.RUNNING)
_FINAL = ("finished", "failed", "crashed", "killed")
#: what a heartbeat reads of a random or grid sweep (``_heartbeat_runs``)
_HEARTBEAT_STATES = (RunState.PENDING, RunState.RUNNING, RunState.PREEMPTING)
_REAP_EVERY = timedelta(seconds=5)
_VIEWED_SWEEPS = 16  # sweeps whose engine views a hand-out may reuse
#: run meta key of a run imported in parts (``import_run(more_history=True)``) until it ends
_IMPORTING = "importing"


def is_importing(run: RunRecord) -> bool:
    """Whether ``run`` was imported in parts and its end is not recorded yet: ``hypersweep
    sync`` stopped before uploading its rest, and resumes from ``run.history_rows``."""
    return bool(run.meta.get(_IMPORTING))


#: one agent's heartbeat for ``Controller.heartbeats``: its id, its alive runs, and the runs
#: that ended since its last heartbeat with their exit codes
Beat = tuple[str, Sequence[str], Sequence[tuple[str, int]]]


@dataclass(frozen=True)
class _Idle:
    """An agent whose heartbeat gets a new run, with what the heartbeat read and decided."""

    agent: AgentRecord
    sweep: SweepRecord
    runs: Sequence[RunRecord]
    commands: list[Command]


class Controller:
    """Hands out runs, issues stop orders and records run ends over one ``Store``.

    Every method takes ``now`` (the controller reads no clock) and raises only
    ``HypersweepError`` subclasses: ``NotFoundError`` for unknown ids, ``ConflictError`` when the
    stored state forbids the request.
    """

    def __init__(self, store: Store, agent_timeout: timedelta = AGENT_TIMEOUT) -> None:
        self.store = store
        self.agent_timeout = agent_timeout
        self._series = SeriesCache(store)
        self._configs: dict[str, engine.SweepConfig] = {}
        self._lock = threading.Lock()  # guards _configs, _reaped_at, _engine_views and _beats
        self._reaped_at: dict[str, datetime] = {}  # sweep id -> when a heartbeat last reaped
        # sweep id -> run id -> (record, series, engine run) of the last hand-out, for the
        # sweeps handed out from most recently (the views hold records the store may evict)
        self._engine_views: OrderedDict[
            str, dict[str, tuple[RunRecord, Sequence[Row], engine.Run]]
        ] = OrderedDict()
        # agent id -> (when this process last stored its heartbeat, its record), oldest first
        self._beats: OrderedDict[str, tuple[datetime, AgentRecord]] = OrderedDict()

    def parsed(self, sweep: SweepRecord) -> engine.SweepConfig:
        """The sweep's parsed config (cached: a sweep's config never changes)."""
        with self._lock:
            config = self._configs.get(sweep.id)
        if config is None:
            config = engine.parse(dict(sweep.config))
            with self._lock:
                self._configs[sweep.id] = config
        return config

    def _config_of(self, sweep_id: str) -> engine.SweepConfig:
        """``parsed`` by sweep id: the store is read only the first time."""
        with self._lock:
            config = self._configs.get(sweep_id)
        return config if config is not None else self.parsed(self.store.get_sweep(sweep_id))

    # -- heartbeat -----------------------------------------------------------------------------

    def heartbeat(
        self,
        agent_id: str,
        running: Sequence[str],
        now: datetime,
        *,
        ended: Sequence[tuple[str, int]] = (),
    ) -> list[Command]:
        """The commands for an agent that reports ``running`` alive (spec §7.1.5, §8.1).

        ``ended`` lists ``(run id, exit code)`` of the agent's runs that exited since its last
        heartbeat; each is recorded first, as ``finish_run`` does (a repeat, or a run that
        ended otherwise meanwhile, is ignored).

        - every reported run that carries a stop order gets ``StopRun``, on every heartbeat;
        - a pending or running run of this agent that it no longer reports is crashed (killed
          if it had a stop order, spec §5.7); so are the runs of agents silent for longer than
          ``agent_timeout`` (also found by ``reap``, which the server calls periodically);
        - canceled sweep: ``Exit(kill=True)``; paused: nothing new;
        - an idle agent (no run alive) of a pending or running sweep gets the next run; when
          the grid is exhausted or ``run_cap`` is reached the sweep finishes and the agent gets
          ``Exit``; of a finished sweep it gets ``Exit``. A run reaching ``metric.target``
          finishes the sweep.
        """
        answer = self.heartbeats([(agent_id, running, ended)], now)[0]
        if isinstance(answer, HypersweepError):
            raise answer
        return answer

    def heartbeats(
        self, beats: Sequence[Beat], now: datetime
    ) -> list[list[Command] | HypersweepError]:
        """``heartbeat`` for several agents at once, each ``(agent id, running, ended)``: the
        idle agents of one sweep get their runs in one store transaction (agents that ask
        together, as a fleet starting at once does). Each answer is what ``heartbeat`` returns
        for its agent, or the error it raises."""
        agents = [agent_id for agent_id, _, _ in beats]
        if len(set(agents)) < len(agents):  # a repeat (a retry) comes after the agent's first
            firsts = [
                index for index, agent_id in enumerate(agents) if agent_id not in agents[:index]
            ]
            answered = dict(
                zip(firsts, self.heartbeats([beats[i] for i in firsts], now), strict=True)
            )
            return [
                answered[index] if index in answered else self.heartbeats([beat], now)[0]
                for index, beat in enumerate(beats)
            ]
        answers: list[list[Command] | HypersweepError] = [[] for _ in beats]
        by_sweep: dict[str, list[tuple[int, AgentRecord]]] = {}
        for index, (agent_id, _, ended) in enumerate(beats):
            try:
                agent = self._beat(agent_id, now)
                for run_id, exit_code in ended:
                    with contextlib.suppress(ConflictError, NotFoundError):
                        self.finish_run(run_id, now, exit_code=exit_code)
            except HypersweepError as exc:
                answers[index] = exc
                continue
            by_sweep.setdefault(agent.sweep_id, []).append((index, agent))
        for sweep_id, members in by_sweep.items():
            for index, answer in self._sweep_heartbeats(sweep_id, members, beats, now):
                answers[index] = answer
        return answers

    def _sweep_heartbeats(
        self,
        sweep_id: str,
        members: Sequence[tuple[int, AgentRecord]],
        beats: Sequence[Beat],
        now: datetime,
    ) -> list[tuple[int, list[Command] | HypersweepError]]:
        """The answers to the heartbeats of one sweep's agents (``members``: the index of the
        beat and its agent), one after the other, then a run each for the idle ones."""
        try:
            sweep, runs_of = self._heartbeat_reads(sweep_id, [agent for _, agent in members])
        except HypersweepError as exc:
            return [(index, exc) for index, _ in members]
        answers: list[tuple[int, list[Command] | HypersweepError]] = []
        idle: list[tuple[int, _Idle]] = []
        for index, agent in members:
            try:
                running = beats[index][1]
                outcome, sweep = self._heartbeat(agent, running, sweep, runs_of(agent), now)
            except HypersweepError as exc:
                answers.append((index, exc))
                continue
            if isinstance(outcome, _Idle):
                idle.append((index, outcome))
            else:
                answers.append((index, outcome))
        if idle:
            handed: Sequence[list[Command] | HypersweepError]
            try:
                handed = self._hand_out([item for _, item in idle], now)
            except HypersweepError as exc:
                handed = [exc] * len(idle)
            answers += [(index, answer) for (index, _), answer in zip(idle, handed, strict=True)]
        return answers

    def _heartbeat_reads(
        self, sweep_id: str, agents: Sequence[AgentRecord]
    ) -> tuple[SweepRecord, Callable[[AgentRecord], list[RunRecord]]]:
        """The sweep and, for each of its ``agents`` heartbeating together, the runs its
        heartbeat needs: this agent's alive ones (its stop orders, runs it lost), or all when
        the target check or the search reads them (``metric.target``; bayes, tpe). So a
        heartbeat of a random or grid sweep reads a run or two, however long the sweep, and a
        fleet's heartbeats read the sweep and their runs once, not once each."""
        sweep = self.store.get_sweep(sweep_id)
        config = self.parsed(sweep)
        target = config.metric is not None and config.metric.target is not None
        if target or engine.needs_history(config):
            every = self.store.list_runs(sweep.id, shared=True)
            return sweep, lambda _: every
        ids = [agent.id for agent in agents]
        alive = self.store.list_runs(sweep.id, states=_HEARTBEAT_STATES, agents=ids)
        of_agent: dict[str | None, list[RunRecord]] = {agent_id: [] for agent_id in ids}
        for run in alive:
            of_agent[run.agent_id].append(run)
        return sweep, lambda agent: of_agent[agent.id]

    def _heartbeat(
        self,
        agent: AgentRecord,
        running: Sequence[str],
        sweep: SweepRecord,
        runs: list[RunRecord],
        now: datetime,
    ) -> tuple[list[Command] | _Idle, SweepRecord]:
        """A heartbeat's commands, or the agent as idle when it is to get a run; and the sweep
        as the heartbeat left it (its state may move) for the next agent's heartbeat."""
        alive = list(dict.fromkeys(running))
        commands: list[Command] = []
        for run in runs:
            if run.id in alive and run.stopped:
                commands.append(StopRun(run.id, run.stop_reason or "stopped"))
        unreceived = None if alive else self._unreceived(agent, runs, now)
        self._reap(agent, runs, set(alive), now, keep=unreceived)
        if self._reap_due(sweep.id, now):
            self._reap_lost_agents(sweep, agent, now)
        if sweep.state is SweepState.CANCELED:
            return [*commands, self._exit(agent, "sweep canceled", now, kill=True)], sweep
        if unreceived is not None:
            assign = AssignRun(unreceived.id, sweep.id, sweep.project, unreceived.params)
            return [*commands, assign], sweep
        sweep = self._check_target(sweep, runs, now)
        if alive or sweep.state is SweepState.PAUSED:
            return commands, sweep
        if sweep.state is SweepState.FINISHED:
            return [*commands, self._exit(agent, f"sweep {sweep.id} is finished", now)], sweep
        if sweep.state is SweepState.PENDING:
            sweep = self.store.set_sweep_state(sweep.id, SweepState.RUNNING, now)
        return _Idle(agent, sweep, runs, commands), sweep

    def _hand_out(self, idle: Sequence[_Idle], now: datetime) -> list[list[Command]]:
        """The answers of the idle agents of one sweep: a run each while the sweep has one."""
        sweep = idle[-1].sweep
        made, why = self._assign(sweep, [item.agent for item in idle], idle[-1].runs, now)
        answers: list[list[Command]] = []
        for index, item in enumerate(idle):
            if index < len(made):
                run = made[index]
                answers.append(
                    [*item.commands, AssignRun(run.id, sweep.id, sweep.project, run.params)]
                )
            elif why is None:  # nothing now, but a run still alive may need a retry
                answers.append(item.commands)
            else:
                if index == len(made):
                    self.store.set_sweep_state(sweep.id, SweepState.FINISHED, now)
                answers.append([*item.commands, self._exit(item.agent, why, now)])
        return answers

    def register_agent(
        self, sweep_id: str, host: str, pid: int, now: datetime, slot: str | None = None
    ) -> AgentRecord:
        """``controller.register_agent``, remembered as the agent's stored heartbeat: its
        registration stored one, so its first heartbeat, which usually asks for a run, does not
        store another."""
        agent = register_agent(self.store, sweep_id, host, pid, now, slot=slot)
        self._remember_beat(agent, now)
        return agent

    def _beat(self, agent_id: str, now: datetime) -> AgentRecord:
        """The agent's record, its heartbeat stored at most every ``agent_timeout / 10`` per
        process. Finding lost agents needs no finer time, and the write was a third of a
        heartbeat's cost on a busy SQLite server, and a turn of its one writer. An agent found
        lost was silent for longer than the window, so its next heartbeat is stored."""
        window = self.agent_timeout / 10
        with self._lock:
            beat = self._beats.get(agent_id)
        if beat is not None and timedelta(0) <= now - beat[0] < window:
            return beat[1]
        agent = self.store.heartbeat_agent(agent_id, now, state=AgentState.RUNNING)
        self._remember_beat(agent, now)
        return agent

    def _remember_beat(self, agent: AgentRecord, now: datetime) -> None:
        window = self.agent_timeout / 10
        with self._lock:
            self._beats[agent.id] = (now, agent)
            self._beats.move_to_end(agent.id)
            while self._beats:  # forget agents not heard from for a window
                oldest, (at, _) = next(iter(self._beats.items()))
                if timedelta(0) <= now - at < window:
                    break
                del self._beats[oldest]

    def _reap_due(self, sweep_id: str, now: datetime) -> bool:
        """Whether a heartbeat should look for the sweep's lost agents: at most every
        ``_REAP_EVERY`` per sweep and process (each look reads all its agents; ``reap``, on the
        server's timer, looks too)."""
        with self._lock:
            last = self._reaped_at.get(sweep_id)
            if last is not None and timedelta(0) <= now - last < _REAP_EVERY:
                return False
            self._reaped_at[sweep_id] = now
            return True

    def _exit(self, agent: AgentRecord, reason: str, now: datetime, kill: bool = False) -> Exit:
        self.store.heartbeat_agent(agent.id, now, state=AgentState.FINISHED)
        with self._lock:  # store its next heartbeat, which makes it running again
            self._beats.pop(agent.id, None)
        return Exit(reason, kill=kill)

    def _unreceived(
        self, agent: AgentRecord, runs: Sequence[RunRecord], now: datetime
    ) -> RunRecord | None:
        """The run handed to this idle agent whose answer never reached it, if any.

        An agent starts a run it receives before its next heartbeat and lists it there, and
        the server marks it started; a run of the agent still pending and not listed was lost
        on the way (the server stopped between storing it and answering). It is offered again
        rather than crashed, but only for one agent timeout: an agent that keeps leaving it
        gets it crashed as before.
        """
        for run in runs:
            if (
                run.agent_id == agent.id
                and run.state is RunState.PENDING
                and run.started_at is None
                and not run.stopped
                and now - run.created_at <= self.agent_timeout
            ):
                return run
        return None

    def _reap(
        self,
        agent: AgentRecord,
        runs: Sequence[RunRecord],
        alive: Collection[str],
        now: datetime,
        keep: RunRecord | None = None,
    ) -> None:
        for run in runs:
            if keep is not None and run.id == keep.id:
                continue
            if run.agent_id == agent.id and run.state is RunState.PREEMPTING:
                self._end_preemption(run, now)
                continue
            if run.agent_id == agent.id and run.state in _ALIVE and run.id not in alive:
                self._crash(
                    run,
                    f"agent {agent.id} on {agent.host} stopped reporting it alive before it "
                    "reported its end: its process died or was never started",
                    now,
                )

    def reap(self, now: datetime) -> int:
        """Crash the runs of every agent silent for longer than ``agent_timeout``.

        Heartbeats of a sweep's other agents do this too; the server also calls it on a timer,
        so a sweep whose only agent died frees its runs as well. Returns the agents found lost.
        """
        lost = 0
        for sweep in self.store.list_sweeps():
            if sweep.state in (SweepState.PENDING, SweepState.RUNNING, SweepState.PAUSED):
                lost += self._reap_lost_agents(sweep, None, now)
        return lost

    def _reap_lost_agents(
        self, sweep: SweepRecord, current: AgentRecord | None, now: datetime
    ) -> int:
        lost = 0
        for agent in self.store.list_agents(sweep.id):
            if (
                (current is not None and agent.id == current.id)
                or agent.state is not AgentState.RUNNING
                or now - agent.last_heartbeat <= self.agent_timeout
            ):
                continue
            self.store.heartbeat_agent(agent.id, agent.last_heartbeat, state=AgentState.LOST)
            lost += 1
            seconds = round(self.agent_timeout.total_seconds())
            reason = (
                f"agent {agent.id} on {agent.host} (pid {agent.pid}) sent no heartbeat for "
                f"{seconds} s: its machine or process died"
            )
            for run in self.store.list_runs(sweep.id, states=(*_ALIVE, RunState.PREEMPTING)):
                if run.agent_id != agent.id:
                    continue
                if run.state is RunState.PREEMPTING:
                    self._end_preemption(run, now)
                else:
                    self._crash(run, reason, now)
        return lost

    def _end_preemption(self, run: RunRecord, now: datetime) -> None:
        """A run left ``preempting`` (a server stopped inside ``_preempt``): its agent reported
        the preemption, so it ends preempted and is run again."""
        with contextlib.suppress(ConflictError):  # it ended meanwhile
            self._preempt(run, now, run.exit_code)

    def _crash(self, run: RunRecord, reason: str, now: datetime) -> None:
        # spec §5.7: a run with a stop order ends killed however its process died
        state = RunState.KILLED if run.stopped else RunState.CRASHED
        with contextlib.suppress(ConflictError):  # it reported its end meanwhile
            self.store.update_run(
                run.id, now, state=state, stop_reason=None if run.stopped else reason
            )

    def _check_target(
        self, sweep: SweepRecord, runs: Sequence[RunRecord], now: datetime
    ) -> SweepRecord:
        if sweep.state not in (SweepState.PENDING, SweepState.RUNNING):
            return sweep
        metric = self.parsed(sweep).metric
        if metric is None or metric.target is None:
            return sweep
        for run in runs:
            value = finite(run.summary.get(metric.name))
            if value is not None and reaches(value, metric.target, metric.goal):
                return self.store.set_sweep_state(sweep.id, SweepState.FINISHED, now)
        return sweep

    def _assign(
        self,
        sweep: SweepRecord,
        agents: Sequence[AgentRecord],
        runs: Sequence[RunRecord],
        now: datetime,
    ) -> tuple[list[RunRecord], str | None]:
        """A new run for each of ``agents`` in turn, as long as the sweep has one, and why it
        has no more (None: wait, it is not over yet).

        ``runs`` are the sweep's runs as the heartbeat read them: their histories are read
        here, BEFORE assign_run, whose callback runs under the sweep's lock and may not call
        the store (runs created in between simply have no history yet); and only for a method
        that reads them (bayes, tpe), as each costs a walk over every run of the sweep.
        """
        config = self.parsed(sweep)
        learns = engine.needs_history(config)  # bayes, tpe: a model of the results
        series = self._metric_rows(sweep.id, config, runs) if learns else {}
        outcome: dict[str, Any] = {"why": f"sweep {sweep.id} has no more runs to hand out"}

        def make_params(records: Sequence[RunRecord]) -> NewRun | None:
            # before run_cap: W&B resumes a preempted run, which is not a new run (spec §8.2)
            again = next_preempted_rerun(records, config.retry)
            if again is not None:
                return again
            if config.run_cap is not None and counted_for_cap(records) >= config.run_cap:
                outcome["why"] = f"sweep {sweep.id} reached its run_cap of {config.run_cap} runs"
                return None
            if config.retry is not None:
                again = next_retry(records, config.retry)
                if again is not None:
                    return again
            if config.controller == "local":  # its controller schedules runs (schedule_run)
                outcome["why"] = None
                return None
            searched = latest_attempts(records) if learns else records
            runs = self._engine_runs(sweep.id, searched, series)
            suggestions = engine.next_runs(config, runs, 1)
            if not suggestions:
                if config.retry is not None and any(run.state in _ALIVE for run in records):
                    outcome["why"] = None
                else:
                    outcome["why"] = f"sweep {sweep.id} has handed out every grid point"
                return None
            return NewRun(suggestions[0].params, suggestions[0].info or None)

        made = self.store.assign_runs(sweep.id, [agent.id for agent in agents], make_params, now)
        return made, outcome["why"]

    def _engine_runs(
        self, sweep_id: str, records: Sequence[RunRecord], series: Mapping[str, Sequence[Row]]
    ) -> list[engine.Run]:
        """The engine's view of ``records``, reusing the last hand-out's where the record and
        its series are the same objects (the store shares unchanged records): at 1,000 runs,
        building them all again was a third of a hand-out's time."""
        with self._lock:
            before = self._engine_views.get(sweep_id, {})
        now: dict[str, tuple[RunRecord, Sequence[Row], engine.Run]] = {}
        for record in records:
            rows = series.get(record.id, ())
            kept = before.get(record.id)
            if kept is not None and kept[0] is record and kept[1] is rows:
                now[record.id] = kept
            else:
                now[record.id] = (record, rows, _engine_run(record, rows))
        with self._lock:  # hand-outs of one sweep never overlap; of two sweeps they may
            self._engine_views[sweep_id] = now
            self._engine_views.move_to_end(sweep_id)
            while len(self._engine_views) > _VIEWED_SWEEPS:
                self._engine_views.popitem(last=False)
        return [view for _, _, view in now.values()]

    def _metric_rows(
        self, sweep_id: str, config: engine.SweepConfig, runs: Sequence[RunRecord]
    ) -> dict[str, list[Row]]:
        if config.metric is None:
            return {}
        return self._series.rows(sweep_id, config.metric.name, runs)

    # -- runs ----------------------------------------------------------------------------------

    def on_history(
        self,
        run_id: str,
        rows: Sequence[tuple[int, Mapping[str, Any]]],
        summary: Mapping[str, Any] | None,
        now: datetime,
        *,
        batch: int | None = None,
    ) -> tuple[bool, str | None]:
        """Store a history batch, then apply the sweep's ``early_terminate`` rule.

        ``batch`` is the sender's sequence number: a repeat of a stored batch (a retry whose
        answer was lost) changes nothing and gets the run's current stop order.

        The summary gets the last logged value of each key (as in W&B), then ``summary``. A
        pending run that logs becomes running. Every running run the rule stops gets
        ``stopped`` and the rule's reason; its agent's next heartbeat carries the stop order.

        Returns:
            Whether THIS run should stop, and why.
        """
        answer = self.on_histories([HistoryWrite(run_id, rows, batch, summary)], now)[0]
        if isinstance(answer, HypersweepError):
            raise answer
        return answer

    def on_histories(
        self, writes: Sequence[HistoryWrite], now: datetime
    ) -> list[tuple[bool, str | None] | HypersweepError]:
        """``on_history`` for batches that arrived together (each write's ``summary`` is the
        batch's own, as ``on_history`` takes it): stored in one store call
        (``Store.log_histories``, one transaction on a SQL store), then the rule of each of
        their sweeps applied once. For each batch, its answer or the error it alone met."""
        stored = [
            HistoryWrite(write.run_id, write.rows, write.batch, _merged(write), start=True)
            for write in writes
        ]
        with self._series.locks_for([write.run_id for write in writes]):
            logged = self.store.log_histories(stored, now)
            for write, result in zip(writes, logged, strict=True):
                if isinstance(result, RunRecord):
                    config = self._config_of(result.sweep_id)
                    if config.metric is not None:
                        self._series.append_locked(
                            result.sweep_id, write.run_id, config.metric.name, write.rows
                        )
        reached = {
            result.sweep_id
            for write, result in zip(writes, logged, strict=True)
            if isinstance(result, RunRecord) and self._rows_reach_target(result, write.rows)
        }
        # each sweep's rule once for the whole group: its batches are all stored by now, so a
        # rule applied after each would see the same runs and rows every time
        judged = {
            result.sweep_id
            for result in logged
            if isinstance(result, RunRecord) and self._judged_after(result)
        }
        stopped_now: dict[str, str] = {}
        failed: dict[str, HypersweepError] = {}  # the sweep's batches get it, not the others
        for sweep_id in sorted(reached):
            try:
                self._finish_at_target(sweep_id, now)
            except HypersweepError as exc:
                failed[sweep_id] = exc
        for sweep_id in sorted(judged - failed.keys()):
            try:
                stopped_now.update(self._apply_stopping_rule(sweep_id, now))
            except HypersweepError as exc:
                failed[sweep_id] = exc
        out: list[tuple[bool, str | None] | HypersweepError] = []
        for write, result in zip(writes, logged, strict=True):
            if isinstance(result, HypersweepError):
                out.append(result)
            elif result is not None and result.sweep_id in failed:
                out.append(failed[result.sweep_id])
            elif result is None:  # a repeat: the run's stop order as it stands
                try:
                    run = self.store.get_run(write.run_id)
                except HypersweepError as exc:
                    out.append(exc)
                else:
                    out.append((run.stopped, run.stop_reason))
            elif result.sweep_id in judged:
                reason = stopped_now.get(write.run_id)
                out.append((reason is not None, reason))
            else:
                out.append((result.stopped, result.stop_reason))
        return out

    def _rows_reach_target(
        self, run: RunRecord, rows: Sequence[tuple[int, Mapping[str, Any]]]
    ) -> bool:
        """Whether a batch of ``run`` logged its sweep's ``metric.target``: a value the run
        passed through counts (spec §2.3), not only the last one its summary keeps."""
        metric = self._config_of(run.sweep_id).metric
        if metric is None or metric.target is None or is_importing(run):
            return False
        for _, metrics in rows:
            value = finite(metrics.get(metric.name))
            if value is not None and reaches(value, metric.target, metric.goal):
                return True
        return False

    def _finish_at_target(self, sweep_id: str, now: datetime) -> None:
        """The sweep stops creating runs (spec §2.3); running runs go on to completion."""
        try:
            sweep = self.store.get_sweep(sweep_id)
            if sweep.state in (SweepState.PENDING, SweepState.RUNNING):
                self.store.set_sweep_state(sweep_id, SweepState.FINISHED, now)
        except ConflictError:
            return  # its state moved meanwhile (stopped, canceled): nothing to finish

    def _judged_after(self, run: RunRecord) -> bool:
        """Whether a batch of ``run`` (as it left the run) calls for the sweep's stopping rule."""
        config = self._config_of(run.sweep_id)
        if config.controller == "local":  # its controller applies the rule (spec §10)
            return False
        return config.early_terminate is not None and not run.stopped and not is_importing(run)

    def _apply_stopping_rule(self, sweep_id: str, now: datetime) -> dict[str, str]:
        """The sweep's ``early_terminate`` rule over its runs as stored: the running runs it
        stops now (marked ``stopped`` with the rule's reason), by id."""
        config = self._config_of(sweep_id)
        runs = self.store.list_runs(sweep_id, shared=True)
        series = self._metric_rows(sweep_id, config, runs)
        by_id = {record.id: record for record in runs}
        engine_runs = [_engine_run(record, series.get(record.id, ())) for record in runs]
        stopped: dict[str, str] = {}
        for order in engine.runs_to_stop(config, engine_runs):
            target = by_id.get(order.run)
            if target is None or target.state is not RunState.RUNNING or target.stopped:
                continue
            try:
                self.store.update_run(target.id, now, stopped=True, stop_reason=order.reason)
            except ConflictError:
                continue  # it ended meanwhile
            stopped[target.id] = order.reason
        return stopped

    def start_run(
        self,
        run_id: str,
        now: datetime,
        *,
        host: str | None = None,
        agent_id: str | None = None,
        name: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """The run's process started: pending -> running (again: no change). ``name`` and
        ``meta`` (tags, notes, group, job_type) are what ``init()`` says about the run."""
        return self.store.update_run(
            run_id,
            now,
            state=RunState.RUNNING,
            host=host,
            agent_id=agent_id,
            name=name,
            meta=meta,
        )

    def set_summary(self, run_id: str, summary: Mapping[str, Any], now: datetime) -> RunRecord:
        """Merge ``summary`` key by key over the run's summary."""
        return self.store.update_run(run_id, now, summary=summary)

    def finish_run(
        self, run_id: str, now: datetime, *, exit_code: int | None = None, state: str | None = None
    ) -> RunRecord:
        """Record the run's end; ``state`` is derived when None (see ``final_state``).

        Repeating a finish that agrees with the stored end returns the run unchanged, so an
        agent may retry it.

        Raises:
            ConflictError: the run already ended differently.
        """
        run = self.store.get_run(run_id)
        final = final_state(run, exit_code, state)
        if final is RunState.PREEMPTED:
            return self._preempt(run, now, exit_code)
        if run.is_terminal:
            if final is run.state and exit_code in (None, run.exit_code):
                return run
            code = f" with exit code {run.exit_code}" if run.exit_code is not None else ""
            raise ConflictError(
                f"run {run.id} already ended {run.state.value}{code} and cannot become "
                f"{final.value}; a run's end is recorded once"
            )
        importing = {_IMPORTING: False} if is_importing(run) else None
        return self.store.update_run(run_id, now, state=final, exit_code=exit_code, meta=importing)

    def _preempt(self, run: RunRecord, now: datetime, exit_code: int | None) -> RunRecord:
        """Record a preemption: through preempting, the store's only way in (a repeat: as is).

        Raises:
            ConflictError: the run already ended otherwise.
        """
        if run.state is RunState.PREEMPTED and exit_code in (None, run.exit_code):
            return run
        if run.state is RunState.PENDING:  # preempted before its start was recorded
            run = self.store.update_run(run.id, now, state=RunState.RUNNING)
        if run.state is RunState.RUNNING:
            run = self.store.update_run(run.id, now, state=RunState.PREEMPTING)
        if run.state is not RunState.PREEMPTING:
            raise ConflictError(
                f"run {run.id} already ended {run.state.value} and cannot become preempted; "
                "a run's end is recorded once"
            )
        code = f"exit code {exit_code}" if exit_code is not None else "no exit code"
        return self.store.update_run(
            run.id,
            now,
            state=RunState.PREEMPTED,
            exit_code=exit_code,
            stop_reason=f"preempted: SIGTERM from outside the agent ({code})",
        )

    def schedule_run(
        self,
        sweep_id: str,
        agent_id: str,
        params: Mapping[str, Any],
        now: datetime,
        *,
        info: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """A local controller's suggestion (spec §10): a pending run for ``agent_id``, which
        its next heartbeat hands it (as a run whose answer was lost is handed again).

        The sweep's lock is held while the agent is checked idle and ``run_cap`` counted, as
        for the server's own hand-outs, so two suggestions never go to one agent.

        Raises:
            NotFoundError: no such sweep or agent.
            ConflictError: the sweep is not locally controlled, or hands out no runs; the agent
                is of another sweep, not running, or has a run alive; ``run_cap`` is reached.
        """
        sweep = self.store.get_sweep(sweep_id)
        config = self.parsed(sweep)
        if config.controller != "local":
            raise ConflictError(
                f"sweep {sweep.id} is searched by the server; a local controller schedules runs "
                "only for a sweep created with controller: {type: local}"
            )
        if sweep.state not in (SweepState.PENDING, SweepState.RUNNING):
            raise ConflictError(
                f"sweep {sweep.id} is {sweep.state.value} and hands out no runs; resume it first"
            )
        agent = self.store.get_agent(agent_id)
        if agent.sweep_id != sweep.id or agent.state is not AgentState.RUNNING:
            why = f"of sweep {agent.sweep_id}" if agent.sweep_id != sweep.id else agent.state.value
            raise ConflictError(
                f"agent {agent.id} is {why}; schedule runs for a running agent of sweep {sweep.id} "
                f"(GET /sweeps/{sweep.id}/agents lists them)"
            )
        refused: list[str] = []

        def make_params(records: Sequence[RunRecord]) -> NewRun | None:
            busy = [r.id for r in records if r.agent_id == agent.id and r.state in _ALIVE]
            if busy:
                refused.append(f"agent {agent.id} has run {busy[0]} alive; one run at a time")
                return None
            if config.run_cap is not None and counted_for_cap(records) >= config.run_cap:
                refused.append(f"sweep {sweep.id} reached its run_cap of {config.run_cap} runs")
                return None
            return NewRun(dict(params), dict(info or {}) or None)

        run = self.store.assign_run(sweep.id, agent.id, make_params, now)
        if run is None:
            raise ConflictError(refused[0] if refused else f"no run scheduled for {agent.id}")
        if sweep.state is SweepState.PENDING:
            self.store.set_sweep_state(sweep.id, SweepState.RUNNING, now)
        return run

    def leave_agent(self, agent_id: str, now: datetime) -> AgentRecord:
        """An agent says it exits: it is ``finished``, so no run is scheduled for it any more
        (a local controller looks for idle running agents), and a run handed to it that it
        never started is crashed now, not after the heartbeat timeout, so that the sweep does
        not wait for it. Its ended runs came with its last heartbeat or their own finish.

        Raises:
            NotFoundError: no such agent.
        """
        agent = self.store.get_agent(agent_id)
        if agent.state is AgentState.RUNNING:
            agent = self.store.heartbeat_agent(agent.id, now, state=AgentState.FINISHED)
        for run in self.store.list_runs(agent.sweep_id, states=[RunState.PENDING]):
            if run.agent_id == agent.id and run.started_at is None:
                self._crash(run, f"its agent {agent.id} left before starting it", now)
        return agent

    def stop_run(self, run_id: str, reason: str, now: datetime) -> RunRecord:
        """Flag a pending or running run stopped with ``reason``: its agent's next heartbeat
        carries the order, and its end is recorded killed (spec §5.7). A run already stopped
        keeps its first reason.

        Raises:
            NotFoundError: no such run.
            ConflictError: the run has ended.
        """
        run = self.store.get_run(run_id)
        if run.stopped and not run.is_terminal:
            return run
        return self.store.update_run(run.id, now, stopped=True, stop_reason=reason)

    def import_run(
        self,
        sweep_id: str,
        now: datetime,
        *,
        params: Mapping[str, Any],
        run_id: str | None = None,
        name: str | None = None,
        history: Sequence[tuple[int, Mapping[str, Any]]] = (),
        summary: Mapping[str, Any] | None = None,
        exit_code: int | None = None,
        state: str = "finished",
        more_history: bool = False,
        prior: bool = False,
    ) -> RunRecord:
        """Add a whole ended run to a sweep (offline sync, prior runs; spec §11).

        ``prior``: a run from before the sweep. It seeds the search like any other, but it is
        not one of the runs the sweep created, so ``run_cap`` does not count it (spec §4.6).

        ``more_history``: the run is too large for one request. It is stored running, marked
        ``importing`` (early termination leaves it alone), for its other rows to follow by
        ``on_history`` and its end by ``finish_run``; ``state`` and ``exit_code`` are then the
        caller's to send with the finish.

        Raises:
            ConflictError: ``run_id`` is taken, or ``state`` is not a final state.
            NotFoundError: no sweep has this id.
        """
        if state not in _FINAL:
            raise ConflictError(
                f"an imported run must have ended; state {state!r} is not one of "
                f"{', '.join(_FINAL)}"
            )
        sweep = self.store.get_sweep(sweep_id)
        if run_id is not None and _exists(self.store, run_id):
            raise ConflictError(
                f"run id {run_id!r} is already taken; import the run with another run_id, or "
                "without one to get a fresh id"
            )
        run = self.store.create_run(sweep.id, params, now, run_id=run_id, name=name)
        merged: dict[str, Any] = {}
        if history:
            config = self.parsed(sweep)
            with self._series.lock_for(run.id):
                self.store.log_history(run.id, history, now)
                if config.metric is not None:
                    self._series.append_locked(sweep.id, run.id, config.metric.name, history)
            for _, values in history:
                merged.update(values)
        merged.update(summary or {})
        meta = {PRIOR: True} if prior else {}
        if more_history:
            return self.store.update_run(
                run.id,
                now,
                state=RunState.RUNNING,
                summary=merged,
                meta={**meta, _IMPORTING: True},
            )
        return self.store.update_run(
            run.id, now, state=RunState(state), exit_code=exit_code, summary=merged, meta=meta
        )


def final_state(run: RunRecord, exit_code: int | None, state: str | None) -> RunState:
    """The state a run ends in (``protocol.RunFinish``).

    Without ``state``: stopped -> killed; exit code 0 or none -> finished; > 0 -> failed;
    < 0 (a signal) -> killed. A stopped run is killed whatever it reports (spec §5.7), also
    when its agent reports it ``preempted``: it was meant to end, not to run again. Only the
    agent tells a preemption (a SIGTERM it did not send) from its own stop, so a bare exit
    code never means preempted.

    The one exception: ``finished`` with exit code 0, which a reporter sends only when the stop
    order never reached the program (it exited on its own first). The rule decides as each
    history batch arrives, so a run judged at its last iteration is flagged while its program
    is already ending; its results are whole, and W&B, which judges every few minutes, would
    record it finished too. It keeps its ``stopped`` flag and reason.
    """
    if state is not None:
        chosen = RunState(state)
        if run.stopped and chosen is RunState.FINISHED and exit_code in (None, 0):
            return RunState.FINISHED
        if run.stopped and chosen in (
            RunState.FINISHED,
            RunState.FAILED,
            RunState.CRASHED,
            RunState.PREEMPTED,
        ):
            return RunState.KILLED  # spec §5.7: a stopped run ends killed however it exited
        return chosen
    if run.stopped:
        return RunState.KILLED
    if exit_code is None or exit_code == 0:
        return RunState.FINISHED
    return RunState.FAILED if exit_code > 0 else RunState.KILLED


def _exists(store: Store, run_id: str) -> bool:
    try:
        store.get_run(run_id)
    except NotFoundError:
        return False
    return True


def _merged(write: HistoryWrite) -> dict[str, Any]:
    """The summary a batch leaves: the last logged value of each key, then its own summary."""
    merged: dict[str, Any] = {}
    for _, values in write.rows:
        merged.update(values)
    merged.update(write.summary or {})
    return merged


def _engine_run(run: RunRecord, history: Sequence[Row]) -> engine.Run:
    return engine.Run(run.id, run.state, run.params, history, run.summary)
