"""Servers for tests: a real ``hypersweep server`` process, or an in-process EmbeddedServer.

Both are context managers yielding the base URL (``http://127.0.0.1:PORT``) and both stop what
they started, also when the test fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from hypersweep.credentials import load_key
from hypersweep.server import EmbeddedServer
from hypersweep.store import MemoryStore, Store

__all__ = [
    "RestartableServer",
    "auth_headers",
    "free_port",
    "restartable_server",
    "server_process",
    "server_thread",
]

_START_TIMEOUT = 120.0  # seconds: a loaded 2-core machine imports FastAPI slowly


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server_process(data_dir: Path | str | None, *extra_args: str) -> Iterator[str]:
    """Run ``python -m hypersweep server --port <free> [--data-dir DATA_DIR] [extra_args]``.

    Waits until ``GET /api/v1/health`` answers; on exit sends SIGTERM to the PID (SIGKILL if it
    does not stop within 30 s) and waits for it. Its output goes to a temporary file, shown in
    the error if the server dies before answering.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "hypersweep", "server", "--port", str(port)]
    if data_dir is not None:  # None: extra_args name the store (--db URL)
        args += ["--data-dir", str(data_dir)]
    args += extra_args
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=os.environ)
        try:
            _wait_healthy(url, process, log)
            try:
                yield url
            except Exception as exc:  # a test failed: what the server printed may say why
                log.seek(0)
                if hasattr(exc, "add_note"):  # Python 3.11+
                    exc.add_note(f"server output (its end):\n{log.read()[-6000:]}")
                raise
        finally:
            _stop(process)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: IO[str]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        if process.poll() is not None:
            log.seek(0)
            output = log.read()
            raise RuntimeError(f"hypersweep server exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"hypersweep server at {url} did not answer in time")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def server_thread(store: Store | None = None) -> Iterator[str]:
    """An EmbeddedServer over ``store`` (default: a fresh MemoryStore) in this process."""
    with EmbeddedServer(store if store is not None else MemoryStore()) as server:
        yield server.url


def auth_headers(url: str) -> dict[str, str]:
    """The ``Authorization`` header with the admin key the server at ``url`` recorded at start
    in the suite's credentials file (``tests/conftest.py``), for raw ``httpx`` requests."""
    key = load_key(url)
    assert key is not None, f"no key recorded for {url} in $HYPERSWEEP_CREDENTIALS"
    return {"Authorization": f"Bearer {key}"}


class RestartableServer:
    """A ``hypersweep server`` process on a fixed port and data dir that a test kills and starts
    again, as after a crash; made by ``restartable_server``."""

    def __init__(self, port: int, data_dir: Path, extra_args: tuple[str, ...], log: IO[str]):
        self.url = f"http://127.0.0.1:{port}"
        self._args = [sys.executable, "-m", "hypersweep", "server", "--port", str(port)]
        self._args += ["--data-dir", str(data_dir), *extra_args]
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers."""
        assert self._process is None or self._process.poll() is not None, "already running"
        self._process = subprocess.Popen(
            self._args, stdout=self._log, stderr=subprocess.STDOUT, env=os.environ
        )
        _wait_healthy(self.url, self._process, self._log)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to its PID and wait for it to exit."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, sig)
            self._process.wait(timeout=30)

    def stop(self) -> None:
        if self._process is not None:
            _stop(self._process)


@contextmanager
def restartable_server(data_dir: Path, *extra_args: str) -> Iterator[RestartableServer]:
    """A started ``RestartableServer`` on a free port; stopped by PID on exit (also when the
    test fails), whichever of its processes is running then."""
    with tempfile.TemporaryFile("w+") as log:
        server = RestartableServer(free_port(), data_dir, extra_args, log)
        try:
            server.start()
            yield server
        finally:
            server.stop()
