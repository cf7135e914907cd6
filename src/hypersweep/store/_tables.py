"""The SQLAlchemy Core tables; ``migrations/versions`` must create exactly these."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "agents",
    "api_keys",
    "history",
    "metadata",
    "output",
    "projects",
    "runs",
    "sweeps",
]

metadata = sa.MetaData()


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


projects = sa.Table(
    "projects",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    _when("created_at"),
)

sweeps = sa.Table(
    "sweeps",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("project", sa.String(128), sa.ForeignKey("projects.name"), nullable=False),
    sa.Column("name", sa.String(256), nullable=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    _when("created_at"),
    _when("updated_at"),
    sa.Index("ix_sweeps_project", "project"),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("sweep_id", sa.String(64), sa.ForeignKey("sweeps.id"), nullable=False),
    sa.Column("host", sa.String(256), nullable=False),
    sa.Column("pid", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    _when("created_at"),
    _when("last_heartbeat"),
    sa.Column("slot", sa.String(64), nullable=True),
    sa.Index("ix_agents_sweep_id", "sweep_id"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("sweep_id", sa.String(64), sa.ForeignKey("sweeps.id"), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("agent_id", sa.String(64), sa.ForeignKey("agents.id"), nullable=True),
    sa.Column("host", sa.String(256), nullable=True),
    sa.Column("exit_code", sa.BigInteger, nullable=True),
    _when("created_at"),
    _when("started_at", nullable=True),
    _when("ended_at", nullable=True),
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("stopped", sa.Boolean, nullable=False),
    sa.Column("stop_reason", sa.Text, nullable=True),
    sa.Column("search_info", sa.JSON, nullable=False),
    # rows appended so far: lets a server process spot history another process wrote
    sa.Column("history_rows", sa.Integer, nullable=False, server_default="0"),
    # the last history batch stored, so a retried batch is stored once
    sa.Column("last_batch", sa.BigInteger, nullable=True),
    # init()'s tags, notes, group and job_type
    sa.Column("meta", sa.JSON, nullable=False, server_default=sa.text("'{}'")),
    # +1 on every update: a process that keeps decoded runs re-reads only the changed ones
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("ix_runs_sweep_id", "sweep_id"),
    sa.Index("ix_runs_agent_id", "agent_id"),  # a heartbeat reads its agent's alive runs
)

history = sa.Table(
    "history",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Index("ix_history_run_id_step", "run_id", "step"),
)

output = sa.Table(
    "output",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("stream", sa.String(8), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Index("ix_output_run_id", "run_id"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    # SHA-256 of the secret, hex: the secret itself is never stored
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    _when("created_at"),
    _when("expires_at", nullable=True),
    _when("revoked_at", nullable=True),
)
