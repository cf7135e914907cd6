"""Alembic environment: runs on the connection handed over in ``config.attributes``.

Not a package on purpose: Alembic loads this directory by path (``hypersweep.store._migrate``),
and importing it outside a migration would fail.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
