"""Offline run directories read back for sync, and sync_run against a fake server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import hypersweep
from hypersweep.client import ApiClient
from hypersweep.client._offline import (
    OfflineWriter,
    find_run_dirs,
    read_offline_run,
    read_synced,
)
from hypersweep.client._sync import sync_run
from hypersweep.errors import HypersweepError


def write_run(path: Path, **meta: Any) -> OfflineWriter:
    writer = OfflineWriter(path, {"id": "abc12345", "sweep_id": None, "state": "running", **meta})
    writer.append([(0, {"loss": 1.0}), (1, {"loss": 0.5})])
    writer.close()
    return writer


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    write_run(tmp_path / "r")
    with (tmp_path / "r" / "history.jsonl").open("a") as f:
        f.write('{"step": 2, "metr')
    run = read_offline_run(tmp_path / "r")
    assert run.history == [(0, {"loss": 1.0}), (1, {"loss": 0.5})]
    assert run.final_state == "crashed"


def test_damage_in_the_middle_names_the_line(tmp_path: Path) -> None:
    write_run(tmp_path / "r")
    history = tmp_path / "r" / "history.jsonl"
    history.write_text("garbage\n" + history.read_text())
    with pytest.raises(HypersweepError, match=r"history.jsonl:1: not a history row"):
        read_offline_run(tmp_path / "r")


def test_a_directory_without_run_json_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(HypersweepError, match=r"no run\.json here; pass the offline-run-"):
        read_offline_run(tmp_path)


def test_find_run_dirs_takes_a_run_or_its_parent(tmp_path: Path) -> None:
    write_run(tmp_path / "a")
    write_run(tmp_path / "b")
    (tmp_path / "other").mkdir()
    assert find_run_dirs(tmp_path) == [tmp_path / "a", tmp_path / "b"]
    assert find_run_dirs(tmp_path / "a") == [tmp_path / "a"]
    assert find_run_dirs(tmp_path / "missing") == []


def imported_by(requests: list[dict[str, Any]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        requests.append(body)
        return httpx.Response(
            201,
            json={
                "id": body["run_id"] or "fresh001",
                "sweep_id": "sw1",
                "name": "n",
                "params": body["params"],
                "state": body["state"],
                "created_at": "2026-01-01T00:00:00Z",
            },
        )

    return httpx.MockTransport(handler)


def test_sync_uploads_once_then_skips(tmp_path: Path) -> None:
    run = hypersweep.init(mode="offline", config={"lr": 0.1})
    run.log({"loss": 2.0})
    run.summary["best"] = 1.0
    run.finish()
    requests: list[dict[str, Any]] = []
    with ApiClient("http://fake", transport=imported_by(requests)) as client:
        first = sync_run(client, Path(run.dir), sweep="sw1")
        second = sync_run(client, Path(run.dir), sweep="sw1")
    assert first.outcome == "synced"
    assert first.message.endswith(f"synced run {run.id} (finished, 1 rows) to sweep sw1")
    assert (second.outcome, len(requests)) == ("skipped", 1)
    assert "already synced to sweep sw1" in second.message
    (body,) = requests
    assert body["run_id"] == run.id
    assert body["params"] == {"lr": 0.1}
    assert body["summary"]["best"] == 1.0
    assert [row["metrics"]["loss"] for row in body["history"]] == [2.0]
    assert (body["state"], body["exit_code"]) == ("finished", 0)
    assert read_synced(Path(run.dir)) == {
        "sweep_id": "sw1",
        "server": "http://fake",
        "run_id": run.id,
    }


def test_sync_of_a_sweep_run_uses_its_sweep_and_params(tmp_path: Path) -> None:
    write_run(tmp_path / "r", sweep_id="sw1", params={"lr": 0.5}, config={"lr": 0.5, "x": 1})
    requests: list[dict[str, Any]] = []
    with ApiClient("http://fake", transport=imported_by(requests)) as client:
        result = sync_run(client, tmp_path / "r", new_id=True)
    assert result.outcome == "synced"
    assert (requests[0]["params"], requests[0]["run_id"]) == ({"lr": 0.5}, None)
    assert requests[0]["state"] == "crashed"


def test_hypersweep_config_is_the_runs_even_after_the_config_package_is_imported() -> None:
    import hypersweep.config  # the sweep-config subpackage of the same name
    from hypersweep.config import SearchSpace  # still importable

    assert SearchSpace.__name__ == "SearchSpace"

    hypersweep.init(mode="disabled", config={"lr": 0.2})
    assert hypersweep.config.lr == 0.2
    with pytest.raises(AttributeError, match=r"hypersweep\.config is the current run.s config"):
        hypersweep.config = {"lr": 1}  # type: ignore[misc]
