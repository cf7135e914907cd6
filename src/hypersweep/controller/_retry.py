"""``retry:`` (our extension): which ended run to run again, with the same parameters.

A run and its re-runs form one logical run: each re-run's ``search_info`` carries ``retry_of``
(the first run's id) and ``attempt`` (2, 3, ...). A logical run is re-run when its latest
attempt ended in one of the policy's states and it has had fewer than ``max_retries`` re-runs.

Preempted runs are run again without ``retry:`` too: W&B re-queues them (spec §8.2, "requeued
as `resume` to the next idle agent with the same run id and params"). We re-run the parameters
as a new attempt rather than reuse the id **[deviation]**: a new run goes through
``assign_run``'s one transaction, so exactly one agent gets it (spec §11 MUST), and the new
program's history does not mix with the preempted one's. A ``retry:`` whose ``on`` lists
``preempted`` sets the limit; otherwise ``PREEMPTED_RETRIES`` does, so that a program that
SIGTERMs itself is not run for ever.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypersweep.config import RetryPolicy
from hypersweep.store import NewRun, RunRecord

__all__ = [
    "PREEMPTED_RETRIES",
    "attempt_of",
    "latest_attempts",
    "next_preempted_rerun",
    "next_retry",
    "root_of",
]

#: Re-runs of a preempted logical run when ``retry:`` does not list ``preempted``.
PREEMPTED_RETRIES = 3
_PREEMPTED = frozenset({"preempted"})


def root_of(run: RunRecord) -> str:
    """The id of the first attempt of ``run``'s logical run."""
    root = run.search_info.get("retry_of")
    return root if isinstance(root, str) else run.id


def attempt_of(run: RunRecord) -> int:
    """1 for a first run, 2 for its first re-run, ..."""
    attempt = run.search_info.get("attempt")
    return attempt if isinstance(attempt, int) else 1


def next_retry(runs: Sequence[RunRecord], policy: RetryPolicy) -> NewRun | None:
    """The oldest logical run due a re-run, as the new attempt; None when none is due."""
    if not any(run.state.value in policy.on for run in runs):
        return None  # the usual case, decided without grouping every run of the sweep
    latest: dict[str, RunRecord] = {}
    for run in runs:  # creation order: a later attempt replaces an earlier one
        root = root_of(run)
        if root not in latest or attempt_of(run) > attempt_of(latest[root]):
            latest[root] = run
    for root, run in latest.items():
        if run.state.value in policy.on and attempt_of(run) <= policy.max_retries:
            info = {**run.search_info, "retry_of": root, "attempt": attempt_of(run) + 1}
            return NewRun(run.params, info)
    return None


def next_preempted_rerun(runs: Sequence[RunRecord], policy: RetryPolicy | None) -> NewRun | None:
    """The oldest preempted logical run due a re-run (see the module), or None."""
    if policy is not None and "preempted" in policy.on:
        limit = policy.max_retries
    else:
        limit = PREEMPTED_RETRIES
    return next_retry(runs, RetryPolicy(limit, _PREEMPTED))


def latest_attempts(runs: Sequence[RunRecord]) -> Sequence[RunRecord]:
    """``runs`` without the attempts that a later attempt of their logical run replaced: what a
    search that learns from results sees. A preempted attempt that was run again would
    otherwise count as in flight for ever (spec §4.4.2: W&B resumes the same run), and a crash
    that a retry made good would stay an observation beside the retry's result."""
    latest: dict[str, int] = {}
    for run in runs:
        root = run.search_info.get("retry_of")
        if isinstance(root, str):
            latest[root] = max(latest.get(root, 1), attempt_of(run))
    if not latest:  # the usual case: no run was ever run again
        return runs
    return [run for run in runs if attempt_of(run) >= latest.get(root_of(run), 0)]
