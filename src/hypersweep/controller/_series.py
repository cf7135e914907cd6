"""A cache of each run's metric series, so a history batch reads no other run's history.

The stopping rules and model-based searchers need every run's curve of the sweep's metric. Read
from the store on every batch, that is one query per run per batch; instead each run's series is
read once and appended to as this process stores batches.

Several server processes may share one database (``--workers``, several hosts). Each run record
carries ``history_rows``, the number of rows stored for it, and the run list is read on every
batch anyway: a cached series whose count differs from the record's was extended by another
process, and only that run is read again. With one process the counts always agree.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypersweep.store import RunRecord, Store

__all__ = ["SeriesCache"]

Row = Mapping[str, Any]


@dataclass
class _Series:
    rows_seen: int  # the run's stored history rows these metric rows were read from
    metric_rows: list[Row] = field(default_factory=list)


_STRIPES = 64  # locks shared out among the runs; writes to different runs seldom wait


class SeriesCache:
    """Per sweep, per run: the rows that hold the sweep's metric, each as ``{metric: value}``.

    ``lock_for(run_id)`` must be held around a history write of that run and its
    ``append_locked``, so that a concurrent first read of the run cannot load the new rows from
    the store and then receive them again. Runs share out a fixed set of locks: one lock for
    all held every history write of a server process in a queue, even on PostgreSQL, which
    takes concurrent writers.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._locks = [threading.RLock() for _ in range(_STRIPES)]
        self._sweeps: dict[str, dict[str, _Series]] = {}

    def lock_for(self, run_id: str) -> threading.RLock:
        return self._locks[hash(run_id) % _STRIPES]

    @contextlib.contextmanager
    def locks_for(self, run_ids: Collection[str]) -> Iterator[None]:
        """``lock_for`` of each of ``run_ids``, taken in one order by every caller (so two
        callers never wait for each other in a cycle), each lock once."""
        stripes = sorted({hash(run_id) % _STRIPES for run_id in run_ids})
        with contextlib.ExitStack() as held:
            for stripe in stripes:
                held.enter_context(self._locks[stripe])
            yield

    def rows(self, sweep_id: str, metric: str, runs: Sequence[RunRecord]) -> dict[str, list[Row]]:
        """Each run's metric rows: cached, or read again when ``history_rows`` says they grew."""
        cache = self._sweeps.setdefault(sweep_id, {})  # atomic: one dict per sweep, ever
        out: dict[str, list[Row]] = {}
        for run in runs:
            with self.lock_for(run.id):
                series = cache.get(run.id)
                if series is None or series.rows_seen != run.history_rows:
                    stored = self._store.history(run.id, keys=[metric])
                    series = cache[run.id] = _Series(
                        run.history_rows, [dict(row.metrics) for row in stored]
                    )
                out[run.id] = list(series.metric_rows)
        return out

    def append_locked(
        self, sweep_id: str, run_id: str, metric: str, rows: Sequence[tuple[int, Row]]
    ) -> None:
        """Add a batch just written to the store; a run not cached yet is read on first use."""
        series = self._sweeps.get(sweep_id, {}).get(run_id)
        if series is not None:
            series.rows_seen += len(rows)
            series.metric_rows.extend(
                {metric: values[metric]} for _, values in rows if metric in values
            )
