"""ASHA early termination (hypersweep extension), on hand-computed cases."""

from __future__ import annotations

import random
from typing import Any

import pytest

from hypersweep import engine
from hypersweep.config import Severity, SweepConfig, parse_config
from hypersweep.domain import Run, RunState
from hypersweep.errors import ConfigError
from hypersweep.stopping import STOPPING_RULES
from hypersweep.stopping.asha import Asha, rungs


def make_config(goal: str = "minimize", **early: Any) -> SweepConfig:
    raw = {
        "method": "random",
        "parameters": {"x": {"value": 1}},
        "metric": {"name": "loss", "goal": goal},
        "early_terminate": {"type": "asha", **early},
    }
    config, issues = parse_config(raw)
    assert config is not None, [str(issue) for issue in issues]
    return config


def make_run(name: str, state: str | RunState, *values: Any) -> Run:
    return Run(name, RunState(state), {}, [{"loss": value} for value in values])


def stopped(config: SweepConfig, runs: list[Run]) -> list[str]:
    return [order.run for order in Asha().runs_to_stop(config, runs)]


def test_registered() -> None:
    assert STOPPING_RULES["asha"] is Asha


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param((1, 3, None, 100), [1, 3, 9, 27, 81], id="eta3"),
        pytest.param((2, 2, None, 16), [2, 4, 8, 16], id="up-to-longest"),
        pytest.param((1, 3, 27, 100), [1, 3, 9], id="below-max_iter"),
        pytest.param((1, 1.5, None, 10), [1, 2, 3, 5, 7], id="duplicates-dropped"),
        pytest.param((5, 3, None, 4), [], id="none-reached"),
    ],
)
def test_rungs(args: tuple[int, float, int | None, int], expected: list[int]) -> None:
    assert rungs(*args) == expected


def test_not_in_the_top_third_is_stopped() -> None:
    # "d" and its peers at rung 1: [1, 2, 3, 4]: max(1, floor(4 / 3)) = 1 go on, threshold 1.
    runs = [
        make_run("a", "finished", 1),
        make_run("b", "finished", 2),
        make_run("c", "crashed", 3),
        make_run("d", "running", 4),
        make_run("e", "running", 1),  # ties the threshold: kept
    ]
    orders = Asha().runs_to_stop(make_config(min_iter=1), runs)
    assert [order.run for order in orders] == ["d"]
    assert orders[0].reason == (
        "asha: at the rung at iteration 1 loss 4 is worse than the threshold 1, the last of the "
        "top 1 of the 4 runs that reached the rung by then (the top 1/3 go on)"
    )


def test_top_fraction_with_more_runs() -> None:
    # eta 2, rung 2. "r3": peers [1, 2, 3, 5, 6, 8], 3 go on, threshold 3 (its own value): kept.
    # "r4": [1, 2, 3, 4, 5, 6, 8], 3 go on, threshold 3. "r7": 8 peers, 4 go on, threshold 4.
    runs = [make_run(f"f{v}", "finished", 9, v) for v in (1, 2, 5, 6, 8)]
    runs += [make_run("r3", "running", 9, 3), make_run("r4", "running", 9, 4)]
    runs.append(make_run("r7", "running", 9, 7))
    orders = Asha().runs_to_stop(make_config(min_iter=2, eta=2), runs)
    assert [order.run for order in orders] == ["r4", "r7"]
    assert "loss 7 is worse than the threshold 4, the last of the top 4 of the 8 runs" in (
        orders[1].reason
    )


def test_a_run_kept_at_arrival_is_not_stopped_when_better_runs_reach_the_rung_later() -> None:
    # Li et al. 2020: "r" is judged against the runs that reached rung 1 before it ("a"); it
    # was the top 1 of 2 there, so the better runs created after it never stop it at rung 1.
    config = make_config(min_iter=1, eta=3)
    runs = [make_run("a", "finished", 5), make_run("r", "running", 2)]
    assert stopped(config, runs) == []
    runs += [make_run("b", "running", 1), make_run("c", "finished", 0.5)]
    runs += [make_run("d", "killed", 0.1), make_run("e", "running", 0.2)]
    # Re-judging "r" against all six would stop it (top 2 of 6: 0.1 and 0.2). "b" (peers 5, 2,
    # 1) leads its peers; "e" is 2nd of 6, inside the top 2.
    assert stopped(config, runs) == []
    runs.append(make_run("late", "running", 3))
    assert stopped(config, runs) == ["late"]


def test_a_run_past_a_rung_is_not_judged_there_again() -> None:
    # Rungs 1 and 3. "r" passed rung 1 (first there) and is now at rung 3, first there too; an
    # older run that reaches rung 1 only now, with a better value, does not stop "r".
    runs = [make_run("old", "running", 0), make_run("r", "running", 5, 5, 5, 5)]
    assert stopped(make_config(min_iter=1), runs) == []


def test_creation_order_stands_in_for_arrival_order() -> None:
    # The documented approximation: "old" was created before "young" but reaches rung 1 after
    # it. While "young" is still at rung 1, "old" counts as having arrived first and stops it.
    young_alone = [make_run("young", "running", 2)]
    assert stopped(make_config(min_iter=1), young_alone) == []
    runs = [make_run("old", "running", 1), make_run("young", "running", 2)]
    assert stopped(make_config(min_iter=1), runs) == ["young"]


@pytest.mark.parametrize("seed", range(40))
def test_runs_created_later_never_stop_a_run_kept_before(seed: int) -> None:
    # Whatever runs are appended after a prefix of the sweep (created later), a running run the
    # prefix kept, with its history unchanged, is kept: its peers are all in the prefix.
    rng = random.Random(seed)
    config = make_config(min_iter=1, eta=rng.choice([1.5, 2, 3]))
    runs = [
        make_run(
            f"r{index}",
            rng.choice([RunState.RUNNING] * 3 + [RunState.FINISHED, RunState.KILLED]),
            *[rng.randint(0, 9) for _ in range(rng.choice([0, 1, 2, 3, 5, 9]))],
        )
        for index in range(rng.randint(2, 16))
    ]
    full = set(stopped(config, runs))
    for cut in range(1, len(runs)):
        kept = {run.name for run in runs[:cut] if run.state is RunState.RUNNING and run.history}
        assert full.isdisjoint(kept - set(stopped(config, runs[:cut])))


def test_declares_that_it_reads_creation_order() -> None:
    assert Asha.reads_creation_order
    assert not any(
        rule.reads_creation_order for name, rule in STOPPING_RULES.items() if name != "asha"
    )


def test_orders_follow_creation_order_across_rungs() -> None:
    runs = [
        make_run("a", "finished", 1, 1, 1),
        make_run("slow", "running", 2, 2, 2),  # rung 3: 2nd of 2, stopped
        make_run("quick", "running", 2),  # rung 1: 3rd of 3, stopped
        make_run("best", "running", 0, 0, 0),
    ]
    assert stopped(make_config(min_iter=1), runs) == ["slow", "quick"]


def reference_asha(
    arrivals: list[tuple[int, int, float]], rung_levels: list[int], eta: float
) -> set[int]:
    """Li et al.'s rule by the book, with explicit state: replay (run, iteration, value) in
    arrival order; a run reaching a rung is judged once against the runs already there."""
    at_rung: dict[int, list[float]] = {rung: [] for rung in rung_levels}
    stopped_runs: set[int] = set()
    for run, iteration, value in arrivals:
        if run in stopped_runs or iteration not in at_rung:
            continue
        at_rung[iteration].append(value)
        ordered = sorted(at_rung[iteration])
        if value > ordered[max(1, int(len(ordered) / eta)) - 1]:
            stopped_runs.add(run)
    return stopped_runs


@pytest.mark.parametrize("seed", range(6))
def test_matches_the_stateful_algorithm_when_runs_arrive_in_creation_order(seed: int) -> None:
    # 3 workers, runs taken in creation order, one value per busy worker per tick in creation
    # order: every run reaches each rung in creation order, so the stateless rule, consulted
    # after every value, must stop exactly the runs the stateful algorithm stops, each right
    # after the value that reached the rung, and never a run it kept there.
    rng = random.Random(seed)
    eta, max_len, n_runs = 2.0, 12, 14
    config = make_config(min_iter=1, eta=eta, max_iter=max_len)
    curves = [[rng.random() for _ in range(max_len)] for _ in range(n_runs)]
    histories: list[list[float]] = []
    states: list[RunState] = []
    arrivals: list[tuple[int, int, float]] = []
    kept_at: dict[int, set[int]] = {}
    while len(histories) < n_runs or RunState.RUNNING in states:
        while states.count(RunState.RUNNING) < 3 and len(histories) < n_runs:
            histories.append([])
            states.append(RunState.RUNNING)
        for run in range(len(histories)):
            if states[run] is not RunState.RUNNING:
                continue
            value = curves[run][len(histories[run])]
            histories[run].append(value)
            arrivals.append((run, len(histories[run]), value))
            if len(histories[run]) == max_len:
                states[run] = RunState.FINISHED
                continue
            runs = [
                Run(str(i), states[i], {}, [{"loss": v} for v in history])
                for i, history in enumerate(histories)
            ]
            for order in Asha().runs_to_stop(config, runs):
                victim = int(order.run)
                rung = int(order.reason.split("iteration ")[1].split()[0])
                assert rung not in kept_at.get(victim, set()), order.reason
                assert len(histories[victim]) == rung, "stopped late, not at arrival"
                states[victim] = RunState.KILLED
            if states[run] is RunState.RUNNING and len(histories[run]) in rungs(1, eta, 12, 12):
                kept_at.setdefault(run, set()).add(len(histories[run]))
    killed = {run for run, state in enumerate(states) if state is RunState.KILLED}
    assert killed == reference_asha(arrivals, rungs(1, eta, max_len, max_len), eta)
    assert killed  # the case exercises stopping at all


def test_a_lone_run_at_a_rung_is_promoted() -> None:
    runs = [make_run("a", "running", 100, 100, 100)]
    assert stopped(make_config(min_iter=1), runs) == []


def test_two_runs_at_a_rung_keep_only_the_best() -> None:
    runs = [make_run("a", "running", 1), make_run("b", "running", 2)]
    assert stopped(make_config(min_iter=1, eta=3), runs) == ["b"]


def test_judged_at_the_highest_rung_reached() -> None:
    # Rungs 1, 3, 9. "r" has 5 values: judged at rung 3 on its 3rd value, not at rung 1.
    runs = [
        make_run("a", "finished", 5, 5, 1),
        make_run("b", "finished", 5, 5, 2),
        make_run("r", "running", 0, 0, 3, 0, 0),
    ]
    orders = Asha().runs_to_stop(make_config(min_iter=1), runs)
    assert [order.run for order in orders] == ["r"]
    assert "at the rung at iteration 3 loss 3" in orders[0].reason


def test_before_the_first_rung_nothing_happens() -> None:
    runs = [make_run("a", "finished", 1, 1, 1), make_run("r", "running", 9, 9)]
    assert stopped(make_config(min_iter=3), runs) == []


def test_no_rung_at_or_beyond_max_iter() -> None:
    # Rungs 1 and 3 only; at 10 values "r" is judged at rung 3, where it is best.
    runs = [
        make_run("a", "finished", *([5] * 10)),
        make_run("b", "finished", *([6] * 10)),
        make_run("r", "running", 9, 9, 1, 9, 9, 9, 9, 9, 9, 9),
    ]
    assert stopped(make_config(min_iter=1, max_iter=9), runs) == []
    assert stopped(make_config(min_iter=1), runs) == ["r"]  # rung 9 exists without max_iter


def test_non_running_runs_are_never_stopped() -> None:
    runs = [make_run("best", "finished", 1)]
    runs += [make_run(state, state, 9) for state in ("failed", "killed", "pending", "preempted")]
    assert stopped(make_config(min_iter=1), runs) == []


def test_maximize() -> None:
    runs = [
        make_run("a", "finished", 0.9),
        make_run("b", "running", 0.5),
        make_run("c", "running", 0.95),
    ]
    orders = Asha().runs_to_stop(make_config(goal="maximize", min_iter=1), runs)
    assert [order.run for order in orders] == ["b"]
    # "c" (0.95) came after "b" and does not judge it; "a" (0.9) does.
    assert "loss 0.5 is worse than the threshold 0.9, the last of the top 1 of the 2 runs" in (
        orders[0].reason
    )


def test_invalid_values_are_not_iterations() -> None:
    history: list[dict[str, Any]] = [{"loss": "x"}, {"loss": float("nan")}, {"loss": 7}]
    runs = [make_run("a", "finished", 1), Run("r", RunState.RUNNING, {}, history)]
    orders = Asha().runs_to_stop(make_config(min_iter=1), runs)
    assert "at the rung at iteration 1 loss 7" in orders[0].reason


def test_through_the_engine() -> None:
    raw = {
        "method": "random",
        "parameters": {"x": {"value": 1}},
        "metric": {"name": "loss"},
        "early_terminate": {"type": "asha", "min_iter": 1},
    }
    runs = [make_run("a", "finished", 1), make_run("b", "running", 2)]
    assert [order.run for order in engine.runs_to_stop(raw, runs)] == ["b"]


INVALID = [
    pytest.param({}, "early_terminate.min_iter", "asha needs min_iter", id="no-min_iter"),
    pytest.param({"min_iter": 0}, "early_terminate.min_iter", "minimum of 1", id="min_iter-0"),
    pytest.param({"min_iter": 1.0}, "early_terminate.min_iter", "min_iter: 1", id="min_iter-f"),
    pytest.param({"min_iter": 1, "eta": 1}, "early_terminate.eta", "greater than 1", id="eta-1"),
    pytest.param({"min_iter": 1, "max_iter": "9"}, "early_terminate.max_iter", "'9'", id="max-s"),
    pytest.param({"min_iter": 3, "max_iter": 3}, "early_terminate.max_iter", "no rung", id="max"),
]


@pytest.mark.parametrize(("early", "path", "phrase"), INVALID)
def test_validation_errors(early: dict[str, Any], path: str, phrase: str) -> None:
    config = make_config(**early)
    errors = [issue for issue in Asha().validate(config) if issue.is_error]
    assert [issue.path for issue in errors] == [path]
    assert phrase in errors[0].message
    with pytest.raises(ConfigError):
        Asha().runs_to_stop(config, [])


def test_unknown_key_is_a_warning() -> None:
    [issue] = Asha().validate(make_config(min_iter=1, strict=True))
    assert issue.severity is Severity.WARNING
    assert issue.path == "early_terminate.strict"
    assert "ignored" in issue.message


def test_valid_config_has_no_issues() -> None:
    assert Asha().validate(make_config(min_iter=1, eta=2, max_iter=81)) == []
