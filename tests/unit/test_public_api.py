"""The public names are pinned: a change here is a change to the public API."""

from __future__ import annotations

import subprocess
import sys

import hypersweep
from hypersweep import engine


def test_package_exports() -> None:
    assert set(hypersweep.__all__) == {
        "AuthError",
        "ConfigError",
        "ConfigIssue",
        "ConflictError",
        "HypersweepError",
        "NotFoundError",
        "ServerUnavailable",
        "StoreError",
        "__version__",
    }


def test_engine_exports() -> None:
    assert set(engine.__all__) == {
        "Run",
        "RunState",
        "StopOrder",
        "Suggestion",
        "SweepConfig",
        "next_runs",
        "parse",
        "render_command",
        "runs_to_stop",
        "validate",
    }


def test_importing_hypersweep_stays_light() -> None:
    code = (
        "import sys, hypersweep; "
        "heavy = {'numpy', 'scipy', 'fastapi', 'sqlalchemy', 'yaml'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
