"""The dashboard in a real browser against a real server and sweep; saves the docs' screenshots."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest
from _demo import CONFIG, FINISHED, SCREENSHOTS, Demo, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000  # a loaded 2-core machine parses the 4.8 MB plotly.min.js slowly


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_sweeps_page_lists_the_sweep(demo: Demo, page: Page) -> None:
    other = {**CONFIG, "name": "mnist-grid", "method": "grid"}
    other["parameters"] = {"optimizer": CONFIG["parameters"]["optimizer"]}
    other["metric"] = {"name": "accuracy", "goal": "maximize"}
    demo.post("sweeps", {"config": other, "project": "mnist"}, 201)
    page.goto(demo.url + "/")
    page.locator("table.sweeps[data-project='mnist'] tr[data-sweep]").wait_for(timeout=TIMEOUT_MS)
    assert "accuracy (maximize)" in page.locator("table.sweeps[data-project='mnist']").inner_text()
    row = page.locator(f"tr[data-sweep='{demo.sweep['id']}']")
    row.wait_for(timeout=TIMEOUT_MS)
    text = row.inner_text()
    assert "digits-demo" in text
    assert "random" in text
    assert "loss (minimize)" in text
    assert f"{FINISHED} finished" in text
    assert "1 failed" in text
    best = demo.get(f"sweeps/{demo.sweep['id']}")["best"]
    assert row.locator(f"a[href='/runs/{best['run_id']}']").count() == 1
    screenshot(page, "dashboard-sweeps.png")
    row.locator("a").first.click()
    page.wait_for_url(f"**/sweeps/{demo.sweep['id']}")


def test_sweep_page_shows_table_and_charts(demo: Demo, page: Page) -> None:
    page.goto(f"{demo.url}/sweeps/{demo.sweep['id']}")
    page.locator("#runs tbody tr[data-run]").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#runs tbody tr[data-run]").count() == len(demo.runs)
    for chart in ("#parcoords", "#scatter", "#curves"):
        page.locator(f"{chart}.js-plotly-plot").wait_for(timeout=TIMEOUT_MS)
    # one parallel-coordinates line per finished run, an axis per parameter and the metric
    lines = page.evaluate(
        "document.getElementById('parcoords').data[0].dimensions[0].values.length"
    )
    assert lines == FINISHED
    assert page.locator("#parcoords-note").is_hidden(), "no best-runs note at this size"
    labels = page.evaluate(
        "document.getElementById('parcoords').data[0].dimensions.map(d => d.label)"
    )
    assert sorted(labels) == sorted([*CONFIG["parameters"], "loss"])
    # the importance panel lists every searched parameter
    page.locator("#importance tr[data-param]").first.wait_for(timeout=TIMEOUT_MS)
    params = page.locator("#importance tr[data-param]").evaluate_all(
        "rows => rows.map(r => r.dataset.param)"
    )
    assert sorted(params) == sorted(CONFIG["parameters"])
    # a curve per run that logged the metric
    curves = page.evaluate("document.getElementById('curves').data.length")
    assert curves == FINISHED
    assert "metric:" in page.locator("#config").inner_text()
    screenshot(page, "dashboard-sweep.png")

    # sort by the metric: ascending, then descending
    page.locator("#runs th[data-key='metric']").click()
    losses = [run["summary"]["loss"] for run in demo.runs if "loss" in run["summary"]]
    shown = page.locator("#runs tbody tr[data-run]").evaluate_all(
        "rows => rows.map(r => r.dataset.run)"
    )
    by_id = {run["id"]: run for run in demo.runs}
    assert [by_id[run_id]["summary"].get("loss") for run_id in shown[:FINISHED]] == sorted(losses)
    page.locator("#runs th[data-key='metric']").click()
    shown = page.locator("#runs tbody tr[data-run]").evaluate_all(
        "rows => rows.map(r => r.dataset.run)"
    )
    assert [by_id[run_id]["summary"].get("loss") for run_id in shown[-FINISHED:]] == sorted(
        losses, reverse=True
    )
    # brushing the metric's axis keeps only the runs inside the range in the table
    cut = sorted(losses)[len(losses) // 2]
    page.evaluate(
        """cut => {
            const node = document.getElementById('parcoords');
            const last = node.data[0].dimensions.length - 1;
            return Plotly.restyle(node, {[`dimensions[${last}].constraintrange`]: [[0, cut]]});
        }""",
        cut,
    )
    inside = sum(loss <= cut for loss in losses)
    wait_until(
        lambda: page.locator("#runs tbody tr[data-run]").count() == inside, 5, "table brushed"
    )
    assert "inside the parallel coordinates" in page.locator("#brush-note").inner_text()
    page.evaluate(
        """() => {
            const node = document.getElementById('parcoords');
            const last = node.data[0].dimensions.length - 1;
            return Plotly.restyle(node, {[`dimensions[${last}].constraintrange`]: [null]});
        }"""
    )
    wait_until(
        lambda: page.locator("#runs tbody tr[data-run]").count() == len(demo.runs),
        5,
        "brush cleared",
    )
    # filter by state
    page.select_option("#state-filter", "failed")
    assert page.locator("#runs tbody tr[data-run]").count() == 1
    assert page.locator("#runs tbody tr[data-run]").get_attribute("data-state") == "failed"


def test_pause_from_the_page_pauses_the_sweep(demo: Demo, page: Page) -> None:
    sweep_id = demo.sweep["id"]
    demo.post(f"sweeps/{sweep_id}/state", {"action": "resume"})
    page.goto(f"{demo.url}/sweeps/{sweep_id}")
    pause = page.locator("#controls button[data-action='pause']")
    pause.wait_for(timeout=TIMEOUT_MS)
    wait_until(pause.is_enabled, 5, "the pause button is enabled for a running sweep")
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    pause.click()
    wait_until(lambda: demo.get(f"sweeps/{sweep_id}")["state"] == "paused", 5, "sweep paused")
    # the confirmation says what the action does
    assert dialogs == [
        "pause sweep digits-demo? No new runs until it is resumed; running runs go on."
    ]
    page.locator("#sweep-state .state-paused").wait_for(timeout=5_000)
    assert pause.is_disabled()


def test_dismissing_the_confirmation_changes_nothing(demo: Demo, page: Page) -> None:
    sweep_id = demo.sweep["id"]
    demo.post(f"sweeps/{sweep_id}/state", {"action": "resume"})
    page.goto(f"{demo.url}/sweeps/{sweep_id}")
    cancel = page.locator("#controls button[data-action='cancel']")
    cancel.wait_for(timeout=TIMEOUT_MS)
    page.on("dialog", lambda dialog: dialog.dismiss())
    cancel.click()
    time.sleep(0.5)
    assert demo.get(f"sweeps/{sweep_id}")["state"] == "running"


def test_run_page_shows_params_summary_charts_and_output(demo: Demo, page: Page) -> None:
    run = demo.runs[0]
    page.goto(f"{demo.url}/runs/{run['id']}")
    page.locator("#charts .js-plotly-plot").first.wait_for(timeout=TIMEOUT_MS)
    keys = page.locator("#charts .js-plotly-plot").evaluate_all(
        "charts => charts.map(c => c.dataset.key)"
    )
    assert sorted(keys) == ["accuracy", "loss"]
    points = page.evaluate("document.getElementById('chart-loss').data[0].x.length")
    assert points == 20
    params = page.locator("#params").inner_text()
    for name in CONFIG["parameters"]:
        assert name in params
    assert "loss" in page.locator("#summary").inner_text()
    facts = page.locator("#facts").inner_text()
    assert "finished" in facts
    assert "Exit code\n0" in facts or "Exit code\t0" in facts
    wait_until(lambda: "epoch done" in page.locator("#output").inner_text(), 5, "output shown")
    screenshot(page, "dashboard-run.png")


def test_a_run_that_logs_appears_and_its_curve_grows_without_reload(demo: Demo, page: Page) -> None:
    sweep_id = demo.sweep["id"]
    page.goto(f"{demo.url}/sweeps/{sweep_id}")
    page.locator("#curves.js-plotly-plot").wait_for(timeout=TIMEOUT_MS)

    agent = demo.post(f"sweeps/{sweep_id}/agents", {"host": "h", "pid": 1}, 201)
    command = demo.post(f"agents/{agent['id']}/heartbeat", {"running": []})["commands"][0]
    run_id = command["run_id"]
    demo.post(f"runs/{run_id}/start", {"host": "h"})
    demo.post(f"runs/{run_id}/history", {"rows": [{"step": 0, "metrics": {"loss": 2.0}}]})
    row = page.locator(f"#runs tr[data-run='{run_id}'][data-state='running']")
    row.wait_for(timeout=5_000)
    name = demo.get(f"runs/{run_id}")["name"]
    curve_length = (
        "name => ((document.getElementById('curves').data || []).find(t => t.name === name)"
        " || {x: []}).x.length"
    )
    wait_until(lambda: page.evaluate(curve_length, name) == 1, 5, "the new run's curve drawn")

    rows = [{"step": step, "metrics": {"loss": 2.0 / (step + 1)}} for step in range(1, 4)]
    demo.post(f"runs/{run_id}/history", {"rows": rows})
    wait_until(lambda: page.evaluate(curve_length, name) == 4, 5, "the curve grows")

    lines = "document.getElementById('parcoords').data[0].dimensions[0].values.length"
    before = page.evaluate(lines)
    demo.post(f"runs/{run_id}/finish", {"exit_code": 0})
    page.locator(f"#runs tr[data-run='{run_id}'][data-state='finished']").wait_for(timeout=5_000)
    # the charts are drawn again with it, and still on the page (not into detached elements)
    wait_until(lambda: page.evaluate(lines) == before + 1, 5, "the finished run's line")
    on_page = page.evaluate(
        "['parcoords', 'scatter'].map(id => document.querySelectorAll("
        "`#${id} .main-svg`).length > 0)"
        " .concat(document.querySelectorAll('#parcoords canvas').length >= 3)"
    )
    assert on_page == [True, True, True]


@pytest.mark.parametrize(("kind", "what"), [("sweeps", "Sweep"), ("runs", "Run")])
def test_unknown_ids_show_a_not_found_page(
    demo: Demo, page: Page, console_errors: list[str], kind: str, what: str
) -> None:
    page.goto(f"{demo.url}/{kind}/no-such-id")
    box = page.locator("#not-found")
    box.wait_for(timeout=TIMEOUT_MS)
    assert f"{what} not found" in box.inner_text()
    assert "no-such-id" in box.inner_text()
    assert box.locator("a[href='/']").count() == 1
    # Chromium logs the API's 404 itself; nothing else may be logged
    console_errors[:] = [error for error in console_errors if "404" not in error]


def test_a_sweep_under_the_wrong_project_is_not_found_and_says_where_it_is(
    demo: Demo, page: Page, console_errors: list[str]
) -> None:
    sweep_id = demo.sweep["id"]
    page.goto(f"{demo.url}/sweeps/elsewhere/{sweep_id}")
    box = page.locator("#not-found")
    box.wait_for(timeout=TIMEOUT_MS)
    assert "is in project 'demo', not 'elsewhere'" in box.inner_text()
    console_errors[:] = [error for error in console_errors if "404" not in error]
    page.goto(f"{demo.url}/sweeps/demo/{sweep_id}")  # the right one is the sweep's page
    page.locator("#runs tbody tr").first.wait_for(timeout=TIMEOUT_MS)


def test_a_sweep_without_finished_runs_explains_its_empty_charts(demo: Demo, page: Page) -> None:
    sweep = demo.post("sweeps", {"config": CONFIG, "project": "demo", "name": "empty"}, 201)
    page.goto(f"{demo.url}/sweeps/{sweep['id']}")
    page.locator("#parcoords .empty-chart").wait_for(timeout=TIMEOUT_MS)
    assert "No finished run" in page.locator("#parcoords").inner_text()
    assert "No run has reported loss" in page.locator("#scatter").inner_text()
    page.locator("#importance-message").wait_for(timeout=TIMEOUT_MS)
    assert "at least 3 finished runs" in page.locator("#importance").inner_text()
    assert "No runs yet." in page.locator("#runs").inner_text()


def test_a_stopped_run_is_marked_with_its_reason(demo: Demo, page: Page) -> None:
    sweep = demo.post("sweeps", {"config": CONFIG, "project": "demo", "name": "canceled"}, 201)
    agent = demo.post(f"sweeps/{sweep['id']}/agents", {"host": "h", "pid": 1}, 201)
    command = demo.post(f"agents/{agent['id']}/heartbeat", {"running": []})["commands"][0]
    run_id = command["run_id"]
    demo.post(f"runs/{run_id}/start", {"host": "h"})
    # canceling the sweep orders its running run to stop, with the reason
    demo.post(f"sweeps/{sweep['id']}/state", {"action": "cancel"})
    run = demo.get(f"runs/{run_id}")
    assert run["stopped"]
    page.goto(f"{demo.url}/sweeps/{sweep['id']}")
    reason = page.locator(f"#runs tr[data-run='{run_id}'] .reason")
    reason.wait_for(timeout=TIMEOUT_MS)
    assert reason.inner_text() == f"stopped: {run['stop_reason']}"
    page.goto(f"{demo.url}/runs/{run_id}")
    page.locator("#facts").wait_for(timeout=TIMEOUT_MS)
    wait_until(
        lambda: f"yes: {run['stop_reason']}" in page.locator("#facts").inner_text(),
        5,
        "the run page says why the run was stopped",
    )
    # its agent saw it exit 0 before the order reached it: finished, and the page says so
    demo.post(f"runs/{run_id}/finish", {"exit_code": 0, "state": "finished"})
    flagged = f"flagged to stop, but it finished first: {run['stop_reason']}"
    page.goto(f"{demo.url}/runs/{run_id}")
    wait_until(lambda: flagged in page.locator("#facts").inner_text(), 5, "run page, late stop")
    page.goto(f"{demo.url}/sweeps/{sweep['id']}")
    reason.wait_for(timeout=TIMEOUT_MS)
    assert reason.inner_text() == flagged


def test_a_sweep_with_a_local_controller_says_what_its_agents_wait_for(
    demo: Demo, page: Page
) -> None:
    config = {**CONFIG, "controller": {"type": "local"}}
    sweep = demo.post("sweeps", {"config": config, "project": "demo", "name": "local"}, 201)
    page.goto(f"{demo.url}/sweeps/{sweep['id']}")
    note = page.locator("#local-controller")
    note.wait_for(timeout=TIMEOUT_MS)
    assert f"hypersweep controller demo/{sweep['id']}" in note.inner_text()


def test_nan_metrics_and_list_params_are_shown_without_breaking_charts(
    demo: Demo, page: Page
) -> None:
    config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {
            "layers": {"values": [[64, 32], [128]]},
            "opt": {"parameters": {"beta": {"values": [0.9, 0.99]}}},
        },
    }
    sweep = demo.post("sweeps", {"config": config, "project": "demo", "name": "odd"}, 201)
    losses = [0.5, float("nan"), 0.25, float("inf")]
    for index, loss in enumerate(losses):
        params = {"layers": [[64, 32], [128]][index % 2], "opt": {"beta": 0.9 + index / 100}}
        body = json.dumps({"params": params, "summary": {"loss": loss}})  # NaN as Python sends it
        response = demo.api.post(
            f"sweeps/{sweep['id']}/runs",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 201, response.text
    page.goto(f"{demo.url}/sweeps/{sweep['id']}")
    page.locator("#parcoords.js-plotly-plot").wait_for(timeout=TIMEOUT_MS)
    lines = page.evaluate(
        "document.getElementById('parcoords').data[0].dimensions[0].values.length"
    )
    assert lines == 2, "runs with a finite metric only"
    labels = page.evaluate(
        "document.getElementById('parcoords').data[0].dimensions.map(d => d.label)"
    )
    assert sorted(labels) == ["layers", "loss", "opt.beta"]
    table = page.locator("#runs").inner_text()
    assert "[64,32]" in table
    assert "[128]" in table
    assert table.count("null") == 2, "NaN and infinity are shown (as the API's null)"
    page.locator("#scatter.js-plotly-plot").wait_for(timeout=TIMEOUT_MS)
    # a run whose loss was NaN at every step: its run page says why loss has no chart
    rows = [{"step": s, "metrics": {"loss": float("nan"), "acc": s / 10}} for s in range(3)]
    body = json.dumps({"params": {"layers": [128], "opt": {"beta": 0.95}}, "history": rows})
    response = demo.api.post(
        f"sweeps/{sweep['id']}/runs", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    page.goto(f"{demo.url}/runs/{response.json()['id']}")
    page.locator("#chart-acc.js-plotly-plot").wait_for(timeout=TIMEOUT_MS)
    note = page.locator("#no-finite").inner_text()
    assert note == "loss: logged only as NaN or infinity (shown as null), so no chart."


def test_run_page_follows_a_running_run(demo: Demo, page: Page) -> None:
    sweep_id = demo.sweep["id"]
    agent = demo.post(f"sweeps/{sweep_id}/agents", {"host": "h", "pid": 1}, 201)
    command = demo.post(f"agents/{agent['id']}/heartbeat", {"running": []})["commands"][0]
    run_id = command["run_id"]
    demo.post(f"runs/{run_id}/start", {"host": "h"})
    demo.post(f"runs/{run_id}/history", {"rows": [{"step": 0, "metrics": {"loss": 2.0}}]})
    page.goto(f"{demo.url}/runs/{run_id}")
    page.locator("#chart-loss.js-plotly-plot").wait_for(timeout=TIMEOUT_MS)
    points = "document.getElementById('chart-loss').data[0].x.length"
    assert page.evaluate(points) == 1

    rows = [{"step": step, "metrics": {"loss": 1 / step, "lr": 0.1}} for step in (1, 2)]
    demo.post(f"runs/{run_id}/history", {"rows": rows})
    demo.post(f"runs/{run_id}/output", {"stream": "stdout", "text": "step 2 done\n"})
    wait_until(lambda: page.evaluate(points) == 3, 5, "the loss chart grows")
    page.locator("#chart-lr.js-plotly-plot").wait_for(timeout=5_000)
    wait_until(lambda: "step 2 done" in page.locator("#output").inner_text(), 5, "output tail")

    demo.post(f"runs/{run_id}/finish", {"exit_code": 0})
    page.locator("#run-state .state-finished").wait_for(timeout=5_000)


def test_a_browser_without_a_session_logs_in_with_a_key(demo: Demo, browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(f"{demo.url}/sweeps/{demo.sweep['id']}")
        assert response is not None
        assert response.status == 401
        page.fill("input[name=key]", "hs_wrong")
        page.click("button[type=submit]")
        page.wait_for_selector("text=That key is not valid", timeout=TIMEOUT_MS)
        page.fill("input[name=key]", demo.api.headers["Authorization"].removeprefix("Bearer "))
        page.click("button[type=submit]")
        page.wait_for_url(f"{demo.url}/sweeps/{demo.sweep['id']}", timeout=TIMEOUT_MS)
        page.wait_for_selector("#controls button", timeout=TIMEOUT_MS)
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["hypersweep_session"]["httpOnly"] is True
        assert cookies["hypersweep_session"]["sameSite"] == "Strict"
    finally:
        context.close()


def test_the_login_link_opens_the_dashboard(demo: Demo, browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(demo.login_link())
        assert page.url == demo.url + "/"
        page.wait_for_selector(f"text={CONFIG['name']}", timeout=TIMEOUT_MS)
    finally:
        context.close()


def test_a_re_run_shows_its_attempt_in_the_table_and_on_its_page(demo: Demo, page: Page) -> None:
    config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [1]}},
        "retry": {"max_retries": 1, "on": ["failed"]},
    }
    sweep = demo.post("sweeps", {"config": config, "project": "demo"}, 201)
    agent = demo.post(f"sweeps/{sweep['id']}/agents", {"host": "node-1", "pid": 8}, 201)
    first = demo.post(f"agents/{agent['id']}/heartbeat", {"running": []})["commands"][0]
    demo.post(f"runs/{first['run_id']}/start", {"host": "node-1"})
    demo.post(f"runs/{first['run_id']}/finish", {"exit_code": 1})
    again = demo.post(f"agents/{agent['id']}/heartbeat", {"running": []})["commands"][0]
    assert again["type"] == "run"
    page.goto(f"{demo.url}/sweeps/{sweep['id']}")
    page.wait_for_selector("text=attempt 2", timeout=TIMEOUT_MS)
    page.goto(f"{demo.url}/runs/{again['run_id']}")
    page.wait_for_selector(f"text=2, re-run of {first['run_id']}", timeout=TIMEOUT_MS)


def test_a_bayes_sweep_shows_the_models_predictions_and_why_a_run_was_chosen(
    demo: Demo, page: Page
) -> None:
    config = {
        "name": "bayes-demo",
        "method": "bayes",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"lr": {"min": 0.0, "max": 1.0}},
    }
    sweep = demo.post("sweeps", {"config": config, "project": "demo"}, 201)
    agent = demo.post(f"sweeps/{sweep['id']}/agents", {"host": "h", "pid": 1}, 201)

    def next_run() -> dict[str, Any]:
        command: dict[str, Any] = demo.post(f"agents/{agent['id']}/heartbeat", {"running": []})[
            "commands"
        ][0]
        demo.post(f"runs/{command['run_id']}/start", {"host": "h", "agent_id": agent["id"]})
        return command

    for _ in range(6):
        command = next_run()
        loss = (command["params"]["lr"] - 0.3) ** 2
        demo.post(f"runs/{command['run_id']}/summary", {"summary": {"loss": loss}})
        demo.post(f"runs/{command['run_id']}/finish", {"exit_code": 0})
    running = next_run()["run_id"]  # the model's next point, still going
    predicted = demo.get(f"sweeps/{sweep['id']}/predictions")["points"]
    assert predicted and predicted[-1]["run_id"] == running

    page.goto(f"{demo.url}/sweeps/{sweep['id']}")
    page.locator("#predictions.js-plotly-plot").wait_for(timeout=TIMEOUT_MS)
    traces = page.evaluate(
        "document.getElementById('predictions').data.map(t => [t.name, t.customdata])"
    )
    by_name = dict(traces)
    assert by_name["next (predicted)"] == [running]
    assert set(by_name["predicted"]) == {p["run_id"] for p in predicted[:-1]}
    assert "still running" in page.locator("#predictions-message").inner_text()
    assert "null" not in page.locator("#pager").inner_text(), "no stray text after the buttons"
    screenshot(page, "dashboard-bayes.png")

    page.goto(f"{demo.url}/runs/{running}")
    panel = page.locator("#search-info-panel")
    panel.wait_for(state="visible", timeout=TIMEOUT_MS)
    text = panel.inner_text()
    assert "Predicted metric" in text and "Expected improvement" in text and "model" in text
    # a random sweep's run has nothing to say there
    page.goto(f"{demo.url}/runs/{demo.runs[0]['id']}")
    page.locator("#facts dl").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    assert page.locator("#search-info-panel").is_hidden()
