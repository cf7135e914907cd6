"""``hypersweep server`` and ``hypersweep db upgrade`` as users run them: mistakes are one line
naming the thing and the fix, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from _servers import server_process

pytestmark = pytest.mark.slow


def hypersweep(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hypersweep", *args], capture_output=True, text=True, timeout=120
    )


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_a_port_in_use_is_named_with_the_fix(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = hypersweep("server", "--port", port, "--data-dir", str(tmp_path))
    one_line_error(result, f"port {port}", "--port")


def test_bad_store_locations_are_named(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    one_line_error(hypersweep("server", "--data-dir", str(a_file)), "is a file")
    one_line_error(hypersweep("server", "--db", "not a url"), "not a database URL")
    one_line_error(
        hypersweep("server", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none"),
        "127.0.0.1:1",
    )
    one_line_error(
        hypersweep("server", "--data-dir", str(tmp_path), "--db", "sqlite:///x.db"), "not both"
    )


def test_db_upgrade_creates_then_reports_the_revision(tmp_path: Path) -> None:
    first = hypersweep("db", "upgrade", "--data-dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "upgraded from empty to" in first.stdout
    again = hypersweep("db", "upgrade", "--data-dir", str(tmp_path))
    assert "already at schema revision" in again.stdout
    with server_process(tmp_path) as url:  # the upgraded database serves
        assert url.startswith("http://127.0.0.1:")
