"""Time one suggestion with 10 to 20,000 finished runs on a 6-D mixed space, every method.

Methods: hypersweep random, sobol, tpe, bayes (``engine.next_runs``); Optuna TPE and GP
(``study.ask`` on an in-memory study); W&B's engine random and bayes (``sweeps.next_run``).
Peers come from the ``bench`` extra (GP with ``torch``); missing ones are skipped.

Run by hand:

    .venv/bin/python benchmarks/suggest_latency.py [--sizes 10,100,1000,5000,20000]
        [--repeat 5] [--max-gp-runs 1000]

BLAS is pinned to one thread (before numpy loads) for every method alike: the matrices here are
small, and OpenBLAS' thread hand-offs make them slower, by 10-100x on a busy machine.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _problems import _optuna_distribution, available  # noqa: E402

from hypersweep import engine  # noqa: E402
from hypersweep.engine import Run  # noqa: E402

SPACE: dict[str, Any] = {
    "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
    "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.6},
    "momentum": {"distribution": "uniform", "min": 0.5, "max": 0.99},
    "layers": {"distribution": "int_uniform", "min": 1, "max": 12},
    "optimizer": {"values": ["adam", "sgd", "rmsprop"]},
    "activation": {"values": ["relu", "gelu", "tanh", "sigmoid"]},
}


def loss(p: dict[str, Any]) -> float:
    return (
        (math.log10(p["lr"]) + 3) ** 2
        + (p["dropout"] - 0.2) ** 2
        + 0.1 * abs(p["layers"] - 4)
        + (0.3 if p["optimizer"] == "sgd" else 0.0)
        + (0.2 if p["activation"] == "tanh" else 0.0)
        + 0.1 * p["momentum"]
    )


def history(n: int, seed: int = 0) -> list[dict[str, Any]]:
    config = engine.parse({"method": "random", "parameters": SPACE})
    rng = np.random.default_rng(seed)
    return [config.space.sample(rng) for _ in range(n)]


def hypersweep_timer(method: str, points: list[dict[str, Any]]) -> Callable[[int], float]:
    config = engine.parse({"method": method, "metric": {"name": "loss"}, "parameters": SPACE})
    runs = [
        Run(f"r{i}", "finished", p, history=[{"loss": loss(p)}], summary={"loss": loss(p)})
        for i, p in enumerate(points)
    ]

    def once(i: int) -> float:
        start = time.perf_counter()
        engine.next_runs(config, runs, 1, seed=i)
        return time.perf_counter() - start

    return once


def optuna_timer(kind: str, points: list[dict[str, Any]]) -> Callable[[int], float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    distributions = {k: _optuna_distribution(v) for k, v in SPACE.items()}
    sampler: Any = (
        optuna.samplers.TPESampler(seed=0) if kind == "tpe" else optuna.samplers.GPSampler(seed=0)
    )
    study = optuna.create_study(sampler=sampler)
    study.add_trials(
        [
            optuna.trial.create_trial(params=p, distributions=distributions, value=loss(p))
            for p in points
        ]
    )

    def once(i: int) -> float:
        start = time.perf_counter()
        trial = study.ask(distributions)
        elapsed = time.perf_counter() - start
        study.tell(trial, state=optuna.trial.TrialState.FAIL)  # keep the size fixed
        return elapsed

    return once


def wandb_timer(method: str, points: list[dict[str, Any]]) -> Callable[[int], float]:
    import sweeps

    config = {"method": method, "metric": {"name": "loss"}, "parameters": SPACE}
    runs = [
        sweeps.SweepRun(
            name=f"r{i}",
            state="finished",
            config={k: {"value": v} for k, v in p.items()},
            history=[{"loss": loss(p)}],
            summary_metrics={"loss": loss(p)},
        )
        for i, p in enumerate(points)
    ]

    def once(i: int) -> float:
        start = time.perf_counter()
        sweeps.next_run(config, runs)
        return time.perf_counter() - start

    return once


METHODS: dict[str, tuple[Callable[[list[dict[str, Any]]], Callable[[int], float]], str]] = {
    "hypersweep random": (lambda p: hypersweep_timer("random", p), "numpy"),
    "hypersweep sobol": (lambda p: hypersweep_timer("sobol", p), "numpy"),
    "hypersweep tpe": (lambda p: hypersweep_timer("tpe", p), "numpy"),
    "hypersweep bayes": (lambda p: hypersweep_timer("bayes", p), "numpy"),
    "Optuna TPE": (lambda p: optuna_timer("tpe", p), "optuna"),
    "Optuna GP": (lambda p: optuna_timer("gp", p), "torch"),
    "W&B random": (lambda p: wandb_timer("random", p), "sweeps"),
    "W&B bayes": (lambda p: wandb_timer("bayes", p), "sweeps"),
}


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.3g} ms" if ms < 1000 else f"{seconds:.3g} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,5000,20000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-gp-runs", type=int, default=1000)
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    methods = [m for m in args.methods.split(",") if m]
    skipped = [m for m in methods if not available(METHODS[m][1])]
    methods = [m for m in methods if m not in skipped]
    table: dict[str, list[float | None]] = {m: [] for m in methods}
    for size in sizes:
        points = history(size)
        for method in methods:
            if method == "Optuna GP" and size > args.max_gp_runs:
                table[method].append(None)
                continue
            once = METHODS[method][0](points)
            once(10_000)  # warm imports and caches
            times = [once(i) for i in range(args.repeat)]
            table[method].append(statistics.median(times))
            print(f"# {method} n={size}: {fmt(table[method][-1])}", file=sys.stderr, flush=True)
    print(f"Time for one suggestion, median of {args.repeat}, 6-D mixed space")
    print(
        f"({datetime.date.today()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, BLAS threads 1)\n"
    )
    print("| method | " + " | ".join(f"n={s:,}" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for method in methods:
        print(f"| {method} | " + " | ".join(fmt(t) for t in table[method]) + " |")
    if skipped:
        print(f"\nSkipped (package missing): {', '.join(skipped)}")
    print("\nCommand: .venv/bin/python benchmarks/suggest_latency.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
