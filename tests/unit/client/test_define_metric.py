"""define_metric(summary=...) decides the summary value of a key (what the sweep ranks by)."""

from __future__ import annotations

from pathlib import Path

import pytest

import hypersweep
from hypersweep.client._metrics import MetricRules, parse_metric
from hypersweep.client._offline import read_offline_run
from hypersweep.client._outbox import Outbox
from hypersweep.errors import HypersweepError


def logged(summary: str, values: list[float], goal: str | None = None) -> object:
    run = hypersweep.init(mode="disabled")
    run.define_metric("val_loss", summary=summary, goal=goal)
    for value in values:
        run.log({"val_loss": value})
    result = run.summary.get("val_loss", "absent")
    run.finish()
    return result


@pytest.mark.parametrize(
    ("summary", "goal", "expected"),
    [
        ("min", None, 0.2),
        ("max", None, 0.9),
        ("mean", None, pytest.approx(0.5)),
        ("last", None, 0.4),
        ("best", None, 0.2),  # minimize unless told otherwise
        ("best", "minimize", 0.2),
        ("best", "maximize", 0.9),
        ("best", "max", 0.9),  # W&B's short spelling
        ("MIN", None, 0.2),
        ("min,max", None, 0.2),  # the first summary decides the value
    ],
)
def test_the_summary_rule_picks_the_value(summary: str, goal: str | None, expected: object) -> None:
    assert logged(summary, [0.5, 0.9, 0.2, 0.4], goal) == expected


def test_summary_none_leaves_the_key_out_of_the_summary() -> None:
    assert logged("none", [0.5, 0.1]) == "absent"


def test_without_define_metric_the_last_value_wins() -> None:
    run = hypersweep.init(mode="disabled")
    run.log({"val_loss": 0.1})
    run.log({"val_loss": 0.3})
    assert run.summary["val_loss"] == 0.3


def test_module_level_define_metric_applies_to_the_current_run() -> None:
    run = hypersweep.init(mode="disabled")
    metric = hypersweep.define_metric("acc", summary="max", step_metric="epoch")
    assert (metric.name, metric.rule, metric.step_metric) == ("acc", "max", "epoch")
    for acc in (0.7, 0.9, 0.8):
        hypersweep.log({"acc": acc, "epoch": 1})
    assert run.summary["acc"] == 0.9


def test_a_glob_rule_covers_every_matching_key_and_an_exact_rule_wins() -> None:
    run = hypersweep.init(mode="disabled")
    run.define_metric("val/*", summary="min")
    run.define_metric("val/acc", summary="max")
    for loss, acc in ((0.5, 0.6), (0.3, 0.8), (0.4, 0.7)):
        run.log({"val/loss": loss, "val/acc": acc, "train/loss": loss})
    assert run.summary["val/loss"] == 0.3
    assert run.summary["val/acc"] == 0.8
    assert run.summary["train/loss"] == 0.4  # no rule: last value


def test_rules_on_dotted_names_apply_to_values_logged_nested() -> None:
    run = hypersweep.init(mode="disabled")
    run.define_metric("val.*", summary="min")
    run.define_metric("val.acc", summary="max")
    for loss, acc in ((0.5, 0.6), (0.3, 0.8), (0.4, 0.7)):
        run.log({"val": {"loss": loss, "acc": acc}})
    assert run.summary["val.loss"] == 0.3
    assert run.summary["val.acc"] == 0.8


def test_of_two_matching_globs_the_later_one_wins() -> None:
    rules = MetricRules()
    rules.define(parse_metric("*", summary="max"))
    rules.define(parse_metric("val/*", summary="min"))
    rule = rules.rule_for("val/loss")
    assert rule is not None and rule.rule == "min"
    rule = rules.rule_for("loss")
    assert rule is not None and rule.rule == "max"


def test_values_logged_before_the_definition_do_not_count() -> None:
    run = hypersweep.init(mode="disabled")
    run.log({"loss": 0.01})
    run.define_metric("loss", summary="max")
    run.log({"loss": 0.5})
    run.log({"loss": 0.2})
    assert run.summary["loss"] == 0.5


def test_text_and_nan_values_fall_back_to_the_last_value() -> None:
    run = hypersweep.init(mode="disabled")
    run.define_metric("loss", summary="min")
    run.log({"loss": 0.3})
    run.log({"loss": float("nan")})
    assert run.summary["loss"] != run.summary["loss"]  # NaN: the last value, not a min of it
    run.log({"loss": 0.5})
    assert run.summary["loss"] == 0.3  # NaN did not take part in the min
    run.log({"loss": "diverged"})
    assert run.summary["loss"] == "diverged"


def test_integer_values_keep_their_type() -> None:
    assert logged("max", [3, 7, 5]) == 7
    assert isinstance(logged("max", [3, 7, 5]), int)


def test_the_chosen_value_is_sent_after_the_rows_as_an_explicit_summary() -> None:
    # the server sets the summary to the last logged value of each key, then lays explicit
    # values over it: that is how the sweep sees the min instead of the last value
    box = Outbox()
    box.rules.define(parse_metric("loss", summary="min"))
    box.add_row(0, {"loss": 0.2, "acc": 0.5})
    box.add_row(1, {"loss": 0.4, "acc": 0.6})
    batch = box.take(10)
    assert [metrics["loss"] for _, metrics in batch.rows] == [0.2, 0.4]
    assert batch.explicit == {"loss": 0.2}
    assert batch.summary == {"loss": 0.2, "acc": 0.6}


def test_an_offline_run_records_the_rule_s_value(tmp_path: Path) -> None:
    run = hypersweep.init(mode="offline")
    run.define_metric("loss", summary="min")
    for loss in (0.5, 0.1, 0.3):
        run.log({"loss": loss})
    run.finish()
    assert read_offline_run(Path(run.dir)).meta["summary"]["loss"] == 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"summary": "median"}, "unknown summary 'median'; use one of min, max, mean, last"),
        ({"summary": "min,p95"}, "unknown summary 'p95'"),
        ({"goal": "up"}, "goal='up'): use 'minimize' or 'maximize'"),
    ],
)
def test_bad_arguments_name_the_value_and_the_choices(kwargs: dict[str, str], message: str) -> None:
    run = hypersweep.init(mode="disabled")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run.define_metric("loss", **kwargs)  # type: ignore[arg-type]


def test_a_name_that_is_not_text_is_a_type_error() -> None:
    run = hypersweep.init(mode="disabled")
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        run.define_metric("")


def test_define_metric_before_init_says_to_call_init() -> None:
    with pytest.raises(HypersweepError, match=r"call hypersweep.init\(\) before"):
        hypersweep.define_metric("loss", summary="min")
