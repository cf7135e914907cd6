"""A server process leaves what it made before serving out of later garbage collections: a full
collection of its ~200,000 startup objects held the event loop for 125-180 ms about once a
second under load (benchmarks/load.py), every request in flight waiting."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from hypersweep.server import _embedded, _workers
from hypersweep.store import MemoryStore, open_store


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()  # the test process collects as before


def test_serve_freezes_what_it_made_before_it_serves(
    unfrozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen: list[int] = []

    def run(self: uvicorn.Server, sockets: Any = None) -> None:
        frozen.append(gc.get_freeze_count())

    monkeypatch.setattr(uvicorn.Server, "run", run)
    _embedded.serve(MemoryStore(), port=0, auth=False)
    assert frozen and frozen[0] > 10_000  # the modules, the app and the store


def test_each_worker_process_freezes_its_app(
    unfrozen: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store(tmp_path).close()  # made and migrated once, as the parent does
    monkeypatch.setenv(_workers.DB_ENV, str(tmp_path))
    monkeypatch.setenv(_workers.NO_AUTH_ENV, "1")
    assert gc.get_freeze_count() == 0
    _workers.app_from_env()
    assert gc.get_freeze_count() > 10_000
