"""Test problems and the adapters that run every comparator on them, for the benchmarks.

Each problem is a W&B-style ``parameters`` block plus an objective to minimise over the plain
parameter dict. Each optimiser is driven through the same ask/tell loop: ``ask(k)`` returns
``k`` parameter dicts, ``tell(params, value)`` reports a finished run.

Peers come from the ``bench`` extra: ``optuna`` (TPESampler; GPSampler with ``torch``),
``sweeps`` (W&B's engine) and ``scikit-learn`` (the real-model problem). A comparator whose
package is missing is skipped and named in the output.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hypersweep import engine
from hypersweep.engine import Run

Params = dict[str, Any]


@dataclass
class Problem:
    name: str
    parameters: dict[str, Any]
    objective: Callable[[Params], float]
    optimum: float | None = None


def _branin(p: Params) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann6(p: Params) -> float:
    x = np.array([p[f"x{i}"] for i in range(6)])
    inner = (_H6_A * (x - _H6_P) ** 2).sum(axis=1)
    return float(-(_H6_ALPHA * np.exp(-inner)).sum())


def _rosenbrock(p: Params) -> float:
    x = np.array([p[f"x{i}"] for i in range(5)])
    return float((100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())


def _ackley(p: Params) -> float:
    x = np.array([p[f"x{i}"] for i in range(10)])
    d = len(x)
    return float(
        -20 * math.exp(-0.2 * math.sqrt((x**2).sum() / d))
        - math.exp(np.cos(2 * math.pi * x).sum() / d)
        + 20
        + math.e
    )


def _mixed(p: Params) -> float:
    # a training-run-shaped response: a log-scale learning rate with an optimum that depends
    # on the optimiser, an integer depth, dropout, and a categorical activation
    best_lr = {"adam": -3.0, "sgd": -1.5, "rmsprop": -2.5}[p["optimizer"]]
    lr_term = (math.log10(p["lr"]) - best_lr) ** 2
    depth_term = 0.05 * (p["layers"] - 6) ** 2
    drop_term = 4.0 * (p["dropout"] - 0.3) ** 2
    act_term = {"relu": 0.0, "gelu": -0.1, "tanh": 0.4, "sigmoid": 0.9}[p["activation"]]
    opt_term = {"adam": 0.0, "sgd": 0.2, "rmsprop": 0.1}[p["optimizer"]]
    return lr_term + depth_term + drop_term + act_term + opt_term + 1.0


def _histgb(p: Params) -> float:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_score

    x, y = load_breast_cancer(return_X_y=True)
    model = HistGradientBoostingClassifier(
        learning_rate=p["learning_rate"],
        max_leaf_nodes=p["max_leaf_nodes"],
        min_samples_leaf=p["min_samples_leaf"],
        l2_regularization=p["l2_regularization"],
        max_features=p["max_features"],
        max_bins=p["max_bins"],
        max_iter=50,
        early_stopping=False,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_val_score(model, x, y, cv=3, scoring="neg_log_loss")
    return float(-scores.mean())


def _uniform(lo: float, hi: float) -> dict[str, Any]:
    return {"distribution": "uniform", "min": lo, "max": hi}


PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in [
        Problem("branin", {"x1": _uniform(-5, 10), "x2": _uniform(0, 15)}, _branin, 0.397887),
        Problem("hartmann6", {f"x{i}": _uniform(0, 1) for i in range(6)}, _hartmann6, -3.32237),
        Problem("rosenbrock5", {f"x{i}": _uniform(-5, 10) for i in range(5)}, _rosenbrock, 0.0),
        Problem("ackley10", {f"x{i}": _uniform(-32.768, 32.768) for i in range(10)}, _ackley, 0),
        Problem(
            "mixed",
            {
                "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1.0},
                "layers": {"distribution": "int_uniform", "min": 1, "max": 12},
                "dropout": _uniform(0.0, 0.8),
                "optimizer": {"values": ["adam", "sgd", "rmsprop"]},
                "activation": {"values": ["relu", "gelu", "tanh", "sigmoid"]},
            },
            _mixed,
            0.9,
        ),
        Problem(
            "histgb",
            {
                "learning_rate": {"distribution": "log_uniform_values", "min": 1e-3, "max": 1.0},
                "max_leaf_nodes": {"distribution": "int_uniform", "min": 2, "max": 64},
                "min_samples_leaf": {"distribution": "int_uniform", "min": 1, "max": 60},
                "l2_regularization": {
                    "distribution": "log_uniform_values",
                    "min": 1e-6,
                    "max": 10.0,
                },
                "max_features": _uniform(0.2, 1.0),
                "max_bins": {"values": [15, 63, 255]},
            },
            _histgb,
        ),
    ]
}


# ---- optimisers ----------------------------------------------------------------------------


@dataclass
class Optimizer:
    """An ask/tell loop around one comparator."""

    ask: Callable[[int], list[Params]]
    tell: Callable[[Params, float], None]
    state: dict[str, Any] = field(default_factory=dict)


def hypersweep_optimizer(method: str, parameters: dict[str, Any], seed: int) -> Optimizer:
    config = {"method": method, "metric": {"name": "loss"}, "parameters": parameters, "seed": seed}
    parsed = engine.parse(config)
    runs: list[Run] = []
    asked: dict[int, int] = {}

    def ask(k: int) -> list[Params]:
        rng = np.random.default_rng([seed, len(runs)])
        out = [s.params for s in engine.next_runs(parsed, runs, k, seed=rng)]
        for params in out:
            asked[id(params)] = len(runs)
            runs.append(Run(f"r{len(runs)}", "running", params))
        return out

    def tell(params: Params, value: float) -> None:
        i = asked.pop(id(params))
        runs[i] = Run(runs[i].name, "finished", params, [{"loss": value}])

    return Optimizer(ask, tell)


def optuna_optimizer(sampler_name: str, parameters: dict[str, Any], seed: int) -> Optimizer:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if sampler_name == "tpe":
        sampler: Any = optuna.samplers.TPESampler(seed=seed)
    else:
        sampler = optuna.samplers.GPSampler(seed=seed)
    study = optuna.create_study(sampler=sampler)
    distributions = {name: _optuna_distribution(spec) for name, spec in parameters.items()}
    trials: dict[int, Any] = {}

    def ask(k: int) -> list[Params]:
        out = []
        for _ in range(k):
            trial = study.ask(distributions)
            params = dict(trial.params)
            trials[id(params)] = trial
            out.append(params)
        return out

    def tell(params: Params, value: float) -> None:
        study.tell(trials.pop(id(params)), value)

    return Optimizer(ask, tell)


def _optuna_distribution(spec: dict[str, Any]) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    kind = spec.get("distribution", "categorical" if "values" in spec else "uniform")
    if kind == "categorical":
        return CategoricalDistribution(spec["values"])
    if kind == "int_uniform":
        return IntDistribution(spec["min"], spec["max"])
    if kind == "log_uniform_values":
        return FloatDistribution(spec["min"], spec["max"], log=True)
    return FloatDistribution(spec["min"], spec["max"])


def wandb_optimizer(method: str, parameters: dict[str, Any], seed: int) -> Optimizer:
    import random

    import sweeps

    config = {"method": method, "metric": {"name": "loss", "goal": "minimize"}}
    config["parameters"] = parameters
    runs: list[Any] = []
    asked: dict[int, int] = {}
    # W&B's engine draws from numpy's and Python's global generators
    np.random.seed(seed)
    random.seed(seed)

    def ask(k: int) -> list[Params]:
        out = []
        suggestions = sweeps.next_runs(config, runs, validate=False, n=k)
        for s in suggestions:
            params = {name: wrapped["value"] for name, wrapped in s.config.items()}
            asked[id(params)] = len(runs)
            runs.append(sweeps.SweepRun(name=f"r{len(runs)}", state="running", config=s.config))
            out.append(params)
        return out

    def tell(params: Params, value: float) -> None:
        i = asked.pop(id(params))
        old = runs[i]
        runs[i] = sweeps.SweepRun(
            name=old.name,
            state="finished",
            config=old.config,
            history=[{"loss": value}],
            summary_metrics={"loss": value},
        )

    return Optimizer(ask, tell)


#: comparator name -> (factory, package it needs)
OPTIMIZERS: dict[str, tuple[Callable[[dict[str, Any], int], Optimizer], str]] = {
    "hypersweep random": (lambda p, s: hypersweep_optimizer("random", p, s), "hypersweep"),
    "hypersweep sobol": (lambda p, s: hypersweep_optimizer("sobol", p, s), "hypersweep"),
    "hypersweep tpe": (lambda p, s: hypersweep_optimizer("tpe", p, s), "hypersweep"),
    "hypersweep bayes": (lambda p, s: hypersweep_optimizer("bayes", p, s), "hypersweep"),
    "Optuna TPE": (lambda p, s: optuna_optimizer("tpe", p, s), "optuna"),
    "Optuna GP": (lambda p, s: optuna_optimizer("gp", p, s), "torch"),
    "W&B random": (lambda p, s: wandb_optimizer("random", p, s), "sweeps"),
    "W&B bayes": (lambda p, s: wandb_optimizer("bayes", p, s), "sweeps"),
}


def available(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None
