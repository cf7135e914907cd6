"""Every client test starts with no run, no sweep variables, and a scratch working directory."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean(clean_client: None) -> None:
    """Every client unit test starts from a clean environment (``tests/conftest.py``)."""
