"""The lease timer: finds agents that stopped heartbeating, even when no other agent of their
sweep heartbeats to notice (``Controller.reap``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from hypersweep.controller import Controller
from hypersweep.errors import HypersweepError

__all__ = ["Reaper"]

_log = logging.getLogger("hypersweep.server")


class Reaper:
    """A daemon thread calling ``controller.reap(clock())`` every ``interval`` seconds."""

    def __init__(
        self, controller: Controller, clock: Callable[[], datetime], interval: float
    ) -> None:
        self._controller = controller
        self._clock = clock
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hypersweep-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                lost = self._controller.reap(self._clock())
            except HypersweepError as exc:  # the database is away: try again next time
                _log.warning("could not check agents' heartbeats: %s", exc)
                continue
            if lost:
                _log.info("%d agent(s) stopped heartbeating; their runs are crashed", lost)
