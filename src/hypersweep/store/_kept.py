"""Per-sweep maps of runs kept in memory within a budget of runs, least recently stored first out.

The store keeps decoded runs this way (``SqlStore.list_runs(shared=True)``) and the server keeps
each run's encoded JSON (``server.events``): both must stay bounded however many sweeps the
dashboard lists, and both drop whole sweeps, which are read again when next asked for.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

__all__ = ["keep_sweep_runs"]

V = TypeVar("V")


def keep_sweep_runs(
    kept: OrderedDict[str, dict[str, V]], sweep_id: str, runs: dict[str, V], budget: int
) -> None:
    """Store ``runs`` as ``sweep_id``'s, most recent, then drop the least recently stored
    sweeps while more than ``budget`` runs are kept (never the one just stored). The caller
    holds the lock that guards ``kept``."""
    kept[sweep_id] = runs
    kept.move_to_end(sweep_id)
    total = sum(len(sweep_runs) for sweep_runs in kept.values())
    while total > budget and len(kept) > 1:
        total -= len(kept.popitem(last=False)[1])
