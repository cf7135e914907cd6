"""A wake-up call for the agent's loop that a signal handler may make.

``threading.Event.set()`` takes a lock that ``Event.wait()`` and ``clear()`` hold for a moment on
the same (main) thread: a signal arriving in that moment runs its handler on the main thread,
whose ``set()`` then waits forever for a lock its own thread holds. ``queue.SimpleQueue.put()``
is documented reentrant, so the handler may call it at any point.
"""

from __future__ import annotations

import queue

__all__ = ["Wakeup"]


class Wakeup:
    """``set()`` from any thread or signal handler; ``wait()`` returns early after one."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[None] = queue.SimpleQueue()

    def set(self) -> None:
        self._calls.put(None)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a ``set()``; all calls made so far are used up.
        Whether one came."""
        try:
            self._calls.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return False
        while True:
            try:
                self._calls.get_nowait()
            except queue.Empty:
                return True
