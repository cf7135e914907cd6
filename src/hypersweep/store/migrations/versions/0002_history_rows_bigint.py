"""Runs count their history rows and remember their last batch; steps, exit codes and pids are
64-bit.

``runs.history_rows`` lets a server process see, from the run list it reads anyway, which runs
got rows from another server process since it cached their metric series (several workers or
hosts on one database). ``runs.last_batch`` makes a retried history batch idempotent. Steps
counted in tokens or samples and Windows exit codes overflow PostgreSQL's 32-bit INTEGER.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite alters columns by copying the table, PostgreSQL alters in place
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("history_rows", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_batch", sa.BigInteger, nullable=True))
        batch.alter_column("exit_code", type_=sa.BigInteger, existing_nullable=True)
    with op.batch_alter_table("history") as batch:
        batch.alter_column("step", type_=sa.BigInteger, existing_nullable=False)
    with op.batch_alter_table("agents") as batch:
        batch.alter_column("pid", type_=sa.BigInteger, existing_nullable=False)
    op.execute(
        "UPDATE runs SET history_rows = "
        "(SELECT COUNT(*) FROM history WHERE history.run_id = runs.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.alter_column("pid", type_=sa.Integer, existing_nullable=False)
    with op.batch_alter_table("history") as batch:
        batch.alter_column("step", type_=sa.Integer, existing_nullable=False)
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("exit_code", type_=sa.Integer, existing_nullable=True)
        batch.drop_column("last_batch")
        batch.drop_column("history_rows")
