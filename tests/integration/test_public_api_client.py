"""``hypersweep.Api`` and ``hypersweep export`` read back what a sweep run with the function agent
wrote, against a live in-process server; ``hypersweep sweep --prior-runs`` copies runs."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import hypersweep
from hypersweep.cli._main import main
from hypersweep.client import ApiClient
from hypersweep.errors import HypersweepError, NotFoundError

LOSSES = (3.0, 1.0, 2.0)  # times x, by epoch: the min is at epoch 1, the last at epoch 2


# agents heartbeat fast; `server` is the live server of tests/integration/conftest.py
pytestmark = pytest.mark.usefixtures("fast_heartbeats")


def grid(values: list[Any]) -> dict[str, Any]:
    return {
        "method": "grid",
        "name": "lr-grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": values}},
    }


def train() -> None:
    hypersweep.init(config={"x": -1})
    hypersweep.define_metric("loss", summary="min")
    for epoch, factor in enumerate(LOSSES):
        hypersweep.log({"loss": hypersweep.config.x * factor, "epoch": epoch})


@pytest.fixture
def sweep_id(server: str) -> str:
    sweep_id = hypersweep.sweep(grid([1, 2, 3]), project="proj")
    hypersweep.agent(sweep_id, function=train)
    return sweep_id


def test_a_sweep_and_its_runs_read_back(sweep_id: str) -> None:
    api = hypersweep.Api()
    sweep = api.sweep(f"proj/{sweep_id}")
    assert (sweep.id, sweep.name, sweep.project) == (sweep_id, "lr-grid", "proj")
    assert sweep.config["method"] == "grid"
    assert sweep.state in ("RUNNING", "FINISHED")
    assert sorted(run.config["x"] for run in sweep.runs) == [1, 2, 3]
    assert {run.state for run in sweep.runs} == {"finished"}
    # define_metric(summary="min") reached the server: the summary is the min, not the last
    assert sorted(run.summary["loss"] for run in sweep.runs) == [1.0, 2.0, 3.0]
    best = sweep.best_run()
    assert best is not None and best.config == {"x": 1}
    worst = sweep.best_run(order="-summary_metrics.loss")
    assert worst is not None and worst.config == {"x": 3}
    assert api.sweep(sweep_id).id == api.sweep(f"someone/proj/{sweep_id}").id == sweep_id


def test_a_run_s_history_and_fields(sweep_id: str) -> None:
    api = hypersweep.Api()
    best = api.sweep(sweep_id).best_run()
    assert best is not None
    run = api.run(f"proj/{best.id}")
    assert (run.id, run.sweep_id, run.project, run.state) == (best.id, sweep_id, "proj", "finished")
    assert run.name and run.created_at.startswith("20")
    rows = run.history(pandas=False)
    assert [row["_step"] for row in rows] == [0, 1, 2]
    assert [row["loss"] for row in rows] == list(LOSSES)
    assert run.history(keys=["loss"], pandas=False) == [
        {"_step": step, "loss": loss} for step, loss in enumerate(LOSSES)
    ]
    assert [row["_step"] for row in run.history(samples=2, pandas=False)] == [0, 2]
    assert [row["epoch"] for row in run.scan_history(keys=["epoch"])] == [0, 1, 2]
    assert run.history(keys=["nothing"], pandas=False) == []


def train_nested(seen: dict[str, Any]) -> Callable[[], None]:
    def train() -> None:
        run = hypersweep.init(config={"x": -1}, tags=["nested", "v1"])
        seen[run.id] = (run.url, run.get_url(), run.path)
        for factor in LOSSES:
            hypersweep.log({"val": {"score": hypersweep.config.x * factor}})

    return train


def test_nested_values_reach_the_sweep_as_dotted_keys_with_url_and_tags(server: str) -> None:
    config = {**grid([1, 2]), "metric": {"name": "val.score", "goal": "minimize"}}
    sweep_id = hypersweep.sweep(config, project="proj")
    seen: dict[str, Any] = {}
    hypersweep.agent(sweep_id, function=train_nested(seen))
    with ApiClient(server) as client:
        best = client.get_sweep(sweep_id).best  # chosen by the server, from the summary
    assert best is not None and best.value == 2.0  # x=1's last value, 1 * LOSSES[-1]
    run = hypersweep.Api().run(best.run_id)
    assert run.summary["val.score"] == 2.0
    assert [row["val.score"] for row in run.history(pandas=False)] == list(LOSSES)
    assert run.tags == ["nested", "v1"]
    assert run.url == f"{server}/runs/{run.id}"
    assert seen[run.id] == (run.url, run.url, f"proj/{run.id}")
    assert hypersweep.Api().run(seen[run.id][2]).id == run.id  # run.path reads the run back


def test_a_sweep_config_with_numpy_values_is_created(server: str) -> None:
    import numpy as np

    config = grid(list(np.arange(3)))
    config["run_cap"] = np.int64(5)
    sweep_id = hypersweep.sweep(config, project="proj")
    stored = hypersweep.Api().sweep(sweep_id).config
    assert stored["parameters"]["x"]["values"] == [0, 1, 2]
    assert stored["run_cap"] == 5


def test_history_is_a_dataframe_when_pandas_is_installed(sweep_id: str) -> None:
    run = hypersweep.Api().sweep(sweep_id).runs[0]
    if importlib.util.find_spec("pandas") is None:
        assert isinstance(run.history(), list)  # pandas=True without pandas: plain rows
        pytest.skip("pandas is not installed; checked the list-of-dicts fallback")
    frame = run.history(keys=["loss"])
    assert list(frame.columns) == ["_step", "loss"]
    assert len(frame) == 3


def test_runs_are_filtered_and_ordered(sweep_id: str) -> None:
    api = hypersweep.Api()

    def xs(**kwargs: Any) -> list[Any]:
        return [run.config["x"] for run in api.runs("proj", **kwargs)]

    assert sorted(xs()) == [1, 2, 3]
    assert xs(order="-config.x") == [3, 2, 1]
    assert xs(filters={"config.x": {"$gt": 1}}, order="+config.x") == [2, 3]
    assert xs(filters={"state": "finished", "sweep": sweep_id}, order="config.x") == [1, 2, 3]
    assert xs(filters={"$or": [{"config.x": 1}, {"config.x.value": 3}]}, order="config.x") == [1, 3]
    assert xs(filters={"summary_metrics.loss": {"$lte": 2.0}}, order="-summary.loss") == [2, 1]
    assert xs(filters={"config.x": {"$in": [2, 5]}}) == [2]
    assert xs(filters={"config.lr": {"$exists": True}}) == []
    assert xs(filters={"sweep": "nosuchsweep"}) == []
    assert api.runs("other-project") == []
    assert len(hypersweep.Api(overrides={"project": "proj"}).runs()) == 3


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"config.x": {"$elemMatch": 1}}, "operator '$elemMatch' is not supported"),
        ({"$where": "1"}, "operator '$where' is not supported"),
        ({"tags": "best"}, "field 'tags' is not supported by hypersweep's Api; use one of state"),
        ({"$and": {"state": "finished"}}, "filters.$and: expected a list of filters"),
    ],
)
def test_an_unsupported_filter_is_named(server: str, filters: dict[str, Any], message: str) -> None:
    with pytest.raises(HypersweepError, match=message.replace("$", r"\$").replace("(", r"\(")):
        hypersweep.Api().runs("proj", filters=filters)


def test_a_sweep_this_server_does_not_have_says_how_to_create_it(server: str) -> None:
    api = hypersweep.Api()
    with pytest.raises(NotFoundError) as error:
        api.sweep("my-team/my-project/k3j2h1g0")
    message = str(error.value)
    assert f"the hypersweep server at {server} has no sweep 'k3j2h1g0'" in message
    assert "`hypersweep sweep sweep.yaml`" in message
    with pytest.raises(NotFoundError, match="has no run 'abc123'"):
        api.run("my-project/abc123")


def test_a_sweep_in_another_project_is_an_error_naming_both(sweep_id: str) -> None:
    with pytest.raises(
        NotFoundError, match=f"is in project 'proj', not 'other'; use .*proj/{sweep_id}"
    ):
        hypersweep.Api().sweep(f"other/{sweep_id}")
    best = hypersweep.Api().sweep(sweep_id).best_run()
    assert best is not None
    with pytest.raises(NotFoundError, match="is in project 'proj', not 'other'"):
        hypersweep.Api().run(f"other/{best.id}")


def test_best_run_needs_a_metric_or_an_order(server: str) -> None:
    config = {"method": "grid", "parameters": {"x": {"values": [1]}}}
    api = hypersweep.Api()
    sweep = api.sweep(hypersweep.sweep(config))
    with pytest.raises(HypersweepError, match="has no metric in its config"):
        sweep.best_run()
    assert sweep.best_run(order="-summary_metrics.loss") is None  # no runs yet


# -- hypersweep export -----------------------------------------------------------------------


def export(server: str, *args: str) -> Any:
    return CliRunner().invoke(main, ["export", *args, "--server", server])


def test_export_csv_has_one_flat_row_per_run(server: str, sweep_id: str) -> None:
    result = export(server, f"proj/{sweep_id}")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted((row["config.x"], row["summary.loss"]) for row in rows) == [
        ("1", "1.0"),
        ("2", "2.0"),
        ("3", "3.0"),
    ]
    assert {row["state"] for row in rows} == {"finished"}


def test_export_json_nests_config_and_summary(server: str, sweep_id: str, tmp_path: Path) -> None:
    out = tmp_path / "runs.json"
    result = export(server, sweep_id, "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert f"Wrote 3 runs to {out}" in result.stderr
    records = json.loads(out.read_text())
    assert sorted(r["config"]["x"] for r in records) == [1, 2, 3]
    assert all(r["sweep"] == sweep_id for r in records)


def test_export_history_has_every_row(server: str, sweep_id: str) -> None:
    result = export(server, sweep_id, "--history", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 9
    assert {row["_step"] for row in rows} == {0, 1, 2}


def test_export_parquet(server: str, sweep_id: str, tmp_path: Path) -> None:
    missing = export(server, sweep_id, "--format", "parquet")
    assert missing.exit_code == 2 and "add -o FILE" in missing.output
    out = tmp_path / "runs.parquet"
    result = export(server, sweep_id, "--format", "parquet", "-o", str(out))
    if importlib.util.find_spec("pyarrow") is None:
        assert result.exit_code == 1
        assert "--format parquet needs the pyarrow package" in result.stderr
        assert "pip install pyarrow" in result.stderr
        return
    assert result.exit_code == 0, result.output
    pq = pytest.importorskip("pyarrow.parquet")
    assert pq.read_table(str(out)).num_rows == 3


def test_export_of_a_sweep_without_runs_says_so(server: str) -> None:
    sweep_id = hypersweep.sweep(grid([1]))
    result = export(server, sweep_id, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    assert f"sweep {sweep_id} has no runs yet" in result.stderr


def test_export_of_an_unknown_sweep_is_one_line(server: str) -> None:
    result = export(server, "ent/proj/zzzzzzzz")
    assert result.exit_code != 0
    assert "has no sweep 'zzzzzzzz'" in result.stderr
    assert "Traceback" not in result.output


# -- hypersweep sweep --prior-runs -----------------------------------------------------------


def test_prior_runs_from_the_cli_are_copied_and_counted(
    server: str, sweep_id: str, tmp_path: Path
) -> None:
    api = hypersweep.Api()
    prior = {run.config["x"]: run.id for run in api.sweep(sweep_id).runs}
    config = tmp_path / "sweep.yaml"
    config.write_text(
        # run_cap counts the runs the sweep creates (spec §4.6), not the two copied in
        "method: grid\nmetric: {name: loss, goal: minimize}\nrun_cap: 1\n"
        "parameters:\n  x:\n    values: [1, 2, 4]\n"
    )
    result = CliRunner().invoke(
        main,
        # W&B's spellings: -R and --prior_run, once per run
        [
            "sweep",
            str(config),
            "--server",
            server,
            "-R",
            prior[1],
            "--prior_run",
            f"proj/{prior[2]}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Copied 2 prior runs into it" in result.stderr
    new_id = next(s.id for s in api.sweeps() if s.id != sweep_id)
    copied = api.sweep(new_id).runs
    assert sorted(run.config["x"] for run in copied) == [1, 2]
    assert sorted(run.summary["loss"] for run in copied) == [1.0, 2.0]
    assert all(len(run.history(pandas=False)) == 3 for run in copied)
    # the grid counts the copied points as done
    hypersweep.agent(new_id, function=train)
    assert sorted(run.config["x"] for run in api.sweep(new_id).runs) == [1, 2, 4]


def test_an_unknown_prior_run_creates_no_sweep(server: str, tmp_path: Path) -> None:
    config = tmp_path / "sweep.yaml"
    config.write_text("method: grid\nparameters:\n  x:\n    values: [1]\n")
    result = CliRunner().invoke(
        main, ["sweep", str(config), "--server", server, "--prior-runs", "nosuchrun"]
    )
    assert result.exit_code != 0
    assert "prior run 'nosuchrun': the server at" in result.stderr
    assert "no sweep was created" in result.stderr
    assert hypersweep.Api().sweeps() == []
    with_flag = CliRunner().invoke(
        main, ["sweep", "--pause", "abc", "--server", server, "--prior-runs", "r1"]
    )
    assert with_flag.exit_code == 2
    assert "--prior-runs goes with a new sweep" in with_flag.output
