"""The client library against a live in-process server: a sweep run as the agent launches it,
and an offline run synced into a sweep afterwards."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import hypersweep
from _servers import server_thread
from hypersweep.cli import main
from hypersweep.client import ApiClient
from hypersweep.errors import HypersweepError
from hypersweep.protocol import HistoryRowIn, RunCommand, RunImport

SWEEP = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "lr": {"values": [0.01]},
        "opt": {"parameters": {"name": {"values": ["adam"]}}},
        "epochs": {"value": 100},
    },
}


pytestmark = pytest.mark.usefixtures("clean_client")


@pytest.fixture
def server() -> Iterator[str]:
    with server_thread() as url:
        yield url


def launch_like_the_agent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: ApiClient, *, with_agent_id: bool
) -> RunCommand:
    """Register an agent, get a run by heartbeat, and set the child's environment (spec §7.2)."""
    sweep = api.create_sweep(SWEEP, project="mnist")
    agent = api.register_agent(sweep.id, socket.gethostname(), os.getpid())
    (command,) = api.heartbeat(agent.id, []).commands
    assert isinstance(command, RunCommand)
    path = tmp_path / "wandb" / f"sweep-{sweep.id}" / f"config-{command.run_id}.yaml"
    path.parent.mkdir(parents=True)
    lines = ["wandb_version: 1", ""]
    lines += [f"{key}:\n  value: {value!r}" for key, value in command.params.items()]
    path.write_text("\n".join(lines).replace("'", '"') + "\n")
    monkeypatch.setenv("WANDB_SWEEP_ID", sweep.id)
    monkeypatch.setenv("WANDB_RUN_ID", command.run_id)
    monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(path))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_PROJECT", "mnist")
    monkeypatch.setenv("HYPERSWEEP_SERVER", api.url)
    if with_agent_id:
        monkeypatch.setenv("HYPERSWEEP_AGENT_ID", agent.id)
    return command


def train(epochs_default: int = 3) -> None:
    """A W&B-style training script, unchanged but for the import."""
    wandb = hypersweep
    wandb.init(project="ignored", config={"lr": 1.0, "epochs": epochs_default, "seed": 7})
    best = float("inf")
    for epoch in range(wandb.config.epochs):
        loss = wandb.config.lr * (100 - epoch)
        best = min(best, loss)
        wandb.log({"loss": loss, "epoch": epoch})
    wandb.summary["best_loss"] = best
    wandb.finish()


def test_a_sweep_run_streams_its_history_and_summary(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: str
) -> None:
    with ApiClient(server) as api:
        command = launch_like_the_agent(monkeypatch, tmp_path, api, with_agent_id=True)
        train()
        rows = api.history(command.run_id)
        run = api.get_run(command.run_id)
    assert [row.step for row in rows] == list(range(100))
    assert [row.metrics["epoch"] for row in rows] == list(range(100))
    assert run.summary["loss"] == pytest.approx(0.01)
    assert run.summary["best_loss"] == pytest.approx(0.01)
    assert run.summary["epoch"] == 99
    # launched by an agent: the run is running until the agent reports the exit code
    assert run.state.value == "running"
    assert run.agent_id is not None


def test_a_sweep_run_without_agent_reports_its_own_end(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: str
) -> None:
    with ApiClient(server) as api:
        command = launch_like_the_agent(monkeypatch, tmp_path, api, with_agent_id=False)
        train()
        run = api.get_run(command.run_id)
    assert (run.state.value, run.exit_code) == ("finished", 0)
    assert run.summary["best_loss"] == pytest.approx(0.01)


def test_an_offline_run_synced_later_joins_the_sweep(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: str
) -> None:
    run = hypersweep.init(config={"lr": 0.01, "opt": {"name": "adam"}, "epochs": 100})
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1)})
    run.finish()
    with ApiClient(server) as api:
        sweep = api.create_sweep(SWEEP, project="mnist")
        runner = CliRunner()
        args = ["sync", str(tmp_path / "hypersweep"), "--sweep", sweep.id, "--server", server]
        first = runner.invoke(main, args)
        assert first.exit_code == 0, first.output
        assert f"synced run {run.id} (finished, 5 rows) to sweep {sweep.id}" in first.output
        again = runner.invoke(main, args)
        assert again.exit_code == 0
        assert f"already synced to sweep {sweep.id}" in again.output
        (stored,) = api.list_runs(sweep.id)
        rows = api.history(run.id)
    assert stored.id == run.id
    assert stored.params == {"lr": 0.01, "opt": {"name": "adam"}, "epochs": 100}
    assert stored.summary["loss"] == pytest.approx(0.2)
    assert [row.metrics["loss"] for row in rows] == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4, 0.2])


def test_a_large_offline_run_goes_up_in_parts_untouched_by_early_termination(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: str
) -> None:
    # more rows than one part (1,000): imported running, then numbered batches, then its end
    run = hypersweep.init(config={"lr": 0.5, "opt": {"name": "adam"}, "epochs": 100})
    for step in range(2_500):
        run.log({"loss": 10.0 - step / 1000})
    run.summary["loss"] = 0.125  # set explicitly: wins over the last logged value
    run.finish(exit_code=3)
    config = {
        **SWEEP,
        "early_terminate": {"type": "hyperband", "min_iter": 500, "eta": 2},
    }
    with ApiClient(server) as api:
        sweep = api.create_sweep(config, project="mnist")
        # runs with far better curves, so hyperband would stop a worse one that was running
        for index in range(4):
            api.import_run(
                sweep.id,
                RunImport(
                    params={"lr": 0.01, "opt": {"name": "adam"}, "epochs": 100},
                    name=f"good-{index}",
                    history=[HistoryRowIn(step=s, metrics={"loss": 0.1}) for s in range(3000)],
                ),
            )
        args = ["sync", str(tmp_path / "hypersweep"), "--sweep", sweep.id, "--server", server]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert f"synced run {run.id} (failed, 2500 rows)" in result.output
        stored = api.get_run(run.id)
        rows = api.history(run.id)
    assert (stored.state.value, stored.exit_code, stored.stopped) == ("failed", 3, False)
    assert stored.summary["loss"] == 0.125
    assert [row.step for row in rows] == list(range(2_500))


def test_a_sync_stopped_part_way_is_resumed_by_the_next_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: str
) -> None:
    run = hypersweep.init(config={"lr": 0.5})
    for step in range(3_500):  # the import's 1,000 rows, then three more parts
        run.log({"loss": 10.0 - step / 1000})
    run.summary["loss"] = 0.125
    run.finish(exit_code=3)
    log_history = ApiClient.log_history
    sent: list[int] = []

    def lost_after_one_part(self: ApiClient, run_id: str, rows: Any, *a: Any, **k: Any) -> Any:
        if sent:  # the server went away after the first part after the import
            raise HypersweepError("cannot reach the server")
        sent.append(len(rows))
        return log_history(self, run_id, rows, *a, **k)

    args = ["sync", str(tmp_path / "hypersweep"), "--server", server]
    runner = CliRunner()
    with ApiClient(server) as api:
        sweep = api.create_sweep(SWEEP, project="mnist")
        args += ["--sweep", sweep.id]
        with monkeypatch.context() as patched:
            patched.setattr(ApiClient, "log_history", lost_after_one_part)
            cut = runner.invoke(main, args)
        assert cut.exit_code == 1
        assert "created with its first 1000 rows" in cut.output
        assert f"sync {run.dir} again to upload the rest" in cut.output
        half = api.get_run(run.id)
        assert (half.state.value, half.importing, half.history_rows) == ("running", True, 2000)
        again = runner.invoke(main, args)
        assert again.exit_code == 0, again.output
        assert f"synced run {run.id} (failed, 3500 rows, the last 1500 resumed)" in again.output
        stored = api.get_run(run.id)
        rows = api.history(run.id)
        assert "already synced" in runner.invoke(main, args).output
    assert (stored.state.value, stored.exit_code, stored.importing) == ("failed", 3, False)
    assert stored.summary["loss"] == 0.125
    assert [row.step for row in rows] == list(range(3_500))


def test_a_sync_resumed_after_every_row_still_sets_the_summary_and_the_end(
    tmp_path: Path, server: str
) -> None:
    run = hypersweep.init(config={"lr": 0.5})
    for step in range(1_500):
        run.log({"loss": 10.0 - step / 1000})
    run.summary["loss"] = 0.125
    run.finish()
    with ApiClient(server) as api:
        sweep = api.create_sweep(SWEEP, project="mnist")
        history = [HistoryRowIn(step=s, metrics={"loss": 10.0 - s / 1000}) for s in range(1_000)]
        body = RunImport(run_id=run.id, params={"lr": 0.5}, history=history, more_history=True)
        api.import_run(sweep.id, body)  # as an earlier sync left it: every row but the rest
        api.log_history(run.id, [(s, {"loss": 10.0 - s / 1000}) for s in range(1_000, 1_500)])
        args = ["sync", run.dir, "--sweep", sweep.id, "--server", server]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "(finished, 1500 rows, the last 0 resumed)" in result.output
        stored = api.get_run(run.id)
        assert len(api.history(run.id)) == 1_500
    assert (stored.state.value, stored.summary["loss"]) == ("finished", 0.125)


def test_a_run_id_taken_by_another_run_is_not_resumed(tmp_path: Path, server: str) -> None:
    run = hypersweep.init(config={"lr": 0.5})
    run.log({"loss": 1.0})
    run.finish()
    with ApiClient(server) as api:
        sweep = api.create_sweep(SWEEP, project="mnist")
        api.import_run(sweep.id, RunImport(run_id=run.id, params={"lr": 0.1}))  # ended
        args = ["sync", run.dir, "--sweep", sweep.id, "--server", server]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "sync with --new-id to upload it under a fresh id" in result.output


def test_sync_errors_name_the_directory_and_the_fix(tmp_path: Path, server: str) -> None:
    run = hypersweep.init()
    run.finish()
    runner = CliRunner()
    result = runner.invoke(main, ["sync", run.dir, "--server", server])
    assert result.exit_code == 1
    assert f"{run.dir}: run {run.id} was not started in a sweep" in result.output
    assert "--sweep SWEEP_ID" in result.output
    result = runner.invoke(main, ["sync", run.dir, "--sweep", "nosuch00", "--server", server])
    assert result.exit_code == 1
    assert f"{run.dir}: " in result.output
    assert "check the sweep id with --sweep" in result.output
    result = runner.invoke(main, ["sync", str(tmp_path / "empty"), "--server", server])
    assert result.exit_code == 1
    assert "no offline run here" in result.output
