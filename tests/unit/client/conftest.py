"""Every client test starts with no run, no sweep variables, and a scratch working directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hypersweep.client import _init


@pytest.fixture(autouse=True)
def clean_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("WANDB_", "HYPERSWEEP_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
    for run in list(_init._unfinished):
        run.finish()
    _init.set_inprocess_agent(False)
