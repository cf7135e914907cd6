"""``method: bayes``: W&B's configuration and observations, hypersweep's own model (spec §4.4).

One suggestion:

1. **Observe** (spec §4.4.2, §4.4.4; ``_observations``): each run's best-ever metric, imputed
   per ``metric.impute`` / ``impute_while_running``, negated when maximising; runs in flight
   are set aside.
2. **Warm up** with the sweep's scrambled Sobol' design (``_points``) while the sweep has
   fewer than ``N_INITIAL`` (3) runs (``N_INITIAL_CATEGORICAL``, 10, when a parameter is
   categorical), or while the observations carry no signal (fewer than
   two, or all equal). The point is indexed by the number of runs so far, so
   agents asking in turn get distinct, well spread points (W&B: the first 1-2 points are
   independent uniforms, spec §4.4.3 step 1, §14 Q15). Also, as ``phase: explore``, the first
   point of a request when the model has **stalled**: each of the 4 newest runs lies within
   0.001 of an older one. Expected improvement can keep refining a local minimum, even on the
   boundary, once its length scales say nothing better is near: on Branin (seed 11 of
   benchmarks/search_quality.py) runs 14 to 50 all went within 1e-4 of (10, 3.0), value 1.943,
   with the optimum (9.42, 2.48) 0.04 of the box away. A design point far off gives the model
   new data, and the next four runs are the model's again. On held-out seeds 100-119 (100-129
   for Hartmann-6) it never fired within 50 runs on Hartmann-6, Rosenbrock-5, Ackley-10 or the
   mixed space; on Branin it fired on 8 of 20 seeds, all already at the optimum to within
   3e-4.
3. **Encode** (``_encoding``): numeric leaves by their CDF, categoricals one-hot with one
   shared length scale per categorical (a Hamming distance; ``_gp.Tying``).
4. **Cap** (``_subset``): past ``CAP`` observations the GP sees the ``CAP // 3`` best and a
   farthest-point spread of the rest; the hyperparameters are fitted on ``FIT_CAP`` of them
   (half best, half spread). The cost of a suggestion is then bounded whatever the sweep's size;
   what grows is only reading the runs, linear in their number.
5. **Model** (``_warp``, ``_gp``): targets standardised and Yeo-Johnson transformed; a GP with a
   Matern-5/2 kernel, one length scale per feature, MAP hyperparameters.
6. **Fantasise** in-flight runs and earlier suggestions of the batch with the constant liar
   (Ginsbourger et al. 2010), the lie being the best value observed: they join the GP as if
   they had matched it, which collapses the uncertainty around them and keeps their
   neighbourhood promising, so a batch spreads along the best region instead of into the far
   corners. The kriging believer (the lie at the GP's own mean) sent the rest of a batch of 4
   to explore: on held-out seeds 100-119, batches of 4, 52 runs, the median best went from
   -3.06 to -3.31 on Hartmann-6 and from 18.5 to 16.7 on Ackley-10, Rosenbrock-5 and the mixed
   space about even (366 / 383, 0.9003 / 0.9001), Branin 0.3979 / 0.3980.
7. **Acquire**: log expected improvement (``_acquisition``) over 1,024 candidates (scrambled
   Sobol' points and perturbations of the five best points), the best four refined by L-BFGS-B
   alternating with exhaustive moves over each categorical (``_acquisition.local_search``);
   finalists snapped to valid values and scored again; a point already taken (observed, in
   flight or earlier in the batch) is skipped while another exists. An all-discrete space of up
   to 4,096 combinations is scored exhaustively.

   With points in flight, the fantasies collapse the acquisition near the best points and its
   maximum moves to the far corners of the cube, where the GP knows least: whole batches of 4
   went to Hartmann-6's flat region (value ~0) while the best was -1.5. So with k points in
   flight only one suggestion in k + 1 (by its index) searches the whole space; the others take
   only the perturbations of the best points as candidates and refine them within 0.1 of where
   they start (a trust region, as TuRBO's). On held-out seeds 100-119, batches of 4, against
   the constant liar alone: Hartmann-6 -3.307 -> -3.319, Ackley-10 16.7 -> 14.8, Rosenbrock-5
   383 -> 309. Without points in flight (one agent) nothing changes.
8. **Report** W&B's ``search_info`` keys in ``Suggestion.info`` (spec §4.4.3 step 10):
   ``predicted_value`` and ``predicted_value_std_dev`` in the optimiser's minimisation space
   (the negated metric when maximising), ``expected_improvement`` and ``success_probability``
   in standardised units, ``warnings``; plus ``phase`` and ``predicted_metric`` (ours).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import ndtr
from scipy.stats import qmc

from hypersweep.config import ConfigIssue, SweepConfig
from hypersweep.domain import Run
from hypersweep.search._acquisition import local_search, log_ei
from hypersweep.search._base import Searcher, Suggestion, model_requirements
from hypersweep.search._encoding import Encoder, feature_key
from hypersweep.search._gp import GaussianProcess, Tying, fit_hyperparameters
from hypersweep.search._observations import Observations, observe
from hypersweep.search._points import REPEAT_WARNINGS, DiscreteSpace, Taken, design_point
from hypersweep.search._subset import informative_subset
from hypersweep.search._types import Array
from hypersweep.search._warp import OutputWarp

__all__ = [
    "CAP",
    "FIT_CAP",
    "N_INITIAL",
    "N_INITIAL_CATEGORICAL",
    "STALLED_WARNING",
    "STALL_DISTANCE",
    "STALL_RUNS",
    "BayesSearch",
]

CAP = 256
FIT_CAP = 96
MAX_PENDING = 100
_N_SOBOL_LOG2 = 9  # 512 quasi-random candidates
_N_LOCAL = 512
_N_CENTRES = 5
_N_STARTS = 4
_N_FINALISTS = 32
_LOCAL_RADIUS = 0.1  # how far L-BFGS-B may move a local start, in unit-cube coordinates


#: Warm-up runs before the model, whatever the dimension. W&B starts its GP after 2 random
#: points (spec §4.4.3 step 1, §14 Q15); one more, from the design, is enough for a first fit,
#: and more delays the model: on Rosenbrock-5 and Ackley-10 a warm-up of leaves + 1 points left
#: the median best after 50 runs 3.4x and 5 % worse than 3 points did (8 seeds each, with an
#: earlier length-scale prior; benchmarks/search_quality.py).
N_INITIAL = 3

#: Warm-up runs in a space with a categorical parameter (Optuna's GPSampler also starts with
#: 10). Three design points see each category of a 3- or 4-way choice at most once, at one
#: setting of the other parameters; when the best value of a number depends on the category
#: (the learning rate on the optimiser), the model then concludes from that one bad point that
#: the category is bad and never returns to it. On the mixed space 4 of 10 seeds stopped at the
#: second-best optimiser after 50 runs with 3 warm-up points, 2 of 10 with 6, none with 10
#: (benchmarks/search_quality.py, 2026-11-28).
N_INITIAL_CATEGORICAL = 10

#: A stall (module doc, step 2): this many newest runs, each within this distance (of the
#: encoded unit cube) of an older run.
STALL_RUNS = 4
STALL_DISTANCE = 1e-3
STALLED_WARNING = (
    f"The last {STALL_RUNS} runs were each within {STALL_DISTANCE:g} of an earlier run (of the "
    "unit cube): this point comes from the quasi-random design instead of the model."
)


class BayesSearch(Searcher):
    """Gaussian-process Bayesian optimisation with W&B's observation semantics."""

    name = "bayes"
    reads_history = True  # the best value each run reached (spec §4.4.1)

    def validate(self, config: SweepConfig) -> list[ConfigIssue]:
        return model_requirements(config, "Bayesian", "bayes")

    def suggest(
        self,
        config: SweepConfig,
        runs: Sequence[Run],
        n: int,
        rng: np.random.Generator,
    ) -> list[Suggestion]:
        encoder = Encoder(config.space)
        if encoder.n_leaves == 0:
            return [Suggestion(encoder.params([]), {"phase": "constant"}) for _ in range(n)]
        obs = observe(config.metric, runs, encoder)
        warnings = _warnings(obs)
        taken = Taken(obs.x, obs.pending)
        n_initial = N_INITIAL_CATEGORICAL if encoder.has_categorical else N_INITIAL
        batch: list[Array] = []
        model: _Model | None = None
        out: list[Suggestion] = []
        for i in range(n):
            index = len(runs) + i
            if index < n_initial or not obs.has_signal:
                values, x, info = design_point(config, encoder, taken, index)
                info = {**info, "warnings": [*warnings, *info.get("warnings", [])]}
            elif i == 0 and _stalled(obs):
                values, x, info = design_point(config, encoder, taken, index, phase="explore")
                info = {**info, "warnings": [*warnings, STALLED_WARNING]}
            else:
                if model is None:
                    model = _Model(
                        obs, encoder, config.metric is not None and config.metric.maximize, rng
                    )
                pending = np.vstack([obs.pending, *batch]) if batch else obs.pending
                values, x, info = model.propose(pending, taken, rng, list(warnings), index)
            taken.add(x)
            batch.append(x[None, :])
            out.append(Suggestion(encoder.params(values), info))
        return out


def _stalled(obs: Observations) -> bool:
    """Whether each of the ``STALL_RUNS`` newest observations lies within ``STALL_DISTANCE`` of
    an older one (module doc, step 2)."""
    if len(obs.y) < STALL_RUNS + N_INITIAL:
        return False
    x = obs.x[np.argsort(obs.order, kind="stable")]
    for j in range(len(x) - STALL_RUNS, len(x)):
        if float(np.sqrt(((x[:j] - x[j]) ** 2).sum(1)).min()) > STALL_DISTANCE:
            return False
    return True


def _warnings(obs: Observations) -> list[str]:
    out = []
    if obs.n_logged == 0:
        out.append("Sweep has no valid samples of the metric.")
    elif not obs.has_signal:
        out.append(
            "The metric has the same value in every observed run (or only one run has it); "
            "the next points come from the quasi-random design."
        )
    if obs.n_unencodable:
        out.append(
            f"{obs.n_unencodable} run(s) have parameter values outside the current search "
            "space and were left out of the model."
        )
    return out


class _Model:
    """The GP fitted once per call, proposing points given the points in flight."""

    def __init__(
        self, obs: Observations, encoder: Encoder, maximize: bool, rng: np.random.Generator
    ) -> None:
        self.encoder = encoder
        self.maximize = maximize
        self.n_observations = len(obs.y)
        chosen = informative_subset(obs.x, obs.y, CAP, CAP // 3)
        x, y = obs.x[chosen], obs.y[chosen]
        self.warp = OutputWarp(y)
        z = self.warp.forward(y)
        fit = informative_subset(x, z, FIT_CAP, FIT_CAP // 2)
        self.categorical = np.array([leaf.categorical for leaf in encoder.leaves])
        # one length scale per parameter: a categorical's one-hot columns share theirs (_gp)
        one_hot = self.categorical[encoder.column_leaf]
        tying = Tying(encoder.column_leaf, np.where(one_hot, math.sqrt(2.0), 1.0))
        hyper = fit_hyperparameters(
            x[fit], z[fit], rng, optimise=2 if len(fit) <= 64 else 1, tying=tying
        )
        self.gp = GaussianProcess(x, z, hyper)
        self.best = float(z.min())
        self.centres = encoder.units(x[np.argsort(z, kind="stable")[:_N_CENTRES]])
        self.discrete = DiscreteSpace.build(encoder)
        self.one_hot_blocks = [leaf.columns for leaf in encoder.leaves if leaf.categorical]

    def propose(
        self,
        pending: Array,
        taken: Taken,
        rng: np.random.Generator,
        warnings: list[str],
        index: int = 0,
    ) -> tuple[list[Any], Array, dict[str, Any]]:
        gp = self.gp
        # With k points in flight, one suggestion in k + 1 (by the run's index, so parallel
        # agents asking in turn take the roles in turn) searches the whole space; the others
        # search near the best points (module doc, step 7).
        local = len(pending) > 0 and index % (len(pending) + 1) != 0
        pending = pending[-MAX_PENDING:]
        if len(pending):
            gp = gp.with_points(pending, np.full(len(pending), self.best))
        for depth, level in enumerate(taken.levels()):
            if self.discrete is not None:
                chosen = self._best_combination(gp, level)
            else:
                chosen = self._best_candidate(gp, level, rng, local=local)
            if chosen is not None:
                if depth:
                    warnings = [*warnings, REPEAT_WARNINGS[depth - 1]]
                values, x = chosen
                return values, x, self._info(gp, x, warnings, len(pending))
        # unreachable: the last level avoids nothing, so every candidate qualifies
        raise RuntimeError("bayes found no candidate point")

    def _best_combination(
        self, gp: GaussianProcess, taken: Taken
    ) -> tuple[list[Any], Array] | None:
        assert self.discrete is not None
        xs, indices = self.discrete.unseen(taken)
        if len(xs) == 0:
            return None
        score, _ = log_ei(*gp.predict(xs), self.best)
        i = int(np.argmax(score))
        return self.discrete.values(indices[i]), xs[i]

    def _best_candidate(
        self, gp: GaussianProcess, taken: Taken, rng: np.random.Generator, local: bool = False
    ) -> tuple[list[Any], Array] | None:
        units = _candidate_units(self.centres, self.categorical, rng)
        if local:
            units = units[2**_N_SOBOL_LOG2 :]
        candidates = self.encoder.features(units)
        score, _ = log_ei(*gp.predict(candidates), self.best)
        order = np.argsort(-score, kind="stable")
        starts = _distinct_rows(candidates[order], _N_STARTS)
        refined = local_search(
            gp,
            starts,
            self.encoder.numeric_columns,
            self.one_hot_blocks,
            self.best,
            radius=_LOCAL_RADIUS if local else 1.0,
        )
        # The refined starts and the best raw candidates first; further down the ranking
        # only when all of those are taken (a small, mostly explored discrete space).
        pools = [np.vstack([refined, candidates[order[:_N_FINALISTS]]])]
        pools += [candidates[order[i : i + 256]] for i in range(_N_FINALISTS, len(order), 256)]
        for pool in pools:
            xs = self.encoder.snap(pool)
            snapped_score, _ = log_ei(*gp.predict(xs), self.best)
            for j in np.argsort(-snapped_score, kind="stable"):
                if xs[j] not in taken:
                    return self.encoder.decode(xs[j]), xs[j]
        return None

    def _info(
        self, gp: GaussianProcess, x: Array, warnings: list[str], n_pending: int
    ) -> dict[str, Any]:
        mean, var = gp.predict(x[None, :])
        score, z = log_ei(mean, var, self.best)
        mu, sd = float(mean[0]), math.sqrt(float(var[0]))
        predicted = float(self.warp.inverse(np.array([mu]))[0])
        spread = self.warp.inverse(np.array([mu - sd, mu + sd]))
        values = {
            "predicted_value": predicted,
            "predicted_value_std_dev": float(abs(spread[1] - spread[0]) / 2.0),
            "expected_improvement": float(np.exp(score[0])),
            "log_expected_improvement": float(score[0]),
            "success_probability": float(ndtr(z[0])),
            "predicted_metric": -predicted if self.maximize else predicted,
        }
        return {
            "phase": "model",
            # the dashboard stores this as JSON, which has no NaN or infinity
            **{k: v if math.isfinite(v) else None for k, v in values.items()},
            "n_observations": self.n_observations,
            "n_model_points": len(self.gp.y),
            "n_fantasised": n_pending,
            "warnings": warnings,
        }


def _candidate_units(centres: Array, categorical: Array, rng: np.random.Generator) -> Array:
    """Scrambled Sobol' points, and perturbations of the best points, in leaf units."""
    dim = centres.shape[1]
    try:
        sobol = qmc.Sobol(dim, scramble=True, rng=rng).random_base2(_N_SOBOL_LOG2)
    except TypeError:  # scipy < 1.15
        sobol = qmc.Sobol(dim, scramble=True, seed=rng).random_base2(_N_SOBOL_LOG2)
    local = np.repeat(centres, _N_LOCAL // len(centres), axis=0)
    m = len(local)
    # Perturb a few leaves at a time in higher dimensions (as TuRBO and BoTorch's
    # sample-around-best do): moving all ten of Ackley's at once is almost always worse.
    mask = rng.random((m, dim)) < min(1.0, 3.0 / dim)
    mask[np.arange(m), rng.integers(0, dim, m)] = True
    scale = rng.choice(np.array([0.01, 0.05, 0.2]), size=(m, 1))
    moved = local + rng.standard_normal((m, dim)) * scale
    # a perturbed category is drawn afresh: categories have no neighbours
    moved = np.where(categorical[None, :], rng.random((m, dim)), moved)
    local = np.where(mask, moved, local)
    return np.asarray(np.clip(np.vstack([sobol, local]), 1e-6, 1.0 - 1e-6))


def _distinct_rows(x: Array, k: int) -> Array:
    rows: list[Array] = []
    keys: set[bytes] = set()
    for row in x:
        key = feature_key(row)
        if key not in keys:
            keys.add(key)
            rows.append(row)
            if len(rows) == k:
                break
    return np.array(rows)
