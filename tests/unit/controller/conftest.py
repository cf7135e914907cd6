"""The ``h`` fixture: a fresh controller harness per test."""

from __future__ import annotations

import pytest
from _controller_harness import Harness


@pytest.fixture
def h() -> Harness:
    return Harness()
