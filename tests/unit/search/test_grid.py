"""Grid search: W&B's enumeration order, expansion and dedup (spec §4.2)."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hypersweep import engine
from hypersweep.engine import Run


def all_points(config: dict[str, Any], runs: list[Run] | None = None) -> list[dict[str, Any]]:
    runs = list(runs or [])
    out = []
    while suggestions := engine.next_runs(config, runs, n=3):
        for s in suggestions:
            out.append(s.params)
            runs.append(Run(f"r{len(runs)}", "running", s.params))
    return out


def test_odometer_order_with_constants_and_int_ranges() -> None:
    # spec §4.2 #3, the worked example
    config = {
        "method": "grid",
        "parameters": {
            "b": {"values": ["x", "y"]},
            "a": {"values": [1, 2, 3]},
            "c": {"value": "const"},
            "d": {"min": 1, "max": 2},
        },
    }
    points = all_points(config)
    assert [(p["a"], p["b"], p["d"]) for p in points] == [
        (a, b, d) for a in (1, 2, 3) for b in ("x", "y") for d in (1, 2)
    ]
    assert all(p["c"] == "const" for p in points)
    assert list(points[0]) == ["a", "b", "c", "d"]


def test_q_uniform_grid_is_arange_excluding_max() -> None:
    config = {
        "method": "grid",
        "parameters": {"q": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25}},
    }
    assert [p["q"] for p in all_points(config)] == [0, 0.25, 0.5, 0.75]


def test_duplicate_values_collapse() -> None:
    config = {"method": "grid", "parameters": {"a": {"values": [1, 1, 2, 1.0]}}}
    assert [p["a"] for p in all_points(config)] == [1, 2]


def test_true_and_one_are_different_points() -> None:
    config = {"method": "grid", "parameters": {"a": {"values": [1, True, 0, False, None]}}}
    assert [p["a"] for p in all_points(config)] == [1, True, 0, False, None]


def test_runs_in_any_state_are_skipped_including_failed_and_prior() -> None:
    config = {"method": "grid", "parameters": {"a": {"values": [1, 2, 3, 4]}}}
    runs = [
        Run("f", "failed", {"a": 1}),
        Run("c", "crashed", {"a": 3.0}),  # an integral float is the int (spec §4.2 #4)
        Run("p", "pending", {"a": 4}),
    ]
    assert [p["a"] for p in all_points(config, runs)] == [2]


def test_run_missing_a_parameter_never_matches() -> None:
    config = {"method": "grid", "parameters": {"a": {"values": [1]}, "b": {"values": [2]}}}
    assert all_points(config, [Run("old", "finished", {"a": 1})]) == [{"a": 1, "b": 2}]


def test_exhausted_grid_returns_nothing() -> None:
    config = {"method": "grid", "parameters": {"a": {"values": [1]}}}
    assert engine.next_runs(config, [Run("r", "finished", {"a": 1})], n=5) == []
    assert len(engine.next_runs(config, [], n=5)) == 1


def test_nested_grid_progresses_and_finishes() -> None:
    # spec §4.2 #7: sweeps 0.2.0 repeated the first nested point forever
    config = {
        "method": "grid",
        "parameters": {
            "opt": {"parameters": {"name": {"values": ["adam", "sgd"]}, "lr": {"values": [1, 2]}}},
            "epochs": {"value": 3},
        },
    }
    points = all_points(config)
    assert points == [
        {"epochs": 3, "opt": {"lr": 1, "name": "adam"}},
        {"epochs": 3, "opt": {"lr": 1, "name": "sgd"}},
        {"epochs": 3, "opt": {"lr": 2, "name": "adam"}},
        {"epochs": 3, "opt": {"lr": 2, "name": "sgd"}},
    ]


def test_dict_values_ignore_keys_injected_at_run_time() -> None:
    config = {"method": "grid", "parameters": {"o": {"values": [{"n": 1}, {"n": 2}]}}}
    runs = [Run("r", "finished", {"o": {"n": 1, "injected": True}})]
    assert [p["o"] for p in all_points(config, runs)] == [{"n": 2}]


def test_canonical_order_is_depth_first_with_sorted_keys() -> None:
    # spec §3.5: {opt-b, opt: {z, a}, B} -> B, opt/a, opt/z, opt-b
    config = {
        "method": "grid",
        "parameters": {
            "opt-b": {"values": [0, 1]},
            "opt": {"parameters": {"z": {"values": [0, 1]}, "a": {"values": [0, 1]}}},
            "B": {"values": [0, 1]},
        },
    }
    parsed = engine.parse(config)
    assert [p.path for p in parsed.space] == [("B",), ("opt", "a"), ("opt", "z"), ("opt-b",)]
    second = engine.next_runs(config, [], n=2)[1].params
    assert second == {"B": 0, "opt-b": 1, "opt": {"a": 0, "z": 0}}


value_lists = st.lists(
    st.one_of(st.integers(-3, 3), st.booleans(), st.sampled_from(["a", "b"]), st.none()),
    min_size=1,
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(value_lists, min_size=1, max_size=3), st.data())
def test_grid_is_the_product_in_order_without_duplicates(
    lists: list[list[Any]], data: st.DataObject
) -> None:
    names = [f"p{i}" for i in range(len(lists))]
    config = {
        "method": "grid",
        "parameters": {n: {"values": v} for n, v in zip(names, lists, strict=True)},
    }
    distinct = []
    for values in lists:
        seen: list[Any] = []
        for v in values:
            if not any(v == s and type(v) is type(s) for s in seen):
                seen.append(v)
        distinct.append(seen)
    expected = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*distinct)]
    done = data.draw(st.sets(st.integers(0, len(expected) - 1)))
    runs = [Run(f"r{i}", "finished", expected[i]) for i in sorted(done)]
    points = all_points(config, runs)
    assert points == [p for i, p in enumerate(expected) if i not in done]
