"""The agent's give-up rules (spec §7.6), on a fake clock."""

from __future__ import annotations

import pytest

from hypersweep.agent import FailureRules


def test_three_failures_in_the_first_minute_stop_the_agent() -> None:
    rules = FailureRules(started=0.0)
    assert rules.record(1, 1.0) is None
    assert rules.record(2, 2.0) is None
    reason = rules.record(1, 3.0)
    assert reason is not None
    assert "Detected 3 failed runs in the first 60 seconds" in reason
    assert "WANDB_AGENT_DISABLE_FLAPPING=true" in reason


def test_a_signal_is_not_a_failure() -> None:
    rules = FailureRules(started=0.0)
    for _ in range(10):
        assert rules.record(-15, 1.0) is None
    assert rules.failed == 0


def test_after_the_first_minute_five_failures_in_a_row_from_the_start_stop_it() -> None:
    rules = FailureRules(started=0.0)
    reasons = [rules.record(1, 100.0 + i) for i in range(5)]
    assert reasons[:4] == [None] * 4
    assert reasons[4] == "Detected 5 failed runs in a row, shutting down."


def test_failures_after_enough_successes_do_not_stop_it() -> None:
    rules = FailureRules(started=0.0)
    for i in range(10):
        assert rules.record(0, 100.0 + i) is None
    assert all(rules.record(1, 200.0 + i) is None for i in range(9))


def test_disabling_flapping_turns_off_only_the_first_rule() -> None:
    rules = FailureRules.from_env(0.0, {"WANDB_AGENT_DISABLE_FLAPPING": "true"})
    assert [rules.record(1, 1.0) for _ in range(4)] == [None] * 4
    assert rules.record(1, 1.0) == "Detected 5 failed runs in a row, shutting down."


def test_max_initial_failures_comes_from_the_environment() -> None:
    rules = FailureRules.from_env(
        0.0, {"WANDB_AGENT_MAX_INITIAL_FAILURES": "2", "WANDB_AGENT_DISABLE_FLAPPING": "1"}
    )
    assert rules.record(1, 1.0) is None
    assert rules.record(1, 2.0) == "Detected 2 failed runs in a row, shutting down."


def test_consecutive_failures_count_from_the_last_success() -> None:
    rules = FailureRules(started=0.0, max_consecutive=2)
    assert rules.record(1, 100.0) is None
    assert rules.record(0, 101.0) is None
    for i in range(8):
        assert rules.record(0, 102.0 + i) is None
    assert rules.record(1, 200.0) is None
    assert rules.record(1, 201.0) == "Detected 2 consecutive failed runs, shutting down."


def test_the_in_process_variant_needs_every_job_to_have_failed() -> None:
    rules = FailureRules.from_env(0.0, {"WANDB_AGENT_DISABLE_FLAPPING": "true"}, in_process=True)
    assert [rules.record(1, 1.0) for _ in range(5)] == [None] * 5
    assert rules.record(1, 1.0) == "Detected 6 failed runs in a row at start, shutting down."


@pytest.mark.parametrize(
    ("env", "consecutive", "message"),
    [
        ({"WANDB_AGENT_MAX_INITIAL_FAILURES": "five"}, None, "WANDB_AGENT_MAX_INITIAL_FAILURES"),
        ({}, 0, "max_consecutive_failed_runs=0"),
        ({}, True, "max_consecutive_failed_runs=True"),
    ],
)
def test_bad_knobs_name_themselves(env: dict[str, str], consecutive: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FailureRules.from_env(0.0, env, max_consecutive=consecutive)  # type: ignore[arg-type]
