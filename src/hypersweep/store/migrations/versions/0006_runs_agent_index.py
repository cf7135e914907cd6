"""An index on ``runs.agent_id``: every heartbeat reads its agent's alive runs.

Without it the query walked every run of the sweep (1-1.6 ms at 3,000 runs, on every heartbeat
of every agent); with it, the agent's few.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_agent_id", "runs", ["agent_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_agent_id", table_name="runs")
