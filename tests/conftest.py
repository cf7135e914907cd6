"""Suite-wide settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# One BLAS thread: on a shared 2-core machine, OpenBLAS's threads make scipy's small
# factorisations and L-BFGS-B 10-100x slower (measured with the bayes tests). Set before numpy
# is imported by any test module.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


def pytest_configure(config: object) -> None:
    """Keep the suite's API keys out of the user's credentials file.

    Servers started by tests record their admin key in ``$HYPERSWEEP_CREDENTIALS``; pointing it
    at a throw-away file (inherited by every process a test starts) keeps the real one untouched
    and lets the CLI and agents the tests start find the key as a user's would.
    """
    import tempfile

    global _CREDENTIALS_DIR
    _CREDENTIALS_DIR = tempfile.TemporaryDirectory(prefix="hypersweep-test-credentials-")
    os.environ["HYPERSWEEP_CREDENTIALS"] = os.path.join(_CREDENTIALS_DIR.name, "credentials.json")
    os.environ.pop("HYPERSWEEP_API_KEY", None)


def pytest_unconfigure(config: object) -> None:
    if _CREDENTIALS_DIR is not None:
        _CREDENTIALS_DIR.cleanup()


_CREDENTIALS_DIR: Any = None


@pytest.fixture
def clean_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The client as a fresh process sees it: no W&B or hypersweep variables (but the suite's
    credentials file), the working directory in ``tmp_path``, and no run left open after."""
    from hypersweep.client import _init

    for name in list(os.environ):
        if name.startswith(("WANDB_", "HYPERSWEEP_")) and name != "HYPERSWEEP_CREDENTIALS":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
    for run in list(_init._unfinished):
        run.finish()
    _init.set_inprocess_agent(False)
