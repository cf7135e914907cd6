"""A fresh schema on the test PostgreSQL server (``HYPERSWEEP_TEST_PG_URL``) for the store,
API and end-to-end tests: skipped with the reason when it is not set, a failure under
``CI=true``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

__all__ = ["fresh_schema"]

PG_URL = os.environ.get("HYPERSWEEP_TEST_PG_URL")


@contextmanager
def fresh_schema(prefix: str) -> Iterator[str]:
    """A new schema named ``PREFIX_<random>``, as a database URL; dropped afterwards."""
    if not PG_URL:
        reason = "HYPERSWEEP_TEST_PG_URL is not set; PostgreSQL tests skipped"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true needs them)")
        pytest.skip(reason)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
