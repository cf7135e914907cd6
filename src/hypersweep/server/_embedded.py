"""Running the app: ``serve`` in the foreground, ``EmbeddedServer`` in a background thread.

Both bind the listening socket themselves before uvicorn starts, so a port in use is one clear
``PortInUse`` error instead of a log line and ``sys.exit`` from inside uvicorn, and port 0 gives a
free port whose number is known before the first request.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import ClassVar

import uvicorn

from hypersweep.controller import AGENT_TIMEOUT
from hypersweep.credentials import forget_key
from hypersweep.errors import HypersweepError
from hypersweep.server._app import create_app
from hypersweep.server._credentials import LocalKey, ensure_local_key, login_link
from hypersweep.store import Store

__all__ = ["EmbeddedServer", "PortInUse", "bind", "freeze_startup_objects", "serve"]

_START_TIMEOUT = 60.0  # seconds; generous for a loaded 2-core machine


class PortInUse(HypersweepError):
    """The address to listen on is taken (or not ours to bind)."""

    exit_code: ClassVar[int] = 1


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free port).

    Raises:
        PortInUse: another program listens there, or the address is not this machine's.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets that say
    # so; without it every answer on a kept-alive connection waits ~40 ms for a delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # uvicorn's own default: with 128, hundreds of agents connecting at once overflowed
        # the accept queue of a busy server
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"port {port} on {host} is in use (another hypersweep server?); stop that "
                "program or pick another port with --port"
            ) from None
        raise PortInUse(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); use an address of this "
            "machine with --host (127.0.0.1 for this machine only, 0.0.0.0 for every interface)"
        ) from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def freeze_startup_objects() -> None:
    """Leave every object made so far (the modules, the app, the store) out of all later
    garbage collections, in a process that is about to serve and nothing else.

    A full collection walks every tracked object and holds the event loop meanwhile. A server
    process has about 200,000 of them, nearly all from its imports, and under load it made a
    full collection every second or so: 125-180 ms each on this machine kind, every request in
    flight then waiting (64 agents on SQLite, ``benchmarks/load.py``). Frozen at the start
    (``gc.freeze``, as Python's documentation suggests for long-lived servers), they are never
    walked again; what the server makes later is collected as before."""
    gc.collect()
    gc.freeze()


def serve(
    store: Store,
    host: str = "127.0.0.1",
    port: int = 8787,
    *,
    log_level: str = "info",
    on_ready: Callable[[str], None] | None = None,
    heartbeat_timeout: float = AGENT_TIMEOUT.total_seconds(),
    auth: bool = True,
) -> None:
    """Serve the API until Ctrl-C or SIGTERM (uvicorn shuts down gracefully).

    ``on_ready`` receives the base URL once the socket listens. uvicorn's access log (a line per
    request, so one per heartbeat) is on only at ``log_level="debug"``.

    Raises:
        PortInUse: the address is taken.
    """
    sock = bind(host, port)
    try:
        config = uvicorn.Config(
            create_app(store, heartbeat_timeout=heartbeat_timeout, auth=auth),
            log_level=log_level,
            access_log=log_level == "debug",
            timeout_graceful_shutdown=10,
        )
        freeze_startup_objects()
        if on_ready is not None:
            on_ready(url_of(sock))
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


class EmbeddedServer:
    """The API on a loopback port in a background thread; a context manager.

    Example::

        with EmbeddedServer(MemoryStore()) as server:
            ApiClient(server.url).health()

    Args:
        store: the store to serve (not closed on exit: it is the caller's).
        host: the address to listen on.
        port: 0 picks a free port.
        clock, heartbeat_timeout, auth: passed to ``create_app``.

    With ``auth`` (the default) the user's credentials file gets an admin key for the server's
    address at start (``api_key``), so clients in this process and in child processes find it;
    an entry made for a port picked at random is removed again on exit.
    """

    def __init__(
        self,
        store: Store,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], datetime] | None = None,
        heartbeat_timeout: float = AGENT_TIMEOUT.total_seconds(),
        auth: bool = True,
    ) -> None:
        self.store = store
        self._auth = auth
        self.api_key: str | None = None
        self._minted: LocalKey | None = None
        self._heartbeat_timeout = heartbeat_timeout
        self._host = host
        self._port = port
        self._clock = clock
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def __enter__(self) -> EmbeddedServer:
        self._socket = bind(self._host, self._port)
        self.url = url_of(self._socket)
        now = self._clock or (lambda: datetime.now(timezone.utc))
        if self._auth:
            local = ensure_local_key(self.store, self.url, now())
            self.api_key = local.secret
            self._minted = local if local.created and self._port == 0 else None
        app = create_app(
            self.store,
            clock=self._clock,
            heartbeat_timeout=self._heartbeat_timeout,
            auth=self._auth,
        )
        # log_config=None leaves the host program's logging alone
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"hypersweep-server {self.url}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.__exit__()
                raise HypersweepError(f"the embedded hypersweep server at {self.url} did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join()
        if self._socket is not None:
            self._socket.close()
        if self._minted is not None:
            with contextlib.suppress(HypersweepError):
                forget_key(self.url, self._minted.secret)
        self._server = self._thread = self._socket = None
        self._minted = None

    def login_link(self) -> str:
        """A one-time link that opens the dashboard logged in (see ``server/login.py``)."""
        now = self._clock or (lambda: datetime.now(timezone.utc))
        return login_link(self.store, self.url, now())
