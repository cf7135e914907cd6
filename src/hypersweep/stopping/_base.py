"""The interface every early-termination rule implements, and the decision it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hypersweep.config import ConfigIssue, SweepConfig
from hypersweep.domain import Run

__all__ = ["StopOrder", "StoppingRule"]


@dataclass(frozen=True)
class StopOrder:
    """Stop run ``run`` (its name); ``reason`` says why, in words shown to the user."""

    run: str
    reason: str


class StoppingRule(ABC):
    """An early-termination rule: pure and stateless; every rule takes the same arguments."""

    type: ClassVar[str]
    #: The settings a stored config gets filled in when it omits them (spec §2.5: W&B stores
    #: hyperband's ``eta: 3`` and ``strict: true``), so the stored config says what ran.
    defaults: ClassVar[Mapping[str, Any]] = {}
    #: Whether decisions depend on the order of ``runs``, read as creation order (asha judges a
    #: run against the runs created before it). Rules without it decide the same for any order.
    reads_creation_order: ClassVar[bool] = False

    def validate(self, config: SweepConfig) -> list[ConfigIssue]:
        """Issues in ``config.early_terminate`` specific to this rule."""
        return []

    @abstractmethod
    def runs_to_stop(self, config: SweepConfig, runs: Sequence[Run]) -> list[StopOrder]:
        """The running runs to stop now, given every run of the sweep in creation order."""
