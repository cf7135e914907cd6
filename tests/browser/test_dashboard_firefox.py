"""The dashboard in Debian's Firefox (ESR), driven over WebDriver BiDi (see ``_firefox.py``).

The Chromium tests (``test_dashboard_browser.py``) cover the dashboard in depth; these check
that its pages load, draw and update live in Firefox too, without a console error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from _demo import CONFIG, FINISHED, Demo
from _firefox import Firefox, firefox

pytestmark = pytest.mark.browser

SECONDS = 20  # a loaded 2-core machine parses the 4.8 MB plotly.min.js slowly


@pytest.fixture(scope="module")
def browser() -> Iterator[Firefox]:
    with firefox() as driver:
        yield driver


@pytest.fixture
def tab(browser: Firefox, demo: Demo) -> Iterator[Firefox]:
    """A fresh tab with a dashboard session on the demo server; the test fails on any console
    error or uncaught exception in it."""
    browser.new_tab()
    cookie = demo.session_cookie()
    browser.set_cookie(cookie["name"], cookie["value"], url=cookie["url"])
    try:
        yield browser
        browser.drain()
        assert browser.errors == [], f"the page logged errors: {browser.errors}"
    finally:
        # before the demo server stops: it waits for the page's event stream to close
        browser.close_tab()


def text(selector: str) -> str:
    """A JS expression: the text of the first element matching ``selector``, or ''."""
    return f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''"


def count(selector: str) -> str:
    return f"document.querySelectorAll({json.dumps(selector)}).length"


def test_sweeps_page_lists_the_sweep(demo: Demo, tab: Firefox) -> None:
    tab.goto(demo.url + "/")
    row = f"tr[data-sweep='{demo.sweep['id']}']"
    tab.wait_for(count(row), SECONDS, "the demo sweep's row")
    shown = tab.evaluate(text(row))
    assert "digits-demo" in shown
    assert "loss (minimize)" in shown
    assert f"{FINISHED} finished" in shown
    assert "1 failed" in shown
    best = demo.get(f"sweeps/{demo.sweep['id']}")["best"]
    assert tab.evaluate(count(f"{row} a[href='/runs/{best['run_id']}']")) == 1


def test_sweep_page_draws_table_and_charts(demo: Demo, tab: Firefox) -> None:
    tab.goto(f"{demo.url}/sweeps/{demo.sweep['id']}")
    tab.wait_for(count("#runs tbody tr[data-run]"), SECONDS, "the runs table")
    assert tab.evaluate(count("#runs tbody tr[data-run]")) == len(demo.runs)
    for chart in ("#parcoords", "#scatter", "#curves"):
        tab.wait_for(count(f"{chart}.js-plotly-plot"), SECONDS, f"{chart} drawn")
    parcoords = tab.evaluate(
        "(() => { const d = document.getElementById('parcoords').data[0].dimensions;"
        " return {lines: d[0].values.length, labels: d.map(x => x.label)}; })()"
    )
    assert parcoords["lines"] == FINISHED
    assert sorted(parcoords["labels"]) == sorted([*CONFIG["parameters"], "loss"])
    points = tab.evaluate(
        "document.getElementById('scatter').data.reduce((n, t) => n + (t.x || []).length, 0)"
    )
    assert points >= FINISHED
    tab.wait_for(count("#importance tr[data-param]"), SECONDS, "the importance table")
    params = tab.evaluate(
        "[...document.querySelectorAll('#importance tr[data-param]')].map(r => r.dataset.param)"
    )
    assert sorted(params) == sorted(CONFIG["parameters"])
    assert tab.evaluate("document.getElementById('curves').data.length") == FINISHED


def test_run_page_shows_params_summary_and_history(demo: Demo, tab: Firefox) -> None:
    run = demo.runs[0]
    tab.goto(f"{demo.url}/runs/{run['id']}")
    tab.wait_for(count("#charts .js-plotly-plot"), SECONDS, "the history charts")
    keys = tab.evaluate(
        "[...document.querySelectorAll('#charts .js-plotly-plot')].map(c => c.dataset.key)"
    )
    assert sorted(keys) == ["accuracy", "loss"]
    assert tab.evaluate("document.getElementById('chart-loss').data[0].x.length") == 20
    params = tab.evaluate(text("#params"))
    for name in CONFIG["parameters"]:
        assert name in params
    assert "loss" in tab.evaluate(text("#summary"))
    assert "finished" in tab.evaluate(text("#facts"))
    tab.wait_for(f"{text('#output')}.includes('epoch done')", 5, "the run's output")


def test_a_new_run_appears_without_reload(demo: Demo, tab: Firefox) -> None:
    sweep_id = demo.sweep["id"]
    tab.goto(f"{demo.url}/sweeps/{sweep_id}")
    tab.wait_for(count("#curves.js-plotly-plot"), SECONDS, "the curves drawn")
    tab.evaluate("window.__sameDocument = true")

    agent = demo.post(f"sweeps/{sweep_id}/agents", {"host": "h", "pid": 1}, 201)
    command = demo.post(f"agents/{agent['id']}/heartbeat", {"running": []})["commands"][0]
    run_id = command["run_id"]
    demo.post(f"runs/{run_id}/start", {"host": "h"})
    demo.post(f"runs/{run_id}/history", {"rows": [{"step": 0, "metrics": {"loss": 2.0}}]})
    tab.wait_for(count(f"#runs tr[data-run='{run_id}'][data-state='running']"), 5, "the row")
    name = json.dumps(demo.get(f"runs/{run_id}")["name"])
    curve = (
        f"((document.getElementById('curves').data || []).find(t => t.name === {name})"
        " || {x: []}).x.length"
    )
    tab.wait_for(f"{curve} === 1", 5, "the new run's curve drawn")

    demo.post(f"runs/{run_id}/finish", {"exit_code": 0})
    tab.wait_for(count(f"#runs tr[data-run='{run_id}'][data-state='finished']"), 5, "finished")
    assert tab.evaluate(count("#runs tbody tr[data-run]")) == len(demo.runs) + 1
    assert tab.evaluate("window.__sameDocument") is True  # no reload
