"""The interface every search method implements, and what it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from hypersweep.config import ConfigIssue, SweepConfig
from hypersweep.domain import Run

__all__ = ["Searcher", "Suggestion", "model_requirements"]


@dataclass(frozen=True)
class Suggestion:
    """The parameters for one new run.

    ``params`` are plain nested values as the program will see them; ``info`` says how the
    method chose them (for bayes: W&B's ``search_info``; for a fallback: why).
    """

    params: dict[str, Any]
    info: Mapping[str, Any] = field(default_factory=dict)


class Searcher(ABC):
    """A search method: pure, stateless, all randomness from ``rng``.

    Every searcher takes the same arguments in the same order. ``suggest`` returns up to ``n``
    suggestions; fewer (or none) only when the space is exhausted.
    """

    name: ClassVar[str]
    #: whether ``suggest`` reads the runs' ``history`` (not only their params and state): a
    #: caller may pass runs without it otherwise, and save reading every run's history
    reads_history: ClassVar[bool] = False

    def validate(self, config: SweepConfig) -> list[ConfigIssue]:
        """Issues specific to this method (e.g. grid's allowed distributions)."""
        return []

    @abstractmethod
    def suggest(
        self,
        config: SweepConfig,
        runs: Sequence[Run],
        n: int,
        rng: np.random.Generator,
    ) -> list[Suggestion]:
        """The next ``n`` suggestions given every run of the sweep (any state)."""


def model_requirements(config: SweepConfig, title: str, method: str) -> list[ConfigIssue]:
    """What every model-based method needs: a metric to learn and something to vary.

    ``title`` names the method in W&B's wording (``Bayesian``), ``method`` as written (``bayes``).
    """
    issues = []
    if config.metric is None:
        issues.append(
            ConfigIssue(
                "metric",
                f'{title} search requires "metric" section; add metric: {{name: ..., goal: '
                "minimize} naming a value your program logs",
            )
        )
    if not config.space.searchable:
        issues.append(
            ConfigIssue(
                "parameters",
                f"Need at least one searchable parameter for {method} search. Every parameter "
                "is a constant; give one values: [...] or min and max",
            )
        )
    return issues
