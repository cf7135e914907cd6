"""The agent loop's wake-up call, which signal handlers make (agent/_wakeup.py)."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

import pytest

from hypersweep.agent._wakeup import Wakeup


def test_a_call_made_before_the_wait_ends_it_at_once_and_is_used_up() -> None:
    wake = Wakeup()
    wake.set()
    wake.set()
    started = time.monotonic()
    assert wake.wait(5.0) is True
    assert time.monotonic() - started < 1.0
    assert wake.wait(0.01) is False, "both calls were used up by one wait"


def test_a_call_from_another_thread_ends_the_wait() -> None:
    wake = Wakeup()
    threading.Timer(0.05, wake.set).start()
    started = time.monotonic()
    assert wake.wait(10.0) is True
    assert time.monotonic() - started < 5.0


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
def test_signal_handlers_may_call_it_while_the_main_thread_waits_and_calls_it() -> None:
    # threading.Event deadlocks here: a handler's set() waits for the lock that the interrupted
    # wait() or set() of its own thread holds.
    wake = Wakeup()
    fired = 0

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        fired += 1
        wake.set()

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
    try:
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            wake.set()
            wake.wait(0.0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)
    assert fired > 10
