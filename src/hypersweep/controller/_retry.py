"""``retry:`` (our extension): which ended run to run again, with the same parameters.

A run and its re-runs form one logical run: each re-run's ``search_info`` carries ``retry_of``
(the first run's id) and ``attempt`` (2, 3, ...). A logical run is re-run when its latest
attempt ended in one of the policy's states and it has had fewer than ``max_retries`` re-runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypersweep.config import RetryPolicy
from hypersweep.store import NewRun, RunRecord

__all__ = ["attempt_of", "next_retry", "root_of"]


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
