"""Input limits over every store (issue 8 item 6): the request body's size (413), the rows of a
history batch, metric names, nesting of logged values and of sweep configs (422, naming the field
and the limit); and nothing of a refused request is stored. Big but legal inputs still pass."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from hypersweep.config._limits import MAX_DEPTH
from hypersweep.protocol import MAX_BATCH_ROWS
from hypersweep.server._convert import NAME_LENGTH
from hypersweep.server._limits import MAX_BODY_BYTES, MAX_NESTING

if TYPE_CHECKING:
    from conftest import Api

pytestmark = pytest.mark.timeout(60)

GRID = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"values": [1, 2, 3]}},
}
_MIB = 1024 * 1024


def _running_run(client: Api) -> str:
    sweep_id: str = client.create_sweep(GRID)["id"]
    agent = client.register_agent(sweep_id)
    run_id: str = client.next_run(agent)["run_id"]
    client.ok(client.post(f"runs/{run_id}/start", json={"host": "node-1"}))
    return run_id


def _rows(count: int, key: str = "loss") -> list[dict[str, Any]]:
    return [{"step": step, "metrics": {key: float(step)}} for step in range(count)]


def _history(client: Api, run_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = client.ok(client.get(f"runs/{run_id}/history"))
    return rows


def _too_large(client: Api, response: Any) -> str:
    body = client.error(response, 413)
    assert body.error == "RequestTooLarge"
    assert f"{MAX_BODY_BYTES // _MIB} MiB" in body.message
    assert "fewer rows" in body.message and "smaller chunks" in body.message
    return body.message


# -- request body size ---------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413_and_nothing_is_stored(client: Api) -> None:
    run_id = _running_run(client)
    text = "x" * (33 * _MIB)
    response = client.post(f"runs/{run_id}/output", json={"stream": "stdout", "text": text})
    assert "33.0 MiB" in _too_large(client, response)
    assert client.ok(client.get(f"runs/{run_id}/output"))["text"] == ""


def test_a_chunked_body_over_the_limit_is_refused_while_it_arrives(client: Api) -> None:
    run_id = _running_run(client)

    def chunks() -> Iterator[bytes]:
        # a valid JSON body that never declares its length: 33 MiB of spaces, then the object
        for _ in range(33):
            yield b" " * _MIB
        yield b'{"stream": "stdout", "text": "should never be stored"}'

    response = client.post(
        f"runs/{run_id}/output", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    _too_large(client, response)
    assert client.ok(client.get(f"runs/{run_id}/output"))["text"] == ""


def test_a_chunked_body_under_the_limit_is_read(client: Api) -> None:
    run_id = _running_run(client)

    def chunks() -> Iterator[bytes]:
        yield b'{"stream": "stdout", '
        yield b'"text": "hello"}'

    response = client.post(
        f"runs/{run_id}/output", content=chunks(), headers={"content-type": "application/json"}
    )
    client.ok(response)
    assert client.ok(client.get(f"runs/{run_id}/output"))["text"] == "hello"


# -- history batches -----------------------------------------------------------------------------


def test_a_batch_over_the_row_limit_is_refused_naming_rows_and_the_limit(client: Api) -> None:
    run_id = _running_run(client)
    response = client.post(f"runs/{run_id}/history", json={"rows": _rows(MAX_BATCH_ROWS + 1)})
    body = client.error(response, 422)
    assert "rows:" in body.message
    assert str(MAX_BATCH_ROWS) in body.message
    assert _history(client, run_id) == []
    assert client.run(run_id)["summary"] == {}


def test_a_batch_at_the_row_limit_is_stored(client: Api) -> None:
    run_id = _running_run(client)
    client.ok(client.post(f"runs/{run_id}/history", json={"rows": _rows(MAX_BATCH_ROWS)}))
    rows = _history(client, run_id)
    assert len(rows) == MAX_BATCH_ROWS
    assert rows[-1] == {"step": MAX_BATCH_ROWS - 1, "metrics": {"loss": MAX_BATCH_ROWS - 1.0}}


def test_a_metric_name_over_the_length_limit_is_refused_naming_it(client: Api) -> None:
    run_id = _running_run(client)
    name = "m" * 300
    batch = {"rows": [{"step": 0, "metrics": {"loss": 1.0}}, {"step": 1, "metrics": {name: 1.0}}]}
    body = client.error(client.post(f"runs/{run_id}/history", json=batch), 422)
    assert "rows.1.metrics: is 300 characters long" in body.message
    assert f"shorten it to {NAME_LENGTH}" in body.message
    assert "'mmmm" in body.message  # the key itself, cut short
    assert _history(client, run_id) == []


def test_a_metric_name_with_a_nul_is_refused_among_plain_rows(client: Api) -> None:
    """Plain rows take a one-pass check; a row it cannot pass gets every check and its error."""
    run_id = _running_run(client)
    rows = [{"step": 0, "metrics": {"loss": 1.0, "acc": 0.5, "ok": True, "tag": "a"}}]
    rows.append({"step": 1, "metrics": {"loss": 0.9, "bad\x00name": 1.0}})
    body = client.error(client.post(f"runs/{run_id}/history", json={"rows": rows}), 422)
    assert "rows.1.metrics: contains a NUL character" in body.message
    assert _history(client, run_id) == []


def test_a_summary_key_over_the_length_limit_is_refused(client: Api) -> None:
    run_id = _running_run(client)
    name = "s" * (NAME_LENGTH + 1)
    batch = {"rows": _rows(1), "summary": {name: 1}}
    body = client.error(client.post(f"runs/{run_id}/history", json=batch), 422)
    assert f"summary: is {NAME_LENGTH + 1} characters long" in body.message
    body = client.error(client.post(f"runs/{run_id}/summary", json={"summary": {name: 1}}), 422)
    assert f"summary: is {NAME_LENGTH + 1} characters long" in body.message
    assert _history(client, run_id) == []
    assert name not in client.run(run_id)["summary"]


def test_a_metric_name_at_the_length_limit_is_stored(client: Api) -> None:
    run_id = _running_run(client)
    name = "m" * NAME_LENGTH
    client.ok(client.post(f"runs/{run_id}/history", json={"rows": _rows(1, key=name)}))
    assert _history(client, run_id) == [{"step": 0, "metrics": {name: 0.0}}]


def test_a_logged_value_nested_too_deep_is_refused(client: Api) -> None:
    """Hundreds of levels would overflow the server's recursive steps (a 500 before)."""
    run_id = _running_run(client)
    value = "[" * 500 + "]" * 500
    body = '{"rows": [{"step": 0, "metrics": {"deep": ' + value + "}}]}"
    response = client.post(
        f"runs/{run_id}/history", content=body, headers={"content-type": "application/json"}
    )
    error = client.error(response, 422)
    assert f"rows.0.metrics: nests objects and arrays more than {MAX_NESTING}" in error.message
    summary = '{"summary": {"deep": ' + value + "}}"
    response = client.post(
        f"runs/{run_id}/summary", content=summary, headers={"content-type": "application/json"}
    )
    assert "summary: nests" in client.error(response, 422).message
    assert _history(client, run_id) == []


# -- sweep configs -------------------------------------------------------------------------------


def _nested_config(levels: int) -> dict[str, Any]:
    config: dict[str, Any] = {"method": "random", "parameters": {}}
    block = config["parameters"]
    for _ in range(levels):
        block["group"] = {"parameters": {}}
        block = block["group"]["parameters"]
    block["lr"] = {"min": 0.1, "max": 1.0}
    return config


def test_a_config_nested_too_deep_is_refused_naming_the_limit(client: Api) -> None:
    response = client.post("sweeps", json={"config": _nested_config(20)})
    body = client.error(response, 422)
    assert body.error == "ConfigError"
    [issue] = body.issues
    assert issue.path.startswith("parameters.group.parameters.group")
    assert f"more than {MAX_DEPTH} levels" in issue.message
    assert client.ok(client.get("sweeps")) == []


def test_a_config_nested_a_few_levels_is_accepted(client: Api) -> None:
    sweep = client.create_sweep(_nested_config(5))
    assert sweep["config"]["parameters"]["group"]["parameters"]["group"]


def test_a_config_nested_hundreds_deep_is_a_422_not_a_500(client: Api) -> None:
    response = client.post("sweeps", json={"config": _nested_config(300)})
    assert client.error(response, 422).error == "ConfigError"
    assert client.ok(client.get("sweeps")) == []


def test_an_imported_run_nested_too_deep_is_refused_and_the_sweep_stays_readable(
    client: Api,
) -> None:
    sweep = client.create_sweep({"method": "random", "parameters": {"a": {"values": [1]}}})
    deep = "[" * 400 + "]" * 400
    body = '{"params": {"a": ' + deep + "}}"
    response = client.post(
        f"sweeps/{sweep['id']}/runs", content=body, headers={"content-type": "application/json"}
    )
    assert "params: nests" in client.error(response, 422).message
    long_key = {"params": {"a": 1}, "summary": {"k" * (NAME_LENGTH + 1): 1.0}}
    client.error(client.post(f"sweeps/{sweep['id']}/runs", json=long_key), 422)
    assert client.ok(client.get(f"sweeps/{sweep['id']}/runs")) == []
