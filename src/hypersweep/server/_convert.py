"""Store records and controller commands -> ``protocol`` models (one place for the mapping)."""

from __future__ import annotations

from hypersweep import protocol as p
from hypersweep.controller import AssignRun, Command, StopRun, sweep_summary
from hypersweep.errors import ConfigIssue
from hypersweep.store import AgentRecord, RunRecord, Store, SweepRecord

__all__ = ["agent_out", "command_out", "issue_out", "run_out", "sweep_out"]


def sweep_out(store: Store, sweep: SweepRecord) -> p.SweepOut:
    summary = sweep_summary(store, sweep)
    best = p.BestRun(run_id=summary.best.run_id, value=summary.best.value) if summary.best else None
    return p.SweepOut(
        id=sweep.id,
        project=sweep.project,
        name=sweep.name,
        config=dict(sweep.config),
        state=sweep.state.value,
        created_at=sweep.created_at,
        updated_at=sweep.updated_at,
        run_counts=summary.run_counts,
        best=best,
    )


def issue_out(issue: ConfigIssue) -> p.IssueOut:
    return p.IssueOut(path=issue.path, message=issue.message, severity=issue.severity.value)


def run_out(run: RunRecord) -> p.RunOut:
    return p.RunOut(
        id=run.id,
        sweep_id=run.sweep_id,
        name=run.name,
        params=dict(run.params),
        state=run.state,
        created_at=run.created_at,
        agent_id=run.agent_id,
        host=run.host,
        exit_code=run.exit_code,
        started_at=run.started_at,
        ended_at=run.ended_at,
        summary=dict(run.summary),
        stopped=run.stopped,
        stop_reason=run.stop_reason,
    )


def agent_out(agent: AgentRecord) -> p.AgentOut:
    return p.AgentOut(
        id=agent.id,
        sweep_id=agent.sweep_id,
        host=agent.host,
        pid=agent.pid,
        state=agent.state.value,
        created_at=agent.created_at,
        last_heartbeat=agent.last_heartbeat,
    )


def command_out(command: Command) -> p.RunCommand | p.StopCommand | p.ExitCommand:
    if isinstance(command, AssignRun):
        return p.RunCommand(
            run_id=command.run_id,
            sweep_id=command.sweep_id,
            project=command.project,
            params=dict(command.params),
        )
    if isinstance(command, StopRun):
        return p.StopCommand(run_id=command.run_id, reason=command.reason)
    return p.ExitCommand(reason=command.reason, kill=command.kill)
