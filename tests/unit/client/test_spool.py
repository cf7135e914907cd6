"""The spool: rows beyond the memory bound go to a file and come back in order; a run logging
through an outage keeps memory bounded and delivers each row once; a spool left at finish() is
appended to its run by ``sync``, storing the batch that may have arrived once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from hypersweep.client import ApiClient, _init, _run
from hypersweep.client._config import Config
from hypersweep.client._outbox import Outbox
from hypersweep.client._run import Run
from hypersweep.client._sender import SenderSettings
from hypersweep.client._spool import Spool
from hypersweep.client._sync import sync_run

RUN_OUT = {
    "id": "run1",
    "sweep_id": "sw1",
    "name": "brisk-fox-1",
    "params": {},
    "state": "running",
    "created_at": "2026-01-01T00:00:00Z",
}


class Server:
    """A fake server that stores a batch once by its number, as the real one does; ``up``
    False refuses connections; ``lose_acks`` history answers are lost after storing, and with
    ``down_after_loss`` the server goes away right after losing one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.up = True
        self.lose_acks = 0
        self.down_after_loss = False
        self.overloaded: tuple[str, ...] = ()  # paths ending so are answered 503
        self.steps: list[int] = []
        self.batches: dict[int, list[int]] = {}
        self.last_batch = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1")
        body = json.loads(request.content) if request.content else {}
        with self.lock:
            if not self.up:
                raise httpx.ConnectError("connection refused", request=request)
            if path.endswith(self.overloaded or ("\0",)):
                return httpx.Response(503, json={"detail": "overloaded"})
            self.calls.append((path, body))
            if not path.endswith("/history"):
                return httpx.Response(200, json=RUN_OUT)
            number, steps = body["batch"], [row["step"] for row in body["rows"]]
            # a number seen before must come with the same rows: the retry is unchanged
            assert self.batches.setdefault(number, steps) == steps
            if number > self.last_batch:
                self.last_batch = number
                self.steps += steps
            if self.lose_acks:
                self.lose_acks -= 1
                self.up = not self.down_after_loss
                raise httpx.ReadError("connection reset", request=request)
            return httpx.Response(200, json={"stop": False, "reason": None})

    def stored(self) -> list[int]:
        with self.lock:
            return list(self.steps)


def make_run(server: Server, tmp_path: Path, memory_rows: int) -> Run:
    settings = SenderSettings(
        run_id="run1",
        sweep_id="sw1",
        online=True,
        server="http://fake",
        offline_path=tmp_path / "offline",
        interval=0.01,
        max_rows=20,
        memory_rows=memory_rows,
        spool_dir=tmp_path / "run" / "spool",
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


def test_rows_beyond_the_bound_are_spooled_and_come_back_in_order(tmp_path: Path) -> None:
    box = Outbox(spool=Spool(tmp_path / "spool"), memory_rows=10)
    for step in range(100):
        box.add_row(step, {"x": step, "nan": float("nan")})
    assert len(box.rows) == 10
    assert box.spooled() == 90
    assert len((tmp_path / "spool" / "history.jsonl").read_text().splitlines()) == 90
    taken: list[int] = []
    step = 100
    while box.pending():
        box.refill(7)
        taken += [s for s, _ in box.take(7).rows]
        if step < 150:  # rows logged while the spool drains go behind it
            box.add_row(step, {"x": step, "nan": float("nan")})
            step += 1
        assert len(box.rows) <= 10 + 7
    assert taken == list(range(150))
    assert not (tmp_path / "spool").exists()  # drained: deleted


def test_a_run_logging_through_an_outage_keeps_memory_bounded_and_delivers_rows_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = Server()
    run = make_run(server, tmp_path, memory_rows=50)
    run.log({"i": 0})
    wait_for(lambda: server.stored() == [0])
    with server.lock:
        server.up = False
    most = 0
    for i in range(1, 600):
        run.log({"i": i})
        with run._box.cond:
            most = max(most, len(run._box.rows))
    assert most <= 50
    assert (tmp_path / "run" / "spool" / "history.jsonl").is_file()
    with server.lock:
        server.up = True
        server.lose_acks = 2  # the first answers after the outage are lost: re-sent unchanged
    run.finish()
    assert server.stored() == list(range(600))
    assert not (tmp_path / "run" / "spool").exists()
    assert "are kept in" in capsys.readouterr().err


def test_finish_with_the_server_away_leaves_the_spool_and_sync_appends_it_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_run, "FINISH_TIMEOUT", 1.0)
    server = Server()
    run = make_run(server, tmp_path, memory_rows=30)
    run.log({"i": 0})
    wait_for(lambda: server.stored() == [0])
    with server.lock:
        # the next batch is stored, but the run never hears so: the server is gone
        server.lose_acks, server.down_after_loss = 1, True
    run.log({"i": 1})
    wait_for(lambda: server.stored() == [0, 1])
    for i in range(2, 100):
        run.log({"i": i})
    run.summary["best"] = 7
    run.finish(exit_code=3)
    spool = tmp_path / "run" / "spool"
    err = capsys.readouterr().err
    assert f"`hypersweep sync {spool} --server http://fake`" in err
    meta = json.loads((spool / "run.json").read_text())
    assert (meta["kind"], meta["state"], meta["exit_code"], meta["held_rows"]) == (
        "spool",
        "failed",
        3,
        1,
    )
    with server.lock:
        server.up = True
    with ApiClient("http://fake", transport=httpx.MockTransport(server)) as client:
        result = sync_run(client, spool)
        assert result.outcome == "synced", result.message
        assert sync_run(client, spool).outcome == "skipped"
    assert server.stored() == list(range(100))  # row 1 came twice and was stored once
    paths = [path for path, _ in server.calls]
    assert paths[-2:] == ["/runs/run1/summary", "/runs/run1/finish"]
    assert server.calls[-2][1]["summary"]["best"] == 7
    assert server.calls[-1][1]["exit_code"] == 3


def test_an_end_the_server_never_took_is_left_for_sync(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_run, "FINISH_TIMEOUT", 1.0)
    server = Server()
    server.overloaded = ("/finish",)
    run = make_run(server, tmp_path, memory_rows=30)
    run.log({"i": 0})
    run.finish()
    spool = tmp_path / "run" / "spool"
    assert "the end of run run1 was not recorded" in capsys.readouterr().err
    assert server.stored() == [0]
    server.overloaded = ()
    with ApiClient("http://fake", transport=httpx.MockTransport(server)) as client:
        assert sync_run(client, spool).outcome == "synced"
    assert server.stored() == [0]
    assert server.calls[-1] == ("/runs/run1/finish", {"exit_code": 0, "state": None})


def test_an_outbox_nobody_takes_from_keeps_the_summary_but_no_rows() -> None:
    box = Outbox(keep_rows=False)  # a disabled run's: no sender
    for step in range(100):
        box.add_row(step, {"x": step})
    assert (box.rows, box.pending(), box.summary) == ([], 0, {"x": 99})
