"""Playwright on Debian's Chromium against a real server (``server_thread``) with a real sweep.

Without ``/usr/bin/chromium`` or the ``playwright`` package the tests skip and say which is
missing, except under ``CI=true``, where they fail: CI installs both and must run them. Never
``playwright install``: the browser is the distribution's.
"""

from __future__ import annotations

import importlib.util
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from _demo import CONFIG, FINISHED, Demo, history

from _servers import auth_headers, server_thread
from hypersweep.store import MemoryStore

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (.venv/bin/pip install playwright)"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run under CI=true, but {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def demo() -> Iterator[Demo]:
    rng = random.Random(3)
    store = MemoryStore()
    with (
        server_thread(store) as url,
        httpx.Client(base_url=f"{url}/api/v1/", headers=auth_headers(url)) as api,
    ):
        sweep = api.post("sweeps", json={"config": CONFIG, "project": "demo"}).json()
        made = Demo(url, api, sweep, store)
        # one run the way an agent runs it, so it has output too
        agent = made.post(f"sweeps/{sweep['id']}/agents", {"host": "node-1", "pid": 7}, 201)
        command = made.post(f"agents/{agent['id']}/heartbeat", {"running": []})["commands"][0]
        run_id = command["run_id"]
        made.post(f"runs/{run_id}/start", {"host": "node-1", "agent_id": agent["id"]})
        made.post(f"runs/{run_id}/output", {"stream": "stdout", "text": "epoch 1\nepoch done\n"})
        rows, loss = history(rng, command["params"]["lr"], command["params"]["optimizer"])
        summary = {"loss": loss, "accuracy": 1 / (1 + loss)}
        made.post(f"runs/{run_id}/history", {"rows": rows, "summary": summary})
        made.runs.append(made.post(f"runs/{run_id}/finish", {"exit_code": 0}))
        for index in range(1, FINISHED):
            params = {
                "lr": 10 ** rng.uniform(-4, -1),
                "optimizer": rng.choice(["adam", "sgd", "rmsprop"]),
                "batch_size": rng.choice([16, 32, 64]),
                "width": 128,
            }
            rows, loss = history(rng, params["lr"], params["optimizer"])
            summary = {"loss": loss, "accuracy": 1 / (1 + loss)}
            run = made.post(
                f"sweeps/{sweep['id']}/runs",
                {
                    "name": f"run-{index:02d}",
                    "params": params,
                    "history": rows,
                    "summary": summary,
                    "exit_code": 0,
                },
                201,
            )
            made.runs.append(run)
        failed = made.post(
            f"sweeps/{sweep['id']}/runs",
            {
                "name": "run-failed",
                "params": {"lr": 0.5, "optimizer": "sgd", "batch_size": 16, "width": 128},
                "summary": {},
                "exit_code": 1,
                "state": "failed",
            },
            201,
        )
        made.runs.append(failed)
        yield made


@pytest.fixture
def console_errors() -> list[str]:
    """The page's console errors and uncaught exceptions; a test removes those it expects."""
    return []


@pytest.fixture
def page(browser: Browser, console_errors: list[str], demo: Demo) -> Iterator[Page]:
    """A fresh page with a dashboard session on the demo server; the test fails on any console
    error or uncaught exception in it."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    errors = console_errors
    opened.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        context.add_cookies([demo.session_cookie()])  # type: ignore[list-item]
        yield opened
        assert errors == [], f"the page logged errors: {errors}"
    finally:
        context.close()
