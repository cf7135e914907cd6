"""Runs keep what ``init()`` says about them (tags, notes, group, job_type); agents their slot.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("meta", sa.JSON, nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("slot", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("slot")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("meta")
