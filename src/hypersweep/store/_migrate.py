"""The schema revision check and Alembic upgrades, run in code (no alembic.ini).

``migrations/`` ships inside the package; ``script_location`` points at it wherever the package
is installed.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from hypersweep.errors import StoreError

__all__ = ["UPGRADE_COMMAND", "current_revision", "head_revision", "upgrade"]

UPGRADE_COMMAND = "hypersweep db upgrade"
MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The schema revision this code expects."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the packaged migrations have no head revision"
    return head


def current_revision(connection: sa.Connection) -> str | None:
    """The database's revision, or None when Alembic has never run on it."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: sa.Connection) -> None:
    """Upgrade the database on ``connection`` to the code's revision."""
    config = _config()
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    except CommandError as exc:
        raise StoreError(_unknown_revision(current_revision(connection), str(exc))) from exc


def check_or_create(connection: sa.Connection, where: str) -> None:
    """Create the schema in an empty database; otherwise insist it is at the code's revision.

    Raises:
        StoreError: the database is at another revision, with the command that fixes it.
    """
    found = current_revision(connection)
    head = head_revision()
    if found == head:
        return
    if found is None:
        if sa.inspect(connection).get_table_names():
            raise StoreError(
                f"the database at {where} has tables but no hypersweep schema revision; "
                "point hypersweep at an empty database or a hypersweep one"
            )
        upgrade(connection)
        return
    script = ScriptDirectory.from_config(_config())
    known = {rev.revision for rev in script.walk_revisions()}
    if found not in known:
        raise StoreError(f"the database at {where}: " + _unknown_revision(found, ""))
    raise StoreError(
        f"the database at {where} is at schema revision {found} and this hypersweep needs "
        f"{head}; back it up, then run `{UPGRADE_COMMAND}`"
    )


def _unknown_revision(found: str | None, detail: str) -> str:
    extra = f" ({detail})" if detail else ""
    return (
        f"schema revision {found} is unknown to this hypersweep (which expects "
        f"{head_revision()}): the code is older than the database{extra}; install the "
        f"hypersweep version that wrote it (pip install -U hypersweep), then run "
        f"`{UPGRADE_COMMAND}`"
    )
