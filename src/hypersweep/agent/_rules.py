"""How a run's end counts for its agent, kept apart from processes and HTTP: whether it was
preempted, and when the agent gives up after failed runs (spec §7.6).

A failure is a run whose program exited with a code above 0 (or whose function raised). A
negative exit code means a signal ended it, usually our own stop order: not a failure. Neither
is a preemption: a SIGTERM that came from outside the agent (spot reclaim, Slurm or Kubernetes
preemption) says nothing about the program.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["FLAPPING_WINDOW", "SIGTERM_EXIT_CODES", "FailureRules", "preemption"]

#: A SIGTERM's end: -15 from ``subprocess`` when it ended the program itself, 143 (128 + 15)
#: when a shell ran the program and exited with the signal's conventional code.
SIGTERM_EXIT_CODES = frozenset({-int(signal.SIGTERM), 128 + int(signal.SIGTERM)})


def preemption(exit_code: int, *, agent_sent_term: bool, agent_preempted: bool) -> str | None:
    """Why a run that ended with ``exit_code`` was preempted, or None when it was not.

    Args:
        agent_sent_term: the agent itself sent the run SIGTERM (a stop order, the second
            Ctrl-C, the failure rules): that SIGTERM ends the run killed, as before.
        agent_preempted: the agent itself got SIGTERM from outside and passed it on; every run
            that then ends other than with 0 was preempted (0: it finished its work in time).
    """
    if agent_preempted:
        if exit_code == 0:
            return None
        return f"its agent got SIGTERM from outside (exit code {exit_code})"
    if exit_code in SIGTERM_EXIT_CODES and not agent_sent_term:
        return f"its program got SIGTERM from outside the agent (exit code {exit_code})"
    return None


#: Failures this early after the agent started mean the program is broken (rule 1).
FLAPPING_WINDOW = 60.0
_FLAPPING_RUNS = 3


@dataclass
class FailureRules:
    """Counts ended runs and says when the agent must stop (spec §7.6 rules 1-3).

    Args:
        started: the agent's start, on the same clock as the ``now`` passed to ``record``.
        max_initial_failures: rule 2 (``WANDB_AGENT_MAX_INITIAL_FAILURES``, default 5).
        flapping: rule 1 on (``WANDB_AGENT_DISABLE_FLAPPING=true`` turns it off, and only it).
        max_consecutive: rule 3 (``--max-consecutive-failed-runs``), None for off.
        in_process: the function agent's variant of rule 2 (every job so far failed).
    """

    started: float
    max_initial_failures: int = 5
    flapping: bool = True
    max_consecutive: int | None = None
    in_process: bool = False
    failed: int = field(default=0, init=False)
    finished: int = field(default=0, init=False)
    consecutive: int = field(default=0, init=False)

    @classmethod
    def from_env(
        cls,
        started: float,
        env: Mapping[str, str] = os.environ,
        *,
        max_consecutive: int | None = None,
        in_process: bool = False,
    ) -> FailureRules:
        """The rules with W&B's environment knobs read from ``env``.

        Raises:
            ValueError: a knob or ``max_consecutive`` is not a positive integer; names it.
        """
        raw = env.get("WANDB_AGENT_MAX_INITIAL_FAILURES", "5")
        try:
            initial = int(raw)
        except ValueError:
            raise ValueError(
                f"WANDB_AGENT_MAX_INITIAL_FAILURES={raw!r} is not an integer; set it to a "
                "whole number of runs such as 5"
            ) from None
        if max_consecutive is not None and (
            isinstance(max_consecutive, bool)
            or not isinstance(max_consecutive, int)
            or max_consecutive < 1
        ):
            raise ValueError(
                f"max_consecutive_failed_runs={max_consecutive!r}: use an integer of at least 1"
            )
        flapping = env.get("WANDB_AGENT_DISABLE_FLAPPING", "").lower() not in ("true", "1")
        return cls(
            started,
            max_initial_failures=initial,
            flapping=flapping,
            max_consecutive=max_consecutive,
            in_process=in_process,
        )

    def record(self, exit_code: int, now: float, *, preempted: bool = False) -> str | None:
        """Count one ended run; the reason to shut the agent down, or None to go on.

        A preempted run counts for nothing: it neither failed nor showed the program works.
        """
        if preempted:
            return None
        if exit_code <= 0:
            self.finished += 1
            self.consecutive = 0
            return None
        finished_before = self.finished
        self.failed += 1
        self.consecutive += 1
        self.finished += 1
        early = now - self.started < FLAPPING_WINDOW
        if self.flapping and early and self.failed >= _FLAPPING_RUNS:
            return (
                f"Detected {self.failed} failed runs in the first {FLAPPING_WINDOW:.0f} "
                "seconds, shutting down. To disable this check set "
                "WANDB_AGENT_DISABLE_FLAPPING=true"
            )
        if self.max_consecutive is not None and self.consecutive >= self.max_consecutive:
            return f"Detected {self.consecutive} consecutive failed runs, shutting down."
        if self.in_process:
            if self.failed > self.max_initial_failures and self.failed == self.finished:
                return f"Detected {self.failed} failed runs in a row at start, shutting down."
        elif self.failed >= self.max_initial_failures and self.failed >= finished_before:
            return f"Detected {self.failed} failed runs in a row, shutting down."
        return None
