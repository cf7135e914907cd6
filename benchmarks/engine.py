"""Time ``engine.next_runs`` for grid and random with 10 to 10,000 prior runs.

Grid dedup must stay linear in the number of runs (a hash set, not pairwise comparison): the
time per prior run should stay flat as the sweep grows. Run by hand:

    .venv/bin/python benchmarks/engine.py [--repeat 5]

With ``sweeps`` (W&B's engine, ``pip install sweeps``) installed, its grid and random search
are timed in the same run for comparison.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from hypersweep import engine
from hypersweep.engine import Run

SIZES = (10, 100, 1_000, 10_000)

# A 25,000-point grid so that 10,000 prior runs still leave points to suggest.
GRID: dict[str, Any] = {
    "method": "grid",
    "parameters": {
        "lr": {"values": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]},
        "batch_size": {"values": [8, 16, 32, 64, 128]},
        "layers": {"min": 1, "max": 25},
        "dropout": {"distribution": "q_uniform", "min": 0.0, "max": 0.5, "q": 0.05},
        "optimizer": {"parameters": {"name": {"values": ["adam", "sgd"]}}},
        "epochs": {"value": 10},
    },
}
RANDOM: dict[str, Any] = {
    "method": "random",
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
        "batch_size": {"values": [16, 32, 64, 128]},
        "layers": {"min": 1, "max": 10},
        "dropout": {"min": 0.0, "max": 0.5},
        "optimizer": {"parameters": {"name": {"values": ["adam", "sgd"]}}},
        "epochs": {"value": 10},
    },
}


def grid_runs(n: int) -> list[Run]:
    runs: list[Run] = []
    while len(runs) < n:
        batch = engine.next_runs(GRID, runs, n=min(500, n - len(runs)))
        if not batch:
            raise SystemExit(f"the benchmark grid has fewer than {n} points")
        runs.extend(Run(f"r{len(runs) + i}", "finished", s.params) for i, s in enumerate(batch))
    return runs


def random_runs(n: int) -> list[Run]:
    batch = engine.next_runs(RANDOM, [], n=n, seed=0)
    return [Run(f"r{i}", "finished", s.params) for i, s in enumerate(batch)]


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def wandb_engine(method: str) -> Callable[[list[Run]], Callable[[], object]] | None:
    try:
        import sweeps  # type: ignore[import-not-found]
    except ImportError:
        return None

    config = GRID if method == "grid" else RANDOM

    def prepare(runs: list[Run]) -> Callable[[], object]:
        wrapped = [
            sweeps.SweepRun(
                name=r.name,
                state=sweeps.RunState.finished,
                config={k: {"value": v} for k, v in r.params.items()},
            )
            for r in runs
        ]
        return lambda: sweeps.next_run(config, wrapped, validate=False)

    return prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = []
    peers = {m: wandb_engine(m) for m in ("grid", "random")}
    for size in SIZES:
        for method, make, config in (("grid", grid_runs, GRID), ("random", random_runs, RANDOM)):
            runs = make(size)
            parsed = engine.parse(config)
            ours = median_ms(partial(engine.next_runs, parsed, runs, n=1), args.repeat)
            peer = peers[method]
            theirs = median_ms(peer(runs), args.repeat) if peer else float("nan")
            rows.append((method, size, ours, ours * 1000 / size, theirs))
    print(
        f"`.venv/bin/python benchmarks/engine.py --repeat {args.repeat}`, {datetime.date.today()}"
    )
    print()
    print(
        "| method | prior runs | hypersweep ms | µs per prior run | W&B sweeps ms "
        "| W&B time / ours |"
    )
    print("|---|---|---|---|---|---|")
    for method, size, ours, per_run, theirs in rows:
        ratio = f"{theirs / ours:.2f}" if theirs == theirs else "n/a"
        peer = f"{theirs:.2f}" if theirs == theirs else "not installed"
        print(f"| {method} | {size:,} | {ours:.2f} | {per_run:.1f} | {peer} | {ratio} |")


if __name__ == "__main__":
    main()
