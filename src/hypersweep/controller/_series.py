"""An in-memory cache of each run's metric series, so a history batch reads no other history.

The stopping rules and model-based searchers need every run's curve of the sweep's metric. Read
from the store on every batch, that is one query per run per batch; instead each sweep's series
are read once, on first use, and appended to as batches arrive.

This assumes one server process owns the sweep: with several server processes behind a load
balancer the store must be the source of truth again (hypersweep issue 7), e.g. by reading only
the rows past a per-run high-water mark.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hypersweep.store import Store

__all__ = ["SeriesCache"]

Row = Mapping[str, Any]


class SeriesCache:
    """Per sweep, per run: the rows that hold the sweep's metric, each as ``{metric: value}``.

    ``lock`` must be held around a history write and its ``append_locked``, so that a concurrent
    first read cannot load the new rows from the store and then receive them again.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self.lock = threading.RLock()
        self._sweeps: dict[str, dict[str, list[Row]]] = {}

    def rows(self, sweep_id: str, metric: str, run_ids: Iterable[str]) -> dict[str, list[Row]]:
        """Each run's metric rows (loaded from the store for the runs not cached yet)."""
        with self.lock:
            cache = self._sweeps.setdefault(sweep_id, {})
            out: dict[str, list[Row]] = {}
            for run_id in run_ids:
                series = cache.get(run_id)
                if series is None:
                    stored = self._store.history(run_id, keys=[metric])
                    series = cache[run_id] = [dict(row.metrics) for row in stored]
                out[run_id] = list(series)
            return out

    def append_locked(
        self, sweep_id: str, run_id: str, metric: str, rows: Sequence[tuple[int, Row]]
    ) -> None:
        """Add a batch just written to the store; a run not cached yet is read on first use."""
        series = self._sweeps.get(sweep_id, {}).get(run_id)
        if series is not None:
            series.extend({metric: values[metric]} for _, values in rows if metric in values)
