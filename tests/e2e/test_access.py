"""Access control as users meet it: the server's first start, `hypersweep login` and
`hypersweep key` on the command line, and `--no-auth` only on loopback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from _servers import free_port
from hypersweep.cli import main

pytestmark = pytest.mark.slow


def hypersweep(*args: str, **env: str) -> Result:
    """The CLI in this process (a subprocess per command costs seconds on a loaded machine)."""
    result = CliRunner().invoke(main, list(args), env=env)
    # a user's mistake ends in SystemExit with a message, never in an uncaught exception
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@contextmanager
def server(data_dir: Path, log: Path, port: int) -> Iterator[str]:
    """``hypersweep server`` with its output in ``log``; stopped (by PID) on the way out."""
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "hypersweep", "server", "--port", str(port)]
    with log.open("a") as out:
        process = subprocess.Popen(
            [*argv, "--data-dir", str(data_dir), "--log-level", "debug"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not answer in time"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_first_start_keys_login_and_revocation(tmp_path: Path) -> None:
    mine = Path(os.environ["HYPERSWEEP_CREDENTIALS"])
    theirs = str(tmp_path / "someone-else" / "credentials.json")
    log = tmp_path / "server.log"
    port = free_port()
    with server(tmp_path / "data", log, port) as url:
        printed = log.read_text()
        assert "admin API key made and saved" in printed
        assert f"dashboard: {url}/login?token=hs_" in printed
        assert stat.S_IMODE(mine.stat().st_mode) == 0o600
        admin_key = json.loads(mine.read_text())["servers"][url]["api_key"]

        # the same user's CLI needs no step; someone else's is refused with the fix
        assert hypersweep("key", "list", "--server", url).exit_code == 0
        refused = hypersweep("key", "list", "--server", url, HYPERSWEEP_CREDENTIALS=theirs)
        assert refused.exit_code != 0
        assert "Traceback" not in refused.output
        assert "hypersweep login" in refused.output

        made = hypersweep("key", "create", "--name", "viewer", "--role", "read", "--server", url)
        assert made.exit_code == 0, made.output
        read_key = made.stdout.splitlines()[0].strip()
        assert read_key.startswith("hs_")
        assert "shown only now" in made.output

        login = hypersweep("login", url, "--key", read_key, HYPERSWEEP_CREDENTIALS=theirs)
        assert login.exit_code == 0, login.output
        assert "as 'viewer' (role read)" in login.stdout
        assert stat.S_IMODE(Path(theirs).stat().st_mode) == 0o600
        as_viewer = {"HYPERSWEEP_CREDENTIALS": theirs}
        assert hypersweep("key", "list", "--server", url, **as_viewer).exit_code != 0
        config = tmp_path / "sweep.yaml"
        config.write_text("method: grid\nparameters:\n  x:\n    values: [1, 2]\n")
        create = hypersweep("sweep", str(config), "--server", url, **as_viewer)
        assert create.exit_code != 0
        assert "role read" in create.output

        listed = hypersweep("key", "list", "--server", url)
        key_id = next(line.split()[1] for line in listed.stdout.splitlines() if "viewer" in line)
        assert hypersweep("key", "revoke", key_id, "--server", url).exit_code == 0
        after = hypersweep("login", url, "--key", read_key, HYPERSWEEP_CREDENTIALS=theirs)
        assert after.exit_code != 0
        assert "not valid" in after.output
    # secrets never reach the log, though debug logs every request
    assert read_key not in log.read_text()
    assert admin_key not in log.read_text()

    # a restart keeps the recorded key: nothing new to set up
    with server(tmp_path / "data", tmp_path / "again.log", port) as url:
        assert "admin API key made" not in (tmp_path / "again.log").read_text()
        assert json.loads(mine.read_text())["servers"][url]["api_key"] == admin_key


def test_no_auth_only_on_loopback(tmp_path: Path) -> None:
    result = hypersweep("server", "--no-auth", "--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "loopback" in result.output
