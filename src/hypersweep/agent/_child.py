"""One run's program as a child process: started in its own session, its output copied to the
terminal and shipped to the server, signalled as a group, and waited for.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO

__all__ = ["Child", "OutputSink"]

#: ``(stream, text)`` -> ships a chunk of output to the server; may raise, which is ignored.
OutputSink = Callable[[str, str], None]
_SHIP_INTERVAL = 1.0  # seconds between output uploads: live enough for a tail, few requests
_READ_SIZE = 65536
_PIPE_GRACE = 5.0  # seconds to drain output after the program exited


class Child:
    """A started run program.

    Its own session (process group) keeps a terminal's Ctrl-C from reaching it (spec §7.8);
    signals go to the whole group, so a program's own workers stop with it.

    Raises:
        OSError: the program could not be started (not found, not executable).
    """

    def __init__(
        self,
        run_id: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        ship: OutputSink,
        on_exit: Callable[[], None],
        *,
        echo: bool = True,
    ) -> None:
        self.run_id = run_id
        self.argv = list(argv)
        self.term_sent_at: float | None = None
        self.killed = False
        self._ship = ship
        self._echo = echo
        self._pending: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._ship_lock = threading.Lock()  # chunks reach the server in order
        self._done = threading.Event()
        self.process = subprocess.Popen(
            self.argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self._pumps = [
            threading.Thread(
                target=self._pump, args=(self.process.stdout, "stdout", sys.stdout), daemon=True
            ),
            threading.Thread(
                target=self._pump, args=(self.process.stderr, "stderr", sys.stderr), daemon=True
            ),
        ]
        for pump in self._pumps:
            pump.start()
        self._shipper = threading.Thread(target=self._ship_loop, daemon=True)
        self._shipper.start()
        self._waiter = threading.Thread(target=self._wait, args=(on_exit,), daemon=True)
        self._waiter.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        """The exit code once the program ended and its output is shipped, else None.

        Negative: ended by that signal (``subprocess`` convention).
        """
        if not self._done.is_set():
            return None
        return self.process.returncode

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the program's process group (nothing if it already ended)."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):  # it ended between the poll and the kill
            os.killpg(self.process.pid, signum)
        if signum == signal.SIGKILL:
            self.killed = True
        elif signum == signal.SIGTERM and self.term_sent_at is None:
            self.term_sent_at = time.monotonic()

    def _pump(self, pipe: IO[bytes], stream: str, terminal: IO[str]) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        fd = pipe.fileno()
        while True:
            try:
                data = os.read(fd, _READ_SIZE)
            except OSError:
                data = b""
            text = decoder.decode(data, final=not data)
            if text:
                if self._echo:
                    terminal.write(text)
                    terminal.flush()
                with self._lock:
                    self._pending.append((stream, text))
            if not data:
                pipe.close()
                return

    def _ship_loop(self) -> None:
        while not self._done.wait(_SHIP_INTERVAL):
            self._ship_pending()

    def _ship_pending(self) -> None:
        with self._ship_lock:
            self._ship_pending_locked()

    def _ship_pending_locked(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        merged: list[tuple[str, str]] = []
        for stream, text in pending:
            if merged and merged[-1][0] == stream:
                merged[-1] = (stream, merged[-1][1] + text)
            else:
                merged.append((stream, text))
        for stream, text in merged:
            with contextlib.suppress(Exception):  # output is best effort; the run goes on
                self._ship(stream, text)

    def _wait(self, on_exit: Callable[[], None]) -> None:
        self.process.wait()
        for pump in self._pumps:
            # a background process the program left behind may hold the pipe open
            pump.join(timeout=_PIPE_GRACE)
        self._ship_pending()
        self._done.set()
        on_exit()
