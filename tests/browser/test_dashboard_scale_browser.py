"""The sweep page's runs table pages from the server (``GET /sweeps/{id}/runs?offset=&limit=``)
and shows each run's agent with its slot, and above 1,000 finished runs the parallel coordinates
draw the best ones until asked for all, in a real browser against a real server."""

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


BEST = 1000  # sweep.js PARCOORDS_BEST
MANY = BEST + 10

LINES = "document.getElementById('parcoords').data[0].dimensions[0].values.length"
# the metric axis is the last one
METRIC_VALUES = (
    "(() => { const d = document.getElementById('parcoords').data[0].dimensions;"
    " return d[d.length - 1].values; })()"
)


@pytest.mark.parametrize("goal", ["minimize", "maximize"])
def test_above_a_thousand_runs_the_parallel_coordinates_draw_the_best(
    demo: Demo, page: Page, goal: str
) -> None:
    config = {
        "method": "random",
        "metric": {"name": "loss", "goal": goal},
        "parameters": {
            "lr": {"min": 0.0, "max": 1.0},
            "optimizer": {"values": ["adam", "sgd", "rmsprop"]},
        },
    }
    sweep = demo.post("sweeps", {"config": config, "project": "demo", "name": goal}, 201)
    for index in range(MANY):
        params = {"lr": index / MANY, "optimizer": ["adam", "sgd", "rmsprop"][index % 3]}
        body = {"name": f"r{index}", "params": params, "summary": {"loss": index}, "exit_code": 0}
        demo.post(f"sweeps/{sweep['id']}/runs", body, 201)
    hidden = list(range(BEST, MANY)) if goal == "minimize" else list(range(MANY - BEST))
    best = sorted(set(range(MANY)) - set(hidden))

    page.goto(f"{demo.url}/sweeps/{sweep['id']}")
    page.locator("#parcoords.js-plotly-plot").wait_for(timeout=TIMEOUT_MS)
    assert page.evaluate(LINES) == BEST
    assert sorted(page.evaluate(METRIC_VALUES)) == best
    note = page.locator("#parcoords-note")
    assert note.is_visible()
    assert f"best 1,000 of {MANY:,} finished runs by loss ({goal})" in note.inner_text()
    # every axis spans every run, drawn or not: a brush means the same runs in both charts
    ranges = page.evaluate(
        "document.getElementById('parcoords').data[0].dimensions.map(d => d.range)"
    )
    assert ranges == [[0, (MANY - 1) / MANY], [0, 2], [0, MANY - 1]]

    # brushing the metric's axis around the runs not drawn finds them in the table
    page.evaluate(
        """([lo, hi]) => {
            const node = document.getElementById('parcoords');
            const last = node.data[0].dimensions.length - 1;
            return Plotly.restyle(node, {[`dimensions[${last}].constraintrange`]: [[lo, hi]]});
        }""",
        [hidden[0] - 0.5, hidden[-1] + 0.5],
    )
    wait_until(
        lambda: page.locator("#runs tbody tr[data-run]").count() == len(hidden),
        10,
        "the brushed runs that are not drawn",
    )
    assert sorted(_shown(page)) == sorted(f"r{index}" for index in hidden)

    # "show all" draws every run, and keeps the brush and what it selects
    page.locator("#parcoords-toggle").click()
    wait_until(lambda: page.evaluate(LINES) == MANY, 15, "every finished run drawn")
    assert f"all {MANY:,} finished runs" in note.inner_text()
    assert page.evaluate(
        "(() => { const d = document.getElementById('parcoords').data[0].dimensions;"
        " return d[d.length - 1].constraintrange; })()"
    ) == [hidden[0] - 0.5, hidden[-1] + 0.5]
    assert sorted(_shown(page)) == sorted(f"r{index}" for index in hidden)
    page.locator("#parcoords-toggle").click()
    wait_until(lambda: page.evaluate(LINES) == BEST, 15, "the best runs again")
