"""What a run has logged and not yet delivered, shared by the training thread and the sender.

The training thread only appends under a lock and notifies; the sender thread takes whatever is
waiting. The summary lives here too because its rule (spec §1.1: the last logged value of each
key, unless set explicitly later) depends on the order of rows and explicit sets.

At most ``memory_rows`` rows wait in memory: while the server is away, the rows beyond go to
the spool file (``_spool``), which the sender reads back in order, so memory stays bounded
however long the outage lasts and ``log()`` costs at most one appended line.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypersweep.client._media import DROPPED, loggable
from hypersweep.client._metrics import MetricRules
from hypersweep.client._spool import MEMORY_ROWS, Spool

__all__ = ["Batch", "Outbox", "Summary", "jsonable"]


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: numpy and torch scalars via ``.item()``, arrays via
    ``.tolist()``, anything else unknown as its ``str``; training code logs all of these."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    for method in ("item", "tolist"):
        convert = getattr(value, method, None)
        if callable(convert):
            try:
                return jsonable(convert())
            except (TypeError, ValueError, RuntimeError):
                continue
    return str(value)


@dataclass
class Batch:
    """What the sender takes at once: rows, summary keys set explicitly, the whole summary."""

    rows: list[tuple[int, dict[str, Any]]]
    explicit: dict[str, Any]
    summary: dict[str, Any]


@dataclass
class Outbox:
    """Rows and summary changes waiting for the sender; ``cond`` wakes it."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    explicit: dict[str, Any] = field(default_factory=dict)
    closing: bool = False
    rules: MetricRules = field(default_factory=MetricRules)
    spool: Spool | None = None  # set by the sender; None: every row stays in memory
    memory_rows: int = MEMORY_ROWS
    spool_error: str | None = None  # why the last spooled row could not be written
    dropped: int = 0  # rows lost because the spool could not be written
    keep_rows: bool = True  # False for a run with no sender (disabled): nobody takes rows

    def add_row(self, step: int, metrics: dict[str, Any]) -> None:
        with self.cond:
            self._keep(step, metrics)
            for key, value in metrics.items():
                ruled, chosen = self.rules.summarize(key, value)
                if not ruled:
                    self.summary[key] = value
                    # a newer logged value replaces an explicit one (as in W&B)
                    self.explicit.pop(key, None)
                elif chosen is None:  # summary="none"
                    self.summary.pop(key, None)
                    self.explicit.pop(key, None)
                else:
                    # sent after the rows, so the server lays it over the last logged value
                    self.summary[key] = chosen
                    self.explicit[key] = chosen
            self.cond.notify_all()

    def _keep(self, step: int, metrics: dict[str, Any]) -> None:
        if not self.keep_rows:
            return
        spool = self.spool
        # once a row is spooled, later rows follow it there until the spool is drained: the
        # rows in memory are then always older than those in the file
        if spool is None or not (spool.rows or len(self.rows) >= self.memory_rows):
            self.rows.append((step, metrics))
            return
        try:
            spool.append(step, metrics)
        except OSError as exc:
            self.spool_error = str(exc)
            if spool.rows:  # memory is full and the row cannot go after the spooled ones
                self.dropped += 1
            else:  # nothing spooled yet: memory keeps it, over the bound, rather than lose it
                self.rows.append((step, metrics))

    def spooled(self) -> int:
        """Rows waiting in the spool file; call under ``cond``."""
        return self.spool.rows if self.spool is not None else 0

    def refill(self, limit: int) -> None:
        """Bring up to ``limit`` spooled rows back into memory, behind the rows there, when
        fewer than ``limit`` wait in memory (sender thread; the file is read outside the lock,
        so ``log()`` never waits for it)."""
        with self.cond:
            spool = self.spool
            if spool is None or not spool.rows or len(self.rows) >= limit:
                return
            start, end = spool.claim()
        try:
            rows, offset = spool.read(start, end, limit)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            with self.cond:  # unreadable: the rows are lost, but the run goes on
                self.spool_error = f"{spool.path}: {exc}"
                self.dropped += spool.rows
                spool.consumed(end, spool.rows)
            return
        with self.cond:
            # rows logged meanwhile went to the spool (it was not empty), so these are older
            self.rows.extend(rows)
            spool.consumed(offset, len(rows))

    def set_summary(self, values: Mapping[str, Any]) -> None:
        with self.cond:
            self.summary.update(values)
            self.explicit.update(values)
            self.cond.notify_all()

    def pending(self) -> int:
        """How many rows (plus one for explicit summary keys) wait, in memory or spooled; call
        under ``cond``."""
        return len(self.rows) + self.spooled() + (1 if self.explicit else 0)

    def take(self, max_rows: int) -> Batch:
        """Remove and return up to ``max_rows`` rows in memory and the explicit summary keys."""
        with self.cond:
            rows, self.rows = self.rows[:max_rows], self.rows[max_rows:]
            explicit: dict[str, Any] = {}
            # explicit keys go with the last rows so they land after them
            if not self.rows and not self.spooled():
                explicit, self.explicit = self.explicit, {}
            return Batch(rows, explicit, dict(self.summary))


class Summary:
    """``run.summary``: the last value logged for each key, or the value set here explicitly.

    Whichever came last wins, as in W&B: ``run.summary["best"] = x`` holds until a later
    ``log({"best": ...})``. Explicit values are sent to the server with the next batch.
    """

    _box: Outbox

    def __init__(self, box: Outbox) -> None:
        object.__setattr__(self, "_box", box)

    def __getitem__(self, key: str) -> Any:
        with self._box.cond:
            return self._box.summary[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def update(self, values: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Set keys explicitly; media are stored in their simple form or left out (warned once
        per kind), as in ``log()``."""
        merged = {**(values or {}), **more}
        stored = {str(k): loggable(v) for k, v in merged.items()}
        self._box.set_summary({k: jsonable(v) for k, v in stored.items() if v is not DROPPED})

    def get(self, key: str, default: Any = None) -> Any:
        with self._box.cond:
            return self._box.summary.get(key, default)

    def __contains__(self, key: object) -> bool:
        with self._box.cond:
            return key in self._box.summary

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        with self._box.cond:
            return len(self._box.summary)

    def keys(self) -> list[str]:
        with self._box.cond:
            return list(self._box.summary)

    def items(self) -> list[tuple[str, Any]]:
        with self._box.cond:
            return list(self._box.summary.items())

    def as_dict(self) -> dict[str, Any]:
        with self._box.cond:
            return dict(self._box.summary)

    def __repr__(self) -> str:
        return f"Summary({self.as_dict()!r})"
