"""``hypersweep server`` that times agents' requests from inside (``load.py --server-timing``;
started by it, never by hand).

The simulated agents time each request from their side, and on one 2-core machine their own
processes are short of CPU when the whole fleet starts at once: a request's round trip then
includes the time its agent process took to send it and to read the answer. This launcher
wraps every app the server builds in a pure ASGI middleware that notes, for each POST, when it
arrived (``time.monotonic()``, the clock every process shares on Linux), how long the app took
to answer it, its endpoint, and whether it was a heartbeat that handed out a run. Each server
process appends its notes, one JSON list a line, to ``$HYPERSWEEP_BENCH_TIMING/<pid>.jsonl``
(as it goes: the workers of ``--workers N`` end without running exit handlers). The workers are
spawned processes that import this file again as their main module, so they are timed too.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hypersweep.server import _app, _embedded, _workers

_NOTES: list[Any] = []  # this process's notes file, opened at its first note


class Timed:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        arrival = time.monotonic()
        handed = False

        async def noting(message: Message) -> None:
            nonlocal handed
            if message["type"] == "http.response.body":
                handed = handed or b'"type":"run"' in message.get("body", b"")
            await send(message)

        await self.app(scope, receive, noting)
        elapsed = (time.monotonic() - arrival) * 1000
        note(arrival, elapsed, scope["path"].rsplit("/", 1)[-1], handed)


def note(arrival: float, elapsed: float, endpoint: str, handed: bool) -> None:
    """One line ``[arrival, ms, endpoint, handed out a run]``."""
    if not _NOTES:
        folder = Path(os.environ["HYPERSWEEP_BENCH_TIMING"])
        _NOTES.append((folder / f"{os.getpid()}.jsonl").open("a", buffering=1))
    _NOTES[0].write(json.dumps([arrival, elapsed, endpoint, handed]) + "\n")


def create_app(*args: Any, **kwargs: Any) -> Any:
    app = plain_create_app(*args, **kwargs)
    app.add_middleware(Timed)  # the outermost: from the request's arrival to its answer
    return app


plain_create_app = _app.create_app
for _module in (_app, _embedded, _workers):  # each imported create_app by name
    setattr(_module, "create_app", create_app)  # noqa: B010 (not every module exports it)

if __name__ == "__main__":
    from hypersweep.cli import main

    sys.argv[0] = "hypersweep"
    main()
