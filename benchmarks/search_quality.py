"""Best value found after 20, 50 and 100 runs: hypersweep's methods against the peers.

For every problem (``_problems.PROBLEMS``) and comparator (``_problems.OPTIMIZERS``), runs
``--seeds`` independent sweeps of ``--budget`` runs and prints the median and interquartile
range of the best value found after each checkpoint, then the median rank of each comparator
at 50 runs across the problems. ``--batch 4`` asks for 4 suggestions at a time and reports them
all before asking again (parallel agents). Peers come from the ``bench`` extra; the Optuna GP
sampler with torch; missing ones are skipped.

Run by hand:

    .venv/bin/python benchmarks/search_quality.py [--seeds 10] [--budget 100] [--batch 1]
        [--problems branin,hartmann6,...] [--optimizers "hypersweep bayes,Optuna TPE"]

BLAS is pinned to one thread for every comparator alike (see suggest_latency.py).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _problems import OPTIMIZERS, PROBLEMS, Problem, available  # noqa: E402

CHECKPOINTS = (20, 50, 100)


def run_one(problem: Problem, optimizer: str, seed: int, budget: int, batch: int) -> list[float]:
    """The best value after each run of one sweep."""
    opt = OPTIMIZERS[optimizer][0](problem.parameters, seed)
    values: list[float] = []
    while len(values) < budget:
        asked = opt.ask(min(batch, budget - len(values)))
        results = [problem.objective(params) for params in asked]
        for params, value in zip(asked, results, strict=True):
            opt.tell(params, value)
        values.extend(results)
    return list(np.minimum.accumulate(values))


def fmt(values: list[float]) -> str:
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return f"{med:.4g} [{q1:.3g}, {q3:.3g}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    args = parser.parse_args()
    problems = [p for p in args.problems.split(",") if p]
    optimizers = [o for o in args.optimizers.split(",") if o]
    skipped = [o for o in optimizers if not available(OPTIMIZERS[o][1])]
    optimizers = [o for o in optimizers if o not in skipped]
    if "histgb" in problems and not available("sklearn"):
        problems.remove("histgb")
        skipped.append("histgb (needs scikit-learn)")
    checkpoints = [c for c in CHECKPOINTS if c <= args.budget]
    at50: dict[str, dict[str, float]] = {p: {} for p in problems}
    tables = []
    for name in problems:
        problem = PROBLEMS[name]
        rows = []
        for optimizer in optimizers:
            start = time.perf_counter()
            curves = [
                run_one(problem, optimizer, seed, args.budget, args.batch)
                for seed in range(args.seeds)
            ]
            elapsed = time.perf_counter() - start
            cells = [fmt([c[k - 1] for c in curves]) for k in checkpoints]
            rows.append(f"| {optimizer} | " + " | ".join(cells) + " |")
            mid = 50 if args.budget >= 50 else checkpoints[-1]
            at50[name][optimizer] = float(np.median([c[mid - 1] for c in curves]))
            print(f"# {name} {optimizer}: {cells} ({elapsed:.0f} s)", file=sys.stderr, flush=True)
        optimum = f", optimum {problem.optimum:g}" if problem.optimum is not None else ""
        header = "| comparator | " + " | ".join(f"@{k}" for k in checkpoints) + " |"
        tables.append(
            f"**{name}**{optimum} (minimised; median [IQR] of {args.seeds} seeds)\n\n"
            + header
            + "\n|---|"
            + "---|" * len(checkpoints)
            + "\n"
            + "\n".join(rows)
        )
    print(
        f"Best value found, batch size {args.batch} "
        f"({datetime.date.today()}, {os.cpu_count()} CPUs, BLAS threads 1)\n"
    )
    print("\n\n".join(tables))
    # median rank across the suite at the middle checkpoint (1 = best; ties share the mean)
    ranks: dict[str, list[float]] = {o: [] for o in optimizers}
    for values in at50.values():
        order = sorted(values.values())
        for optimizer, v in values.items():
            positions = [i + 1 for i, w in enumerate(order) if w == v]
            ranks[optimizer].append(float(np.mean(positions)))
    print("\n| comparator | median rank @50 | ranks per problem |\n|---|---|---|")
    for optimizer in sorted(optimizers, key=lambda o: float(np.median(ranks[o]))):
        per = ", ".join(f"{r:g}" for r in ranks[optimizer])
        print(f"| {optimizer} | {float(np.median(ranks[optimizer])):g} | {per} |")
    if skipped:
        print(f"\nSkipped (package missing): {', '.join(skipped)}")
    print("\nCommand: .venv/bin/python benchmarks/search_quality.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
