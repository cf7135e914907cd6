"""Runs count their changes, so a server process re-reads only the runs that changed.

``runs.version`` goes up by one with every update of the row. Handing out a run reads every
run of the sweep (grid points taken, ``run_cap``, retries, the searcher's view); with the
version a process keeps the decoded runs and reads again only those whose version moved,
whichever process changed them.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("version", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("version")
