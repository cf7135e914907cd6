"""Every class of invalid config gives a ConfigIssue with its key path, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hypersweep import engine
from hypersweep.errors import ConfigError, ConfigIssue, Severity

GOOD_PARAMS = {"lr": {"values": [0.1, 0.01]}}


def issues_of(config: Any, *, strict: bool = False) -> list[ConfigIssue]:
    return engine.validate(config, strict=strict)


def only(issues: list[ConfigIssue], path: str) -> ConfigIssue:
    found = [i for i in issues if i.path == path]
    assert len(found) == 1, [str(i) for i in issues]
    return found[0]


# (id, config, key path, severity, phrases the message must contain)
CASES: list[tuple[str, dict[str, Any], str, Severity, tuple[str, ...]]] = [
    (
        "missing-method",
        {"parameters": GOOD_PARAMS},
        "method",
        Severity.ERROR,
        ("'method' is a required property",),
    ),
    (
        "unknown-method",
        {"method": "randm", "parameters": GOOD_PARAMS},
        "method",
        Severity.ERROR,
        ("'randm' is not one of", "did you mean 'random'"),
    ),
    (
        "method-custom",
        {"method": "custom", "parameters": GOOD_PARAMS},
        "method",
        Severity.ERROR,
        ("not supported yet",),
    ),
    (
        "missing-parameters",
        {"method": "random"},
        "parameters",
        Severity.ERROR,
        ("'parameters' is a required property",),
    ),
    (
        "empty-parameters",
        {"method": "random", "parameters": {}},
        "parameters",
        Severity.ERROR,
        ("should be non-empty",),
    ),
    (
        "parameters-not-mapping",
        {"method": "random", "parameters": [1]},
        "parameters",
        Severity.ERROR,
        ("expected a mapping",),
    ),
    (
        "spec-not-mapping",
        {"method": "random", "parameters": {"lr": 0.1}},
        "parameters.lr",
        Severity.ERROR,
        ("expected a parameter spec mapping", "{value: 0.1}"),
    ),
    (
        "min-not-below-max",
        {"method": "random", "parameters": {"lr": {"min": 2, "max": 1}}},
        "parameters.lr",
        Severity.ERROR,
        ("lr: min 2 is not less than max 1",),
    ),
    (
        "min-equals-max",
        {"method": "random", "parameters": {"lr": {"min": 0.5, "max": 0.5}}},
        "parameters.lr",
        Severity.ERROR,
        ("min 0.5 is not less than max 0.5",),
    ),
    (
        "empty-values",
        {"method": "random", "parameters": {"lr": {"values": []}}},
        "parameters.lr.values",
        Severity.ERROR,
        ("should be non-empty",),
    ),
    (
        "values-not-list",
        {"method": "random", "parameters": {"lr": {"values": 3}}},
        "parameters.lr.values",
        Severity.ERROR,
        ("is not a list",),
    ),
    (
        "value-and-values",
        {"method": "random", "parameters": {"lr": {"value": 1, "values": [1]}}},
        "parameters.lr",
        Severity.ERROR,
        ("both 'value'",),
    ),
    (
        "unknown-distribution",
        {
            "method": "random",
            "parameters": {"lr": {"distribution": "log_uniform_value", "min": 0.1, "max": 1.0}},
        },
        "parameters.lr.distribution",
        Severity.ERROR,
        ("unknown distribution 'log_uniform_value'", "did you mean 'log_uniform_values'"),
    ),
    (
        "cannot-infer",
        {"method": "random", "parameters": {"lr": {"mu": 1}}},
        "parameters.lr",
        Severity.ERROR,
        ("cannot tell the distribution",),
    ),
    (
        "only-min",
        {"method": "random", "parameters": {"lr": {"min": 1}}},
        "parameters.lr",
        Severity.ERROR,
        ("has 'min' but no 'max'",),
    ),
    (
        "probabilities-sum",
        {"method": "random", "parameters": {"o": {"values": [1, 2], "probabilities": [0.2, 0.2]}}},
        "parameters.o.probabilities",
        Severity.ERROR,
        ("Parameter o: Probabilities [0.2, 0.2] do not sum to 1",),
    ),
    (
        "probabilities-length",
        {"method": "random", "parameters": {"o": {"values": [1, 2], "probabilities": [1.0]}}},
        "parameters.o.probabilities",
        Severity.ERROR,
        ("values [1, 2] and probabilities [1.0] are not the same length",),
    ),
    (
        "negative-probability",
        {"method": "random", "parameters": {"o": {"values": [1, 2], "probabilities": [1.5, -0.5]}}},
        "parameters.o.probabilities",
        Severity.ERROR,
        ("negative probability",),
    ),
    (
        "int-uniform-float-bound",
        {
            "method": "random",
            "parameters": {"n": {"distribution": "int_uniform", "min": 0.5, "max": 3}},
        },
        "parameters.n.min",
        Severity.ERROR,
        ("int_uniform needs integer bounds",),
    ),
    (
        "ambiguous-bounds",
        {"method": "random", "parameters": {"x": {"min": 0, "max": 1.5}}},
        "parameters.x",
        Severity.ERROR,
        ("Parameter x is ambiguous", "write e.g. min: 0.0, max: 1.5"),
    ),
    (
        "ambiguous-and-reversed-bounds",  # the fix given must not be refused in turn
        {"method": "random", "parameters": {"x": {"min": 1, "max": 0.1}}},
        "parameters.x",
        Severity.ERROR,
        ("Parameter x is ambiguous", "min must be below max: write e.g. min: 0.1, max: 1.0"),
    ),
    (
        "non-numeric-min",
        {
            "method": "random",
            "parameters": {"x": {"distribution": "uniform", "min": "a", "max": 1}},
        },
        "parameters.x.min",
        Severity.ERROR,
        ("min must be a finite number, got 'a'",),
    ),
    (
        "bool-bound",
        {
            "method": "random",
            "parameters": {"x": {"distribution": "uniform", "min": True, "max": 2}},
        },
        "parameters.x.min",
        Severity.ERROR,
        ("must be a finite number",),
    ),
    (
        "log-values-min-zero",
        {
            "method": "random",
            "parameters": {"x": {"distribution": "log_uniform_values", "min": 0, "max": 1}},
        },
        "parameters.x.min",
        Severity.ERROR,
        ("needs min > 0",),
    ),
    (
        "q-not-positive",
        {
            "method": "random",
            "parameters": {"x": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}},
        },
        "parameters.x.q",
        Severity.ERROR,
        ("must be greater than 0",),
    ),
    (
        "sigma-negative",
        {"method": "random", "parameters": {"x": {"distribution": "normal", "sigma": -1}}},
        "parameters.x.sigma",
        Severity.ERROR,
        ("must not be negative",),
    ),
    (
        "unknown-spec-key",
        {"method": "random", "parameters": {"x": {"min": 0, "max": 10, "q": 2}}},
        "parameters.x.q",
        Severity.ERROR,
        ("unknown key 'q' for int_uniform (inferred)", "distribution: q_uniform"),
    ),
    (
        "nested-extra-key",
        {"method": "random", "parameters": {"o": {"parameters": {"a": {"value": 1}}, "value": 2}}},
        "parameters.o",
        Severity.ERROR,
        ("takes only 'parameters'",),
    ),
    (
        "nested-child-error",
        {
            "method": "random",
            "parameters": {"optimizer": {"parameters": {"lr": {"min": 0.5, "max": 0.1}}}},
        },
        "parameters.optimizer.parameters.lr",
        Severity.ERROR,
        ("min 0.5 is not less than max 0.1",),
    ),
    (
        "grid-continuous",
        {"method": "grid", "parameters": {"lr": {"min": 0.1, "max": 1.0}}},
        "parameters.lr",
        Severity.ERROR,
        ("disallowed type with grid search",),
    ),
    (
        "grid-probabilities",
        {"method": "grid", "parameters": {"o": {"values": [1, 2], "probabilities": [0.5, 0.5]}}},
        "parameters.o",
        Severity.ERROR,
        ("disallowed type with grid search",),
    ),
    (
        "bayes-without-metric",
        {"method": "bayes", "parameters": GOOD_PARAMS},
        "metric",
        Severity.ERROR,
        ('Bayesian search requires "metric" section',),
    ),
    (
        "bayes-all-constant",
        {"method": "bayes", "metric": {"name": "loss"}, "parameters": {"a": {"value": 1}}},
        "parameters",
        Severity.ERROR,
        ("Need at least one searchable parameter",),
    ),
    (
        "bad-goal",
        {
            "method": "random",
            "parameters": GOOD_PARAMS,
            "metric": {"name": "loss", "goal": "maximise"},
        },
        "metric.goal",
        Severity.ERROR,
        ("'maximise' is not one of ['minimize', 'maximize']", "did you mean 'maximize'"),
    ),
    (
        "bad-impute",
        {
            "method": "random",
            "parameters": GOOD_PARAMS,
            "metric": {"name": "loss", "impute": "mean"},
        },
        "metric.impute",
        Severity.ERROR,
        ("'mean' is not one of",),
    ),
    (
        "metric-without-name",
        {"method": "random", "parameters": GOOD_PARAMS, "metric": {}},
        "metric.name",
        Severity.ERROR,
        ("is missing",),
    ),
    (
        "metric-not-mapping",
        {"method": "random", "parameters": GOOD_PARAMS, "metric": "loss"},
        "metric",
        Severity.ERROR,
        ("expected a mapping",),
    ),
    (
        "target-not-number",
        {
            "method": "random",
            "parameters": GOOD_PARAMS,
            "metric": {"name": "loss", "target": "low"},
        },
        "metric.target",
        Severity.ERROR,
        ("is not a number",),
    ),
    (
        "early-terminate-without-metric",
        {
            "method": "random",
            "parameters": GOOD_PARAMS,
            "early_terminate": {"type": "hyperband", "min_iter": 3},
        },
        "early_terminate",
        Severity.ERROR,
        ('Hyperband stopping requires "metric" section',),
    ),
    (
        "early-terminate-unknown-type",
        {
            "method": "random",
            "parameters": GOOD_PARAMS,
            "metric": {"name": "loss"},
            "early_terminate": {"type": "hyperbnd", "min_iter": 3},
        },
        "early_terminate.type",
        Severity.ERROR,
        ("did you mean 'hyperband'",),
    ),
    (
        "run-cap-zero",
        {"method": "random", "parameters": GOOD_PARAMS, "run_cap": 0},
        "run_cap",
        Severity.ERROR,
        ("0 is less than or equal to the minimum of 0",),
    ),
    (
        "run-cap-float",
        {"method": "random", "parameters": GOOD_PARAMS, "run_cap": 2.5},
        "run_cap",
        Severity.ERROR,
        ("is not of type 'integer'",),
    ),
    (
        "metrics-unsupported",
        {"method": "random", "parameters": GOOD_PARAMS, "metrics": []},
        "metrics",
        Severity.ERROR,
        ("not supported yet",),
    ),
    (
        "scheduler-unsupported",
        {"method": "random", "parameters": GOOD_PARAMS, "scheduler": {"engine": "optuna"}},
        "scheduler",
        Severity.ERROR,
        ("not supported yet",),
    ),
    (
        "seed-not-int",
        {"method": "random", "parameters": GOOD_PARAMS, "seed": "x"},
        "seed",
        Severity.ERROR,
        ("not an integer",),
    ),
    (
        "bad-parameter-name",
        {"method": "random", "parameters": {"1bad": {"value": 1}}},
        "parameters.1bad",
        Severity.WARNING,
        ("'1bad' does not match '^^[A-Za-z_][A-Za-z0-9_.-]*$'",),
    ),
    (
        "yaml-boolean-parameter-name",  # `off:` in a YAML file
        {"method": "random", "parameters": {False: {"value": 1}}},
        "parameters.False",
        Severity.WARNING,
        ("YAML read this name as a boolean: quote it, e.g. 'off':",),
    ),
    (
        "unknown-top-level-key",
        {"method": "random", "parameters": GOOD_PARAMS, "foo": 1},
        "foo",
        Severity.WARNING,
        ("Additional properties are not allowed ('foo' was unexpected)",),
    ),
    (
        "deprecated-log-uniform",
        {
            "method": "random",
            "parameters": {"lr": {"distribution": "log_uniform", "min": -5, "max": 0}},
        },
        "parameters.lr",
        Severity.WARNING,
        ("lr uses log_uniform, where min/max specify base-e exponents. Use log_uniform_values",),
    ),
    (
        "q-uniform-min-off-grid",
        {
            "method": "random",
            "parameters": {"x": {"distribution": "q_uniform", "min": 1, "max": 10, "q": 3}},
        },
        "parameters.x",
        Severity.WARNING,
        ("not a multiple of q",),
    ),
    (
        "command-not-list",
        {"method": "random", "parameters": GOOD_PARAMS, "command": "python train.py"},
        "command",
        Severity.WARNING,
        ("is not of type 'array'",),
    ),
    (
        "command-inline-macro",
        {
            "method": "random",
            "parameters": GOOD_PARAMS,
            "command": ["python", "train.py", "--lr=${lr}"],
        },
        "command[2]",
        Severity.WARNING,
        ("passed to the program literally",),
    ),
    (
        "command-unknown-macro",
        {"method": "random", "parameters": GOOD_PARAMS, "command": ["python", "train.py", "${lr}"]},
        "command[2]",
        Severity.WARNING,
        ("expands to nothing",),
    ),
    (
        "metric-unknown-key",
        {
            "method": "random",
            "parameters": GOOD_PARAMS,
            "metric": {"name": "loss", "gaol": "minimize"},
        },
        "metric.gaol",
        Severity.WARNING,
        ("'gaol' was unexpected", "did you mean 'goal'"),
    ),
    (
        "name-not-string",
        {"method": "random", "parameters": GOOD_PARAMS, "name": 5},
        "name",
        Severity.WARNING,
        ("is not of type 'string'",),
    ),
    (
        "controller-bad",
        {"method": "random", "parameters": GOOD_PARAMS, "controller": {"type": "remote"}},
        "controller",
        Severity.WARNING,
        ("expected {type: local}",),
    ),
    (
        "numeric-string-value",
        {"method": "random", "parameters": {"lr": {"values": ["1e-5"]}}},
        "parameters.lr.values",
        Severity.WARNING,
        ("YAML 1.1 reads exponents without a dot",),
    ),
]


@pytest.mark.parametrize(
    ("config", "path", "severity", "phrases"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_invalid_config_is_reported_with_its_key_path(
    config: dict[str, Any], path: str, severity: Severity, phrases: tuple[str, ...]
) -> None:
    issue = only(issues_of(config), path)
    assert issue.severity is severity
    for phrase in phrases:
        assert phrase in issue.message


def test_all_issues_are_collected_not_just_the_first() -> None:
    issues = issues_of(
        {
            "method": "random",
            "parameters": {"a": {"min": 2, "max": 1}, "b": {"values": []}, "2c": {"value": 1}},
            "metric": {"name": "loss", "goal": "up"},
            "extra": True,
        }
    )
    assert {i.path for i in issues} == {
        "parameters.a",
        "parameters.b.values",
        "parameters.2c",
        "metric.goal",
        "extra",
    }


def test_warnings_do_not_block_and_strict_makes_them_errors() -> None:
    config = {"method": "random", "parameters": GOOD_PARAMS, "foo": 1}
    assert engine.next_runs(config, [], seed=0)
    strict = issues_of(config, strict=True)
    assert [i.severity for i in strict] == [Severity.ERROR]
    with pytest.raises(ConfigError, match="foo"):
        engine.parse(config, strict=True)


def test_local_controller_makes_every_violation_an_error() -> None:
    # spec §2.5 #5
    config = {
        "method": "random",
        "parameters": GOOD_PARAMS,
        "foo": 1,
        "controller": {"type": "local"},
    }
    assert [i.severity for i in issues_of(config)] == [Severity.ERROR]


def test_config_error_carries_every_issue() -> None:
    with pytest.raises(ConfigError) as caught:
        engine.next_runs(
            {"method": "grid", "parameters": {"a": {"min": 0.0, "max": 1.0}, "b": {"values": []}}},
            [],
        )
    assert {i.path for i in caught.value.issues} == {"parameters.b.values"}
    assert "parameters.b.values" in str(caught.value)


def test_the_top_level_must_be_a_mapping() -> None:
    issue = only(issues_of(lambda: [1, 2]), "")  # type: ignore[arg-type,return-value]
    assert "must return a dict" in issue.message


def test_yaml_dates_are_refused_with_the_fix() -> None:
    import datetime

    config = {"method": "random", "parameters": {"d": {"value": datetime.date(2024, 1, 2)}}}
    issue = only(issues_of(config), "parameters.d.value")
    assert "quote it ('2024-01-02')" in issue.message


class TestFiles:
    def test_yaml_syntax_error_gives_line_and_column(self, tmp_path: Path) -> None:
        path = tmp_path / "sweep.yaml"
        path.write_text("method: grid\nparameters:\n  lr: {values: [1, 2}\n")
        (issue,) = issues_of(path)
        assert issue.message.startswith("Error in configuration file: line 3, column ")

    def test_json_syntax_error_gives_line_and_column(self, tmp_path: Path) -> None:
        path = tmp_path / "sweep.json"
        path.write_text('{"method": "grid",\n "parameters": }')
        (issue,) = issues_of(path)
        assert "line 2, column 16" in issue.message

    def test_missing_file(self, tmp_path: Path) -> None:
        (issue,) = issues_of(tmp_path / "nope.yaml")
        assert issue.message.startswith("Couldn't open sweep file: ")

    def test_empty_file(self, tmp_path: Path) -> None:
        path = tmp_path / "sweep.yaml"
        path.write_text("# nothing\n")
        (issue,) = issues_of(path)
        assert issue.message.startswith("Configuration file is empty")

    def test_top_level_list(self, tmp_path: Path) -> None:
        path = tmp_path / "sweep.yaml"
        path.write_text("- method: grid\n")
        (issue,) = issues_of(path)
        assert "must be a mapping" in issue.message

    def test_yaml_1_1_semantics(self, tmp_path: Path) -> None:
        # spec §2.1: 1e-5 is a string, 1.0e-5 a float, yes a boolean, 010 octal
        path = tmp_path / "sweep.yaml"
        path.write_text(
            "method: random\nparameters:\n"
            "  a: {values: [1e-5, 1.0e-5, yes, 010]}\n"
            "  lr: {distribution: log_uniform_values, min: 1e-5, max: 0.1}\n"
        )
        issues = issues_of(path)
        lr = only(issues, "parameters.lr.min")
        assert lr.is_error
        assert "'1e-5' is a string" in lr.message
        assert "write 1.0e-5" in lr.message
        warning = only(issues, "parameters.a.values")
        assert not warning.is_error
        path.write_text("method: random\nparameters:\n  a: {values: [1e-5, 1.0e-5, yes, 010]}\n")
        (suggestion,) = engine.next_runs(path, [], seed=0)
        assert suggestion.params["a"] in ("1e-5", 1e-5, True, 8)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("1e-5", "write 1.0e-5 or !!float 1e-5"),
        ("3E6", "write 3.0e6"),
        ("0.9", "write 0.9 without quotes"),
        ("008", None),
        ("adam", None),
    ],
)
def test_numbers_loaded_as_text_get_the_right_fix(text: str, hint: str | None) -> None:
    config = {"method": "random", "parameters": {"x": {"values": [text]}}}
    issues = issues_of(config)
    if hint is None:
        assert issues == []
    else:
        assert hint in only(issues, "parameters.x.values").message
