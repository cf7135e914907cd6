"""log() step rules and summary rules, as W&B has them (read back from offline runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hypersweep
from hypersweep.client._offline import read_offline_run
from hypersweep.client._outbox import Outbox, jsonable
from hypersweep.client._run import Run


def rows_of(run: Run) -> list[tuple[int, dict[str, Any]]]:
    run.finish()
    history = read_offline_run(Path(run.dir)).history
    return [(step, {k: v for k, v in m.items() if not k.startswith("_")}) for step, m in history]


def test_each_log_is_a_row_at_the_next_step() -> None:
    run = hypersweep.init(mode="offline")
    run.log({"a": 1})
    run.log({"a": 2})
    assert run.step == 2
    assert rows_of(run) == [(0, {"a": 1}), (1, {"a": 2})]


def test_commit_false_accumulates_into_one_row() -> None:
    run = hypersweep.init(mode="offline")
    run.log({"a": 1}, commit=False)
    run.log({"b": 2}, commit=False)
    run.log({"c": 3})
    run.log({"a": 4})
    assert rows_of(run) == [(0, {"a": 1, "b": 2, "c": 3}), (1, {"a": 4})]


def test_explicit_steps_commit_when_the_step_moves_on() -> None:
    run = hypersweep.init(mode="offline")
    run.log({"a": 1}, step=5)
    run.log({"b": 2}, step=5)
    run.log({"a": 3}, step=7)
    run.log({"c": 4})  # no step: joins the row at 7 and commits it
    run.log({"a": 5}, step=9, commit=True)
    run.log({"a": 6}, step=10)  # committed by finish()
    assert rows_of(run) == [
        (5, {"a": 1, "b": 2}),
        (7, {"a": 3, "c": 4}),
        (9, {"a": 5}),
        (10, {"a": 6}),
    ]


def test_a_step_below_the_current_one_is_dropped_with_wandbs_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = hypersweep.init(mode="offline")
    run.log({"a": 1}, step=3)
    run.log({"a": 2}, step=4)
    run.log({"a": 9}, step=2)
    assert "Tried to log to step 2 that is less than the current step 4" in capsys.readouterr().err
    assert rows_of(run) == [(3, {"a": 1}), (4, {"a": 2})]


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (([1, 2],), TypeError, r"log\(\) takes a dict of metrics.*got list"),
        (({1: 2},), ValueError, "Key values passed to `log` must be strings."),
        (({"a": 1}, -1), ValueError, r"log\(step=-1\): step must be an int >= 0"),
        (({"a": 1}, 1.5), ValueError, r"log\(step=1.5\)"),
    ],
    ids=["not-a-dict", "int-key", "negative-step", "float-step"],
)
def test_bad_log_calls(args: tuple[Any, ...], error: type[Exception], message: str) -> None:
    run = hypersweep.init(mode="disabled")
    with pytest.raises(error, match=message):
        run.log(*args)


def test_nested_dicts_are_logged_as_dotted_keys_as_wandb_does() -> None:
    run = hypersweep.init(mode="offline")
    run.log({"val": {"score": 0.5, "loss": {"ce": 1.5}}, "hist": [1, {"a": 2}], "empty": {}})
    run.log({"val": {"score": 0.7}})
    assert run.summary["val.score"] == 0.7
    assert "val" not in run.summary
    assert rows_of(run) == [
        (0, {"val.score": 0.5, "val.loss.ce": 1.5, "hist": [1, {"a": 2}], "empty": {}}),
        (1, {"val.score": 0.7}),
    ]
    summary = read_offline_run(Path(run.dir)).meta["summary"]
    assert summary["val.score"] == 0.7 and summary["val.loss.ce"] == 1.5


def test_nested_values_of_one_row_merge_key_by_key() -> None:
    # with the dict kept whole, the second call's {"val": ...} would replace the first's
    run = hypersweep.init(mode="offline")
    run.log({"val": {"loss": 1.0}}, commit=False)
    run.log({"val": {"acc": 0.5}})
    run.log({"val": {"loss": 0.8}}, step=4)
    run.log({"val": {"acc": 0.6}}, step=4)
    assert rows_of(run) == [
        (0, {"val.loss": 1.0, "val.acc": 0.5}),
        (4, {"val.loss": 0.8, "val.acc": 0.6}),
    ]


def test_a_stored_medium_given_as_a_dict_is_not_spread() -> None:
    run = hypersweep.init(mode="offline")
    histogram = {"_type": "histogram", "bins": [0, 1], "counts": [3]}
    run.log({"val": {"dist": histogram}})
    assert rows_of(run) == [(0, {"val.dist": histogram})]


def test_log_after_finish_is_ignored_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    run = hypersweep.init(mode="offline")
    run.log({"a": 1})
    run.finish()
    run.log({"a": 2})
    run.log({"a": 3})
    assert capsys.readouterr().err.count("is finished. The call to `log` will be ignored.") == 1
    assert [m["a"] for _, m in read_offline_run(Path(run.dir)).history] == [1]


def test_summary_is_the_last_logged_value_unless_set_later() -> None:
    run = hypersweep.init(mode="offline")
    run.log({"loss": 3.0, "acc": 0.1})
    run.log({"loss": 2.0})
    run.summary["acc"] = 0.9  # explicit wins over the logged 0.1
    run.summary.update({"best": 1.5})
    run.log({"loss": 1.0})
    assert run.summary["loss"] == 1.0
    assert run.summary.acc == 0.9
    assert "best" in run.summary
    run.log({"best": 1.2})  # a later log replaces the explicit value, as in W&B
    run.finish()
    summary = read_offline_run(Path(run.dir)).meta["summary"]
    assert {k: summary[k] for k in ("loss", "acc", "best")} == {
        "loss": 1.0,
        "acc": 0.9,
        "best": 1.2,
    }


def test_outbox_sends_explicit_keys_after_the_rows_and_only_once() -> None:
    box = Outbox()
    box.add_row(0, {"a": 1})
    box.set_summary({"a": 10, "b": 2})
    box.add_row(1, {"b": 3})
    batch = box.take(100)
    assert batch.rows == [(0, {"a": 1}), (1, {"b": 3})]
    assert batch.explicit == {"a": 10}  # b was logged after it was set
    assert batch.summary == {"a": 10, "b": 3}
    assert box.take(100).explicit == {}


class Scalar:
    """Stands in for a numpy or torch scalar: has .item()."""

    def item(self) -> float:
        return 0.25


def test_values_become_plain_json() -> None:
    assert jsonable({"s": Scalar(), "t": (1, Scalar()), "o": object}) == {
        "s": 0.25,
        "t": [1, 0.25],
        "o": "<class 'object'>",
    }
