"""The bridge that brings a real-wandb run's metrics into hypersweep (agent/_wandb_bridge.py).

The tests marked ``wandb`` run the real wandb package (``pip install wandb``): an unmodified
script writes its offline transaction log, which the bridge reads with wandb's own reader.
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from hypersweep.agent._job import job_env
from hypersweep.agent._wandb_bridge import (
    RecordTranslator,
    WandbBridge,
    find_run_log,
    translate,
    wandb_reader,
)
from hypersweep.errors import ServerUnavailable

EXAMPLE = Path(__file__).parents[3] / "examples" / "wandb_unmodified" / "train.py"

needs_wandb = pytest.mark.skipif(
    wandb_reader() is None,
    reason="the real wandb package (>=0.31, with `wandb leet inspect --follow`) is not "
    "installed; pip install 'wandb>=0.31'",
)


# -- the records as wandb's reader prints them ---------------------------------------------------


def test_history_becomes_rows_at_their_step_and_summary_keeps_the_chosen_value() -> None:
    records = [
        {"num": 1, "type": "header", "header": {}},
        {"num": 2, "type": "metric", "metric": {"name": "val", "summary": {"min": True}}},
        {"num": 3, "type": "summary", "summary": {"update": {"_runtime": 0, "_wandb.rt": 0}}},
        {
            "num": 4,
            "type": "history",
            "history": {
                "item": {"_step": 5, "_runtime": 0.3, "a.b": 1, "n": "NaN", "val": 3},
                "step": {"num": 5},
            },
        },
        {"num": 5, "type": "summary", "summary": {"update": {"val": {"min": 3}, "n": "NaN"}}},
        {"num": 6, "type": "history", "history": {"item": {"val": 1, "i": "-Infinity"}}},
        {"num": 7, "type": "summary", "summary": {"update": {"best": {"k": [1, 2]}}}},
        {"num": 8, "type": "exit", "exit": {"exit_code": 0}},
    ]
    rows, summary = translate(records)
    assert rows[0][0] == 5
    assert rows[0][1]["a.b"] == 1 and rows[0][1]["_runtime"] == 0.3 and rows[0][1]["val"] == 3
    assert math.isnan(rows[0][1]["n"])
    assert rows[1] == (6, {"val": 1, "i": -math.inf})  # no _step: the next step
    # define_metric(summary="min") is unwrapped; a plain dict value stays; _-keys are wandb's
    assert summary["val"] == 3 and summary["best"] == {"k": [1, 2]}
    assert math.isnan(summary["n"]) and "_runtime" not in summary


def test_records_already_seen_are_skipped_so_a_reader_can_start_over() -> None:
    translator = RecordTranslator()
    row = {"num": 4, "type": "history", "history": {"item": {"_step": 0, "loss": 1.0}}}
    assert translator.feed(row)[0] == (0, {"loss": 1.0})
    assert translator.feed(row) == (None, {})
    assert not translator.ended
    translator.feed({"num": 9, "type": "exit", "exit": {}})
    assert translator.ended


def test_a_glob_define_metric_applies_to_matching_keys() -> None:
    _, summary = translate(
        [
            {"num": 1, "type": "metric", "metric": {"glob_name": "val/*", "summary": {"max": 1}}},
            {"num": 2, "type": "summary", "summary": {"update": {"val/acc": {"max": 0.9}}}},
        ]
    )
    assert summary == {"val/acc": 0.9}


# -- the environment -----------------------------------------------------------------------------


def _env(tmp_path: Path, base: Mapping[str, str], run_id: str = "run1") -> dict[str, str]:
    return job_env(
        {"WANDB_DIR": str(tmp_path), **base},
        sweep_id="swp",
        run_id=run_id,
        project="proj",
        entity=None,
        server="http://127.0.0.1:9",
        agent_id="agent7",
        params={"lr": 0.1, "epochs": 3, "epoch_seconds": 0.0},
        sweep_config={"program": "train.py"},
    )


def test_a_wandb_child_is_kept_offline_and_hypersweeps_client_keeps_its_mode(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path, {"WANDB_MODE": "online"})
    assert env["WANDB_MODE"] == "offline"
    assert env["HYPERSWEEP_MODE"] == "online"  # hypersweep.init() reads it before WANDB_MODE
    assert env["WANDB_X_TRANSACTION_LOG_FLUSH_INTERVAL"] == "0.5"
    plain = _env(tmp_path, {})
    assert plain["WANDB_MODE"] == "offline" and plain["HYPERSWEEP_MODE"] == "online"
    kept = _env(tmp_path, {"HYPERSWEEP_MODE": "offline", "WANDB_MODE": "disabled"})
    assert kept["WANDB_MODE"] == "disabled" and kept["HYPERSWEEP_MODE"] == "offline"
    flush = _env(tmp_path, {"WANDB_X_TRANSACTION_LOG_FLUSH_INTERVAL": "3"})
    assert flush["WANDB_X_TRANSACTION_LOG_FLUSH_INTERVAL"] == "3"


# -- the bridge ----------------------------------------------------------------------------------


class RecordingSink:
    """Stands in for the server: keeps what arrives; ``fail`` batches are answered 'away'."""

    def __init__(self, fail: int = 0, stop_after: int | None = None) -> None:
        self.rows: list[tuple[int, dict[str, Any]]] = []
        self.summary: dict[str, Any] = {}
        self.batches: list[int] = []
        self.tried: list[int | None] = []
        self.fail = fail
        self.stop_after = stop_after
        self.first_rows = threading.Event()
        self.lock = threading.Lock()

    def log_history(
        self,
        run_id: str,
        rows: Sequence[tuple[int, Mapping[str, Any]]],
        summary: Mapping[str, Any] | None = None,
        *,
        batch: int | None = None,
    ) -> Any:
        with self.lock:
            self.tried.append(batch)
            if self.fail:
                self.fail -= 1
                raise ServerUnavailable("server away")
            assert batch is not None and (not self.batches or batch > self.batches[-1])
            self.batches.append(batch)
            self.rows.extend((step, dict(metrics)) for step, metrics in rows)
            self.summary.update(summary or {})
            self.first_rows.set()
            stop = self.stop_after is not None and len(self.rows) >= self.stop_after
        return type("Ack", (), {"stop": stop, "reason": None})()

    def set_summary(self, run_id: str, summary: Mapping[str, Any]) -> Any:
        with self.lock:
            self.summary.update(summary)


def _start_script(env: Mapping[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(EXAMPLE)],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    if process.stderr is not None:
        process.stderr.close()


@needs_wandb
@pytest.mark.wandb
@pytest.mark.timeout(120)
def test_a_real_offline_run_is_read_while_it_runs_and_to_its_end(tmp_path: Path) -> None:
    env = _env(tmp_path, {"PATH": os.environ.get("PATH", "")}, run_id="live1")
    # slow epochs: the run is still going when its first rows reach the server
    Path(env["WANDB_SWEEP_PARAM_PATH"]).write_text(
        "wandb_version: 1\n\nlr:\n  value: 0.1\nepochs:\n  value: 12\nepoch_seconds:\n"
        "  value: 0.5\n"
    )
    sink = RecordingSink(fail=1)  # the first delivery finds the server away: kept, re-sent
    stops: list[bool] = []
    bridge = WandbBridge(env["WANDB_DIR"], "live1", sink, on_stop=lambda: stops.append(True))
    bridge.start()
    process = _start_script(env, tmp_path)
    try:
        assert sink.first_rows.wait(60), "no rows arrived while the run was going"
        assert process.poll() is None  # they came while it ran, not at its end
        with sink.lock:
            early = len(sink.rows)
        assert 0 < early < 12
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    finally:
        _stop(process)
        bridge.close()
    assert [step for step, _ in sink.rows] == list(range(12))
    losses = [metrics["loss"] for _, metrics in sink.rows]
    assert losses == pytest.approx([1 + 2 / (epoch + 1) for epoch in range(12)])
    assert sink.rows[3][1]["epoch"] == 3 and "_runtime" in sink.rows[3][1]
    assert sink.summary["final_loss"] == pytest.approx(1 + 2 / 12)
    assert sink.summary["loss"] == pytest.approx(1 + 2 / 12)
    assert stops == []
    log = find_run_log(env["WANDB_DIR"], "live1")
    assert log is not None and log.parent.name.startswith("offline-run-")


@needs_wandb
@pytest.mark.wandb
@pytest.mark.timeout(120)
def test_a_killed_run_keeps_what_it_logged_and_a_stop_answer_is_passed_on(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path, {"PATH": os.environ.get("PATH", "")}, run_id="killed1")
    Path(env["WANDB_SWEEP_PARAM_PATH"]).write_text(
        "wandb_version: 1\n\nlr:\n  value: 0.01\nepochs:\n  value: 100\nepoch_seconds:\n"
        "  value: 0.2\n"
    )
    sink = RecordingSink(stop_after=1)
    stopped = threading.Event()
    bridge = WandbBridge(env["WANDB_DIR"], "killed1", sink, on_stop=stopped.set)
    bridge.start()
    process = _start_script(env, tmp_path)
    try:
        assert stopped.wait(60), "the server's stop answer was not passed on"
        process.terminate()  # what the agent does with a stop order
        process.wait(timeout=30)
    finally:
        _stop(process)
        bridge.close()
    steps = [step for step, _ in sink.rows]
    assert steps and steps == list(range(len(steps)))
    assert len(steps) < 100


@pytest.mark.timeout(30)
def test_without_wandb_the_agent_says_once_that_it_cannot_read_such_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(WandbBridge, "_warned_no_reader", False)
    run_dir = tmp_path / "wandb" / "offline-run-20260101_000000-r9"
    run_dir.mkdir(parents=True)
    (run_dir / "run-r9.wandb").write_bytes(b":W&B\xe1\xbe\x00")
    lines: list[str] = []
    for _ in range(2):
        bridge = WandbBridge(str(tmp_path), "r9", RecordingSink(), say=lines.append, reader=())
        bridge.start()
        bridge.close()
    assert len(lines) == 1
    assert "run r9 uses the real wandb package" in lines[0] and "pip install" in lines[0]


@pytest.mark.timeout(30)
def test_a_run_that_writes_no_wandb_log_sends_nothing(tmp_path: Path) -> None:
    sink = RecordingSink()
    lines: list[str] = []
    bridge = WandbBridge(str(tmp_path), "nolog", sink, say=lines.append, reader=("false",))
    bridge.start()
    bridge.close()
    assert sink.rows == [] and sink.summary == {} and lines == []


# A stand-in for wandb's reader where wandb is not installed: it prints the "log" (JSON lines)
# named after --run-file, as wandb-core prints a real log's records.
FAKE_READER = (
    sys.executable,
    "-c",
    "import sys; args = sys.argv[1:]; sys.stdout.write(open(args[args.index('--run-file') + 1])"
    ".read())",
)


def _fake_log(root: Path, run_id: str, records: Sequence[Mapping[str, Any]]) -> Path:
    run_dir = root / "wandb" / f"offline-run-20260101_000000-{run_id}"
    run_dir.mkdir(parents=True)
    path = run_dir / f"run-{run_id}.wandb"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


@pytest.mark.timeout(30)
def test_the_bridge_delivers_rows_then_the_summary_in_increasing_batches(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = [{"num": 1, "type": "header", "header": {}}]
    for step in range(5):
        item = {"_step": step, "loss": 1.0 / (step + 1)}
        records.append({"num": len(records) + 1, "type": "history", "history": {"item": item}})
    records.append({"num": 90, "type": "summary", "summary": {"update": {"best": 0.2}}})
    records.append({"num": 91, "type": "exit", "exit": {"exit_code": 0}})
    _fake_log(tmp_path, "fake1", records)
    sink = RecordingSink(fail=2)
    bridge = WandbBridge(str(tmp_path), "fake1", sink, reader=FAKE_READER, max_rows=2)
    bridge.start()
    bridge.close()
    assert sink.rows == [(step, {"loss": 1.0 / (step + 1)}) for step in range(5)]
    assert sink.summary == {"best": 0.2}
    assert len(sink.batches) == 3  # max_rows=2: 2 + 2 + 1 rows, each number once
    assert sink.tried == [sink.batches[0]] * 3 + sink.batches[1:]  # a retry keeps its number


@pytest.mark.timeout(30)
def test_a_failing_reader_is_reported_once_with_its_message(tmp_path: Path) -> None:
    _fake_log(tmp_path, "bad1", [])
    lines: list[str] = []
    said = threading.Event()

    def say(line: str) -> None:
        lines.append(line)
        said.set()

    failing = (sys.executable, "-c", "import sys; sys.exit('a newer wandb is required')")
    bridge = WandbBridge(str(tmp_path), "bad1", RecordingSink(), say=say, reader=failing)
    bridge.start()
    try:
        assert said.wait(20)
    finally:
        bridge.close()
    assert len(lines) == 1
    assert "run bad1's wandb log" in lines[0] and "a newer wandb is required" in lines[0]


@pytest.mark.timeout(30)
def test_close_gives_up_on_a_server_that_stays_away_after_its_patience(tmp_path: Path) -> None:
    item = {"_step": 0, "loss": 1.0}
    _fake_log(tmp_path, "away1", [{"num": 1, "type": "history", "history": {"item": item}}])
    lines: list[str] = []
    sink = RecordingSink(fail=10**6)
    bridge = WandbBridge(
        str(tmp_path), "away1", sink, say=lines.append, reader=FAKE_READER, patience=1.0
    )
    bridge.start()
    bridge.close()
    assert sink.rows == [] and len(sink.tried) >= 2  # retried, then given up
    assert any("gave up delivering the wandb metrics of run away1" in line for line in lines)


class ServerLikeSink(RecordingSink):
    """Merges a batch's summary as the server does: each logged key's last value, then the
    batch's own summary values over them."""

    def log_history(
        self,
        run_id: str,
        rows: Sequence[tuple[int, Mapping[str, Any]]],
        summary: Mapping[str, Any] | None = None,
        *,
        batch: int | None = None,
    ) -> Any:
        last: dict[str, Any] = {}
        for _, metrics in rows:
            last.update(metrics)
        return super().log_history(run_id, rows, {**last, **(summary or {})}, batch=batch)


@pytest.mark.timeout(30)
def test_a_define_metric_summary_is_not_undone_by_rows_that_come_after_it(tmp_path: Path) -> None:
    sink = ServerLikeSink()
    bridge = WandbBridge(
        str(tmp_path), "ruled1", sink, say=lambda _: None, reader=(), interval=0.01
    )
    bridge.start()

    def feed(*records: Mapping[str, Any]) -> None:
        bridge._take(io.StringIO("".join(json.dumps(record) + "\n" for record in records)))

    feed(
        {"num": 1, "type": "metric", "metric": {"name": "acc", "summary": {"max": True}}},
        {"num": 2, "type": "history", "history": {"item": {"_step": 0, "acc": 0.95}}},
        {"num": 3, "type": "summary", "summary": {"update": {"acc": {"max": 0.95}}}},
    )
    deadline = time.monotonic() + 10
    while not sink.batches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.summary == {"acc": 0.95}
    # a worse epoch read after that batch went; wandb writes no summary for a max that held
    feed({"num": 4, "type": "history", "history": {"item": {"_step": 1, "acc": 0.45}}})
    bridge.close()
    assert sink.rows == [(0, {"acc": 0.95}), (1, {"acc": 0.45})]
    assert sink.summary == {"acc": 0.95}
