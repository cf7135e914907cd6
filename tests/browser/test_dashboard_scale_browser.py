"""The sweep page's runs table pages from the server (``GET /sweeps/{id}/runs?offset=&limit=``)
and shows each run's agent with its slot, in a real browser against a real server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

import pytest
from _demo import Demo, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000  # a loaded 2-core machine parses the 4.8 MB plotly.min.js slowly
TOTAL = 120
PAGE_SIZE = 50


def _shown(page: Page) -> list[str]:
    names: list[str] = page.locator("#runs tbody tr[data-run] td:first-child").evaluate_all(
        "cells => cells.map(c => c.textContent)"
    )
    return names


def test_the_runs_table_pages_from_the_server(demo: Demo, page: Page) -> None:
    sweep_id = demo.sweep["id"]
    for index in range(TOTAL - len(demo.runs)):
        demo.post(
            f"sweeps/{sweep_id}/runs",
            {"name": f"bulk-{index:03d}", "params": {"lr": 0.01}, "summary": {"loss": index}},
            201,
        )
    names = sorted(run["name"] for run in demo.get(f"sweeps/{sweep_id}/runs"))
    assert len(names) == TOTAL
    pages: list[dict[str, list[str]]] = []

    def remember(request: Any) -> None:
        url = urlparse(request.url)
        if url.path == f"/api/v1/sweeps/{sweep_id}/runs" and request.method == "GET":
            pages.append(parse_qs(url.query))

    page.on("request", remember)
    page.goto(f"{demo.url}/sweeps/{sweep_id}")
    info = page.locator("#page-info")
    info.wait_for(timeout=TIMEOUT_MS)
    wait_until(lambda: info.inner_text() == f"page 1 of 3 ({TOTAL} runs)", 10, "three pages")
    assert page.locator("#runs tbody tr[data-run]").count() == PAGE_SIZE

    page.locator("#runs th[data-key='name']").click()
    wait_until(lambda: _shown(page) == names[:PAGE_SIZE], 10, "page 1 by name")
    page.locator("#page-next").click()
    wait_until(lambda: _shown(page) == names[PAGE_SIZE : 2 * PAGE_SIZE], 10, "page 2 by name")
    assert {"offset": ["50"], "limit": ["50"], "sort": ["name"], "order": ["asc"]} in pages
    page.locator("#page-next").click()
    wait_until(lambda: _shown(page) == names[2 * PAGE_SIZE :], 10, "page 3 by name")
    assert page.locator("#page-next").is_disabled()
    assert info.inner_text() == f"page 3 of 3 ({TOTAL} runs)"

    # a filter goes to the server too, and counts what it keeps
    with page.expect_request(lambda request: "filter=bulk-10" in request.url, timeout=10_000):
        page.fill("#text-filter", "bulk-10")
    wait_until(lambda: info.inner_text() == "page 1 of 1 (7 runs)", 10, "the server's count")
    assert _shown(page) == [f"bulk-{i}" for i in range(100, 107)]


def test_each_run_shows_its_agent_and_slot_live(demo: Demo, page: Page) -> None:
    sweep_id = demo.sweep["id"]
    page.goto(f"{demo.url}/sweeps/{sweep_id}")
    page.locator("#runs tbody tr[data-run]").first.wait_for(timeout=TIMEOUT_MS)
    # the demo's first run came from an agent without a slot: its host alone
    first = demo.runs[0]["id"]
    cell = page.locator(f"#runs tr[data-run='{first}'] td.agent")
    wait_until(lambda: cell.inner_text() == "node-1", 10, "the agent's host")

    # a new agent with a slot takes a run while the page is open
    agent = demo.post(
        f"sweeps/{sweep_id}/agents", {"host": "gpu-box", "pid": 9, "slot": "gpu 0"}, 201
    )
    command = demo.post(f"agents/{agent['id']}/heartbeat", {"running": []})["commands"][0]
    demo.post(f"runs/{command['run_id']}/start", {"host": "gpu-box", "agent_id": agent["id"]})
    cell = page.locator(f"#runs tr[data-run='{command['run_id']}'] td.agent")
    cell.wait_for(timeout=10_000)
    wait_until(lambda: cell.inner_text() == "gpu-box · gpu 0", 10, "host and slot")
