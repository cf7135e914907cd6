"""The first schema: projects, sweeps, agents, runs, history, output.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("name", sa.String(128), primary_key=True),
        _when("created_at"),
    )
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project", sa.String(128), sa.ForeignKey("projects.name"), nullable=False),
        sa.Column("name", sa.String(256), nullable=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _when("created_at"),
        _when("updated_at"),
    )
    op.create_index("ix_sweeps_project", "sweeps", ["project"])
    op.create_table(
        "agents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("sweep_id", sa.String(64), sa.ForeignKey("sweeps.id"), nullable=False),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _when("created_at"),
        _when("last_heartbeat"),
    )
    op.create_index("ix_agents_sweep_id", "agents", ["sweep_id"])
    op.create_table(
        "runs",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("sweep_id", sa.String(64), sa.ForeignKey("sweeps.id"), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(64), sa.ForeignKey("agents.id"), nullable=True),
        sa.Column("host", sa.String(256), nullable=True),
        sa.Column("exit_code", sa.Integer, nullable=True),
        _when("created_at"),
        _when("started_at", nullable=True),
        _when("ended_at", nullable=True),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("stopped", sa.Boolean, nullable=False),
        sa.Column("stop_reason", sa.Text, nullable=True),
        sa.Column("search_info", sa.JSON, nullable=False),
    )
    op.create_index("ix_runs_sweep_id", "runs", ["sweep_id"])
    op.create_table(
        "history",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
    )
    op.create_index("ix_history_run_id_step", "history", ["run_id", "step"])
    op.create_table(
        "output",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("stream", sa.String(8), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_output_run_id", "output", ["run_id"])


def downgrade() -> None:
    for table in ("output", "history", "runs", "agents", "sweeps", "projects"):
        op.drop_table(table)
