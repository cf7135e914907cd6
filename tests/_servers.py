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

from hypersweep.server import EmbeddedServer
from hypersweep.store import MemoryStore, Store

__all__ = ["free_port", "server_process", "server_thread"]

_START_TIMEOUT = 60.0  # seconds: a loaded 2-core machine imports FastAPI slowly


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
            yield url
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
