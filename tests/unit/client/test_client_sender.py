"""The sender thread against a fake server (httpx.MockTransport): batching, retries, fallback,
stop orders and who reports the end."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import hypersweep
from hypersweep.client import _init
from hypersweep.client._config import Config
from hypersweep.client._offline import read_offline_run
from hypersweep.client._run import Run
from hypersweep.client._sender import SenderSettings
from hypersweep.errors import RunStopped

RUN_OUT = {
    "id": "run1",
    "sweep_id": "sw1",
    "name": "brisk-fox-1",
    "params": {},
    "state": "running",
    "created_at": "2026-01-01T00:00:00Z",
}


class FakeServer:
    """Records every request; ``fail`` decides per request whether to fail and how."""

    def __init__(self, fail: Callable[[str, int], httpx.Response | Exception | None]) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.attempts: dict[str, int] = {}
        self.fail = fail
        self.lock = threading.Lock()
        self.stop = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1")
        body = json.loads(request.content) if request.content else {}
        with self.lock:
            self.attempts[path] = count = self.attempts.get(path, 0) + 1
        failure = self.fail(path, count)
        if isinstance(failure, Exception):
            raise failure
        if failure is not None:
            return failure
        with self.lock:
            self.requests.append((path, body))
        if path.endswith("/history"):
            return httpx.Response(200, json={"stop": self.stop, "reason": "rung 1" * self.stop})
        return httpx.Response(200, json=RUN_OUT)

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]

    def rows(self) -> list[tuple[int, dict[str, Any]]]:
        with self.lock:
            return [
                (row["step"], row["metrics"])
                for path, body in self.requests
                if path.endswith("/history")
                for row in body["rows"]
            ]


def never(path: str, count: int) -> None:
    return None


def make_run(
    server: FakeServer,
    tmp_path: Path,
    *,
    agent_id: str | None = None,
    interval: float = 0.5,
    max_rows: int = 1000,
    connect_window: float = 5.0,
) -> Run:
    settings = SenderSettings(
        run_id="run1",
        sweep_id="sw1",
        online=True,
        server="http://fake",
        offline_path=tmp_path / "offline",
        agent_id=agent_id,
        interval=interval,
        max_rows=max_rows,
        connect_window=connect_window,
        transport=httpx.MockTransport(server),
    )
    run = Run(
        run_id="run1",
        name=None,
        sweep_id="sw1",
        project="p",
        run_dir=tmp_path / "run",
        config=Config(),
        mode="online",
        sender=settings,
        stop_raises=_init._stop_raises,
        on_finish=_init._forget,
    )
    _init._remember(run)
    return run


def wait_for(condition: Callable[[], bool]) -> None:
    """Poll (no timing assertion: a generous bound only against hanging forever)."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


def test_rows_arrive_in_order_in_batches_of_at_most_max_rows(tmp_path: Path) -> None:
    server = FakeServer(never)
    run = make_run(server, tmp_path, interval=60, max_rows=10)
    for i in range(25):
        run.log({"loss": i})
    run.summary["best"] = 0.5
    run.finish()
    history = [body for path, body in server.requests if path.endswith("/history")]
    assert len(history) >= 3
    assert all(len(body["rows"]) <= 10 for body in history)
    assert [(s, m["loss"]) for s, m in server.rows()] == [(i, i) for i in range(25)]
    assert history[-1]["summary"] == {"best": 0.5}
    assert server.paths()[0] == "/runs/run1/start"
    assert server.paths()[-1] == "/runs/run1/finish"
    assert server.requests[-1][1] == {"exit_code": 0, "state": None}


def test_the_first_row_goes_out_before_finish(tmp_path: Path) -> None:
    server = FakeServer(never)
    run = make_run(server, tmp_path, interval=60)
    run.log({"loss": 1.0})
    wait_for(lambda: len(server.rows()) == 1)
    assert run.name == "brisk-fox-1"
    run.finish()


def test_a_run_of_the_agent_leaves_the_end_to_the_agent(tmp_path: Path) -> None:
    server = FakeServer(never)
    run = make_run(server, tmp_path, agent_id="ag1")
    run.log({"loss": 1.0})
    run.finish(exit_code=3)
    assert "/runs/run1/finish" not in server.paths()
    path, body = server.requests[0]
    assert path == "/runs/run1/start"
    sent = {key: value for key, value in body.items() if value is not None}
    assert sent == {"host": body["host"], "agent_id": "ag1"}


def test_rows_survive_a_server_that_is_briefly_away(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def flaky(path: str, count: int) -> Exception | None:
        if path.endswith("/history") and count <= 2:
            return httpx.ConnectError("connection refused")
        return None

    server = FakeServer(flaky)
    run = make_run(server, tmp_path, interval=0.01)
    for i in range(5):
        run.log({"loss": i})
    run.finish()
    assert [m["loss"] for _, m in server.rows()] == [0, 1, 2, 3, 4]
    err = capsys.readouterr().err
    assert "keeping the rows and retrying" in err
    assert "delivering run run1 again" in err


def test_a_5xx_answer_is_retried(tmp_path: Path) -> None:
    def overloaded(path: str, count: int) -> httpx.Response | None:
        if path.endswith("/history") and count == 1:
            return httpx.Response(503, json={"error": "StoreError", "message": "db busy"})
        return None

    server = FakeServer(overloaded)
    run = make_run(server, tmp_path, interval=0.01)
    run.log({"loss": 1})
    run.finish()
    assert [m["loss"] for _, m in server.rows()] == [1]


def test_a_refused_batch_is_dropped_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def ended(path: str, count: int) -> httpx.Response | None:
        if path.endswith("/history"):
            return httpx.Response(409, json={"error": "ConflictError", "message": "run ended"})
        return None

    server = FakeServer(ended)
    run = make_run(server, tmp_path)
    run.log({"loss": 1})
    run.finish()
    assert "dropped 1 rows of run run1: run ended" in capsys.readouterr().err


class SmallBodies(FakeServer):
    """Refuses (413, as the server's body limit does) any history batch over ``limit`` rows."""

    def __init__(self, limit: int) -> None:
        super().__init__(never)
        self.limit = limit
        self.numbers: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        if request.url.path.endswith("/history"):
            if len(body["rows"]) > self.limit:
                return httpx.Response(
                    413, json={"error": "RequestTooLarge", "message": "the body passed 32 MiB"}
                )
            self.numbers.append(body["batch"])
        return super().__call__(request)


def test_a_batch_too_large_for_the_server_goes_in_halves_with_nothing_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = SmallBodies(limit=3)
    run = make_run(server, tmp_path, interval=60, max_rows=10)
    for i in range(10):
        run.log({"loss": i})
    run.summary["best"] = 0.25
    run.finish()
    assert [(s, m["loss"]) for s, m in server.rows()] == [(i, i) for i in range(10)]
    history = [body for path, body in server.requests if path.endswith("/history")]
    assert all(len(body["rows"]) <= 3 for body in history)
    assert history[-1]["summary"] == {"best": 0.25}, "explicit keys go after the last rows"
    assert server.numbers == sorted(set(server.numbers)), "each part has a number of its own"
    assert "dropped" not in capsys.readouterr().err


def test_a_single_row_too_large_for_the_server_is_dropped_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = SmallBodies(limit=0)
    run = make_run(server, tmp_path, interval=60, max_rows=10)
    run.log({"loss": 1})
    run.log({"loss": 2})
    run.finish()
    assert server.rows() == []
    assert "dropped a row of run run1 too large to send" in capsys.readouterr().err


def test_unreachable_server_at_start_falls_back_to_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = FakeServer(lambda path, count: httpx.ConnectError("connection refused"))
    run = make_run(server, tmp_path, connect_window=0.3)
    run.log({"loss": 1.0})
    run.finish()
    assert run.mode == "offline"
    err = capsys.readouterr().err
    assert "is written offline to" in err
    assert "hypersweep sync" in err
    assert "--sweep sw1" in err
    offline = read_offline_run(tmp_path / "offline")
    assert [m["loss"] for _, m in offline.history] == [1.0]
    assert (offline.meta["sweep_id"], offline.meta["state"]) == ("sw1", "finished")


def test_a_stop_order_is_recorded_and_logging_goes_on_outside_the_function_agent(
    tmp_path: Path,
) -> None:
    server = FakeServer(never)
    server.stop = True
    run = make_run(server, tmp_path, interval=0.01)
    run.log({"loss": 1.0})
    wait_for(lambda: run.stop_requested)
    assert run.stop_reason == "rung 1"
    run.log({"loss": 0.5})  # a subprocess run is SIGTERMed by its agent; log() does not raise
    run.finish()


def test_inside_the_function_agent_log_of_a_stopped_run_raises(tmp_path: Path) -> None:
    server = FakeServer(never)
    server.stop = True
    hypersweep.client.set_inprocess_agent(True)
    run = make_run(server, tmp_path, interval=0.01)
    run.log({"loss": 1.0})
    wait_for(lambda: run.stop_requested)
    with pytest.raises(RunStopped, match="run run1 was stopped by the server: rung 1"):
        run.log({"loss": 0.5})
    run.finish()


def test_request_stop_is_the_agents_hook(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HYPERSWEEP_INPROCESS_AGENT", "1")
    run = hypersweep.init(mode="disabled", id="abc")
    assert hypersweep.client.request_stop("abc", "user stop")
    assert not hypersweep.client.request_stop("other", "user stop")
    with pytest.raises(RunStopped, match="user stop"):
        hypersweep.log({"a": 1})
    run.finish()


def test_a_batch_whose_answer_is_lost_is_resent_unchanged_with_its_number(
    tmp_path: Path,
) -> None:
    sent: list[dict[str, Any]] = []

    class LossyServer(FakeServer):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            response = super().__call__(request)
            if request.url.path.endswith("/history"):
                sent.append(json.loads(request.content))
                if len(sent) == 1:  # stored, but the answer never arrives
                    raise httpx.ReadError("connection reset", request=request)
            return response

    run = make_run(LossyServer(never), tmp_path, interval=0.05)
    run.log({"loss": 1.0})
    wait_for(lambda: len(sent) >= 2)
    run.log({"loss": 0.5})
    run.finish()
    first, retry, *later = sent
    assert retry == first  # same rows, same batch number: the server stores it once
    assert isinstance(first["batch"], int)
    assert later and all(body["batch"] > first["batch"] for body in later)
    losses = [row["metrics"]["loss"] for body in [retry, *later] for row in body["rows"]]
    assert losses == [1.0, 0.5]


def test_an_agents_run_waits_for_a_restarting_server_instead_of_going_offline(
    tmp_path: Path,
) -> None:
    def restarting(path: str, count: int) -> Exception | None:
        if path.endswith("/start") and count <= 3:
            return httpx.ConnectError("connection refused")
        return None

    server = FakeServer(restarting)
    run = make_run(server, tmp_path, agent_id="agent1", connect_window=0.3)
    run.log({"loss": 1.0})
    run.finish()
    assert run.mode == "online"
    assert server.attempts["/runs/run1/start"] == 4
    assert [m["loss"] for _, m in server.rows()] == [1.0]
