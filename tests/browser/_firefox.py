"""A small WebDriver BiDi driver for Debian's Firefox, for the dashboard's Firefox tests.

Why BiDi and not Playwright: Playwright drives Firefox only through its own patched build
(``playwright install firefox``), which these tests never download: the browsers are the
distribution's. Debian's ``firefox-esr`` speaks WebDriver BiDi, the W3C protocol, natively:
started with ``--remote-debugging-port`` it prints ``WebDriver BiDi listening on ws://...``
and takes JSON commands on ``ws://HOST:PORT/session``. Tests need only a few of them
(``browsingContext.*``, ``script.evaluate``, ``storage.setCookie``, ``log.entryAdded``), so
this module speaks them over the ``websockets`` sync client instead of adding Selenium and
geckodriver.

Without ``/usr/bin/firefox-esr`` or the ``websockets`` package :func:`firefox` skips and
says which is missing, except under ``CI=true``, where it fails (as ``conftest.py`` does for
Chromium): CI installs both and must run the tests.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import itertools
import json
import math
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

__all__ = ["FIREFOX", "BiDiError", "Firefox", "firefox"]

FIREFOX = Path("/usr/bin/firefox-esr")
START_SECONDS = 60  # a cold start on a loaded 2-core machine takes several seconds
COMMAND_SECONDS = 60  # navigate waits for the page's load, and plotly.min.js is 4.8 MB
LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")

# The machine has loopback-only network: keep Firefox from reaching out, or waiting to.
PREFS: dict[str, Any] = {
    "remote.active-protocols": 1,  # WebDriver BiDi only
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.tabs.warnOnClose": False,
    "app.update.enabled": False,
    "app.update.auto": False,
    "app.normandy.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.server": "",
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "browser.region.update.enabled": False,
    "browser.region.network.url": "",
    "services.settings.server": "http://127.0.0.1:9/",  # Remote Settings: refused at once
}


class BiDiError(AssertionError):
    """A BiDi command failed, or a script threw."""


def _missing() -> str | None:
    if importlib.util.find_spec("websockets") is None:
        return "the websockets package is not installed (.venv/bin/pip install websockets)"
    if not FIREFOX.exists():
        return f"{FIREFOX} is missing (apt-get install -y firefox-esr)"
    return None


def _number(value: Any) -> float | int:
    special = {"NaN": math.nan, "-0": -0.0, "Infinity": math.inf, "-Infinity": -math.inf}
    return special[value] if isinstance(value, str) else value


def deserialize(remote: dict[str, Any]) -> Any:
    """The Python value of a BiDi ``script.RemoteValue``: primitives, arrays, sets, objects
    and maps become Python values; anything else (nodes, functions, ...) stays as sent."""
    kind = remote["type"]
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return remote["value"]
    if kind == "number":
        return _number(remote["value"])
    if kind == "bigint":
        return int(remote["value"])
    if "value" not in remote:  # a repeated reference, or a type with no value
        return remote
    if kind in ("array", "set"):
        return [deserialize(item) for item in remote["value"]]
    if kind in ("object", "map"):
        out: dict[Any, Any] = {}
        for key, item in remote["value"]:
            key = key if isinstance(key, str) else deserialize(key)
            out[key if isinstance(key, str | int | float | bool) or key is None else str(key)] = (
                deserialize(item)
            )
        return out
    if kind == "date":
        return remote["value"]
    return remote


class Firefox:
    """One Firefox over BiDi, with one current tab (browsing context) that the methods act on.

    ``errors`` collects the current tab's console errors and uncaught exceptions; it starts
    empty in each :meth:`new_tab`.
    """

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._ids = itertools.count(1)
        self.context: str | None = None
        self.errors: list[str] = []

    # the protocol

    def command(self, method: str, params: dict[str, Any], seconds: float = COMMAND_SECONDS) -> Any:
        """Send a command and return its result, handling the events that arrive meanwhile."""
        ident = next(self._ids)
        self._connection.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BiDiError(f"no answer to {method} within {seconds} s")
            try:
                message = json.loads(self._connection.recv(timeout=left))
            except TimeoutError:
                continue
            if message.get("type") == "event":
                self._event(message["method"], message["params"])
            elif message.get("id") == ident:
                if message.get("type") == "error":
                    raise BiDiError(
                        f"{method} failed: {message.get('error')}: {message.get('message')}"
                    )
                return message["result"]

    def _event(self, method: str, params: dict[str, Any]) -> None:
        if method != "log.entryAdded" or params.get("level") != "error":
            return
        if params.get("source", {}).get("context") not in (None, self.context):
            return  # a tab closed earlier
        text = params.get("text") or ""
        if params.get("type") == "javascript":
            text = f"uncaught: {text}"
        self.errors.append(text)

    def drain(self) -> None:
        """Handle the events sent so far (so that ``errors`` is up to date)."""
        self.command("browsingContext.getTree", {"maxDepth": 0})

    # the tab

    def new_tab(self, width: int = 1400, height: int = 1000) -> None:
        """Close the current tab, open a fresh one and make it current; clear ``errors``."""
        old = self.context
        # open before closing; the session's first tab stays open, since closing a window's
        # last tab would quit Firefox
        self.context = self.command("browsingContext.create", {"type": "tab"})["context"]
        if old is not None:
            self.command("browsingContext.close", {"context": old})
        self.command(
            "browsingContext.setViewport",
            {"context": self.context, "viewport": {"width": width, "height": height}},
        )
        self.errors = []

    def close_tab(self) -> None:
        """Close the current tab (its page's connections to the server with it)."""
        if self.context is not None:
            self.command("browsingContext.close", {"context": self.context})
            self.context = None

    def goto(self, url: str) -> None:
        """Navigate the current tab and wait for the page's load event."""
        self.command(
            "browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}
        )

    def evaluate(self, js: str) -> Any:
        """The value of the expression ``js`` in the page (awaited if it is a promise)."""
        result = self.command(
            "script.evaluate",
            {
                "expression": js,
                "target": {"context": self.context},
                "awaitPromise": True,
                "resultOwnership": "none",
            },
        )
        if result["type"] == "exception":
            details = result["exceptionDetails"]
            raise BiDiError(f"{js!r} threw: {details.get('text')}")
        return deserialize(result["result"])

    def wait_for(self, js: str, seconds: float, what: str) -> Any:
        """The first truthy value of ``js``, polled every 0.1 s; fails after ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            value = self.evaluate(js)
            if value:
                return value
            assert time.monotonic() < deadline, f"not within {seconds} s: {what}; last: {value!r}"
            time.sleep(0.1)

    def set_cookie(
        self, name: str, value: str, url: str | None = None, domain: str | None = None
    ) -> None:
        """Set a cookie for ``url``'s host (or ``domain``), path ``/``."""
        host = domain or (urlsplit(url).hostname if url else None)
        assert host, "set_cookie needs a url or a domain"
        cookie = {"name": name, "value": {"type": "string", "value": value}, "domain": host}
        self.command("storage.setCookie", {"cookie": {**cookie, "path": "/"}})


def _read_stderr(
    stream: Any, tail: collections.deque[str], found: list[str], seen: threading.Event
) -> None:
    """Keep reading Firefox's stderr (a full pipe would block it); note the BiDi address."""
    for line in stream:
        tail.append(line.rstrip())
        match = LISTENING.search(line)
        if match and not seen.is_set():
            found.append(match.group(1))
            seen.set()
    seen.set()  # Firefox exited


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def firefox() -> Iterator[Firefox]:
    """A headless Firefox with a fresh profile, driven over BiDi; stopped on exit, also on
    failure. Skips (fails under ``CI=true``) when Firefox or ``websockets`` is missing."""
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Firefox browser tests must run under CI=true, but {missing}")
        pytest.skip(f"Firefox browser tests skipped: {missing}")
    from websockets.sync.client import connect

    with tempfile.TemporaryDirectory(
        prefix="hypersweep-firefox-", ignore_cleanup_errors=True
    ) as tmp:
        profile = Path(tmp)
        profile.joinpath("user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items())
        )
        process = subprocess.Popen(
            [
                str(FIREFOX),
                "--headless",
                "--remote-debugging-port=0",  # Firefox picks a free port and prints it
                "--profile",
                str(profile),
                "--no-remote",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1"},
        )
        tail: collections.deque[str] = collections.deque(maxlen=40)
        found: list[str] = []
        seen = threading.Event()
        reader = threading.Thread(
            target=_read_stderr, args=(process.stderr, tail, found, seen), daemon=True
        )
        reader.start()
        try:
            if not seen.wait(START_SECONDS) or not found:
                log = "\n".join(tail)
                raise BiDiError(f"Firefox did not start BiDi within {START_SECONDS} s:\n{log}")
            with connect(f"{found[0]}/session", max_size=None, open_timeout=30) as connection:
                driver = Firefox(connection)
                driver.command("session.new", {"capabilities": {}})
                driver.command("session.subscribe", {"events": ["log.entryAdded"]})
                try:
                    yield driver
                finally:
                    with contextlib.suppress(Exception):
                        driver.command("session.end", {}, seconds=5)
        finally:
            _stop(process)
            reader.join(timeout=5)
            assert process.stderr is not None
            process.stderr.close()
