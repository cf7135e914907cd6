"""What a run has logged and not yet delivered, shared by the training thread and the sender.

The training thread only appends under a lock and notifies; the sender thread takes whatever is
waiting. The summary lives here too because its rule (spec §1.1: the last logged value of each
key, unless set explicitly later) depends on the order of rows and explicit sets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypersweep.client._media import DROPPED, loggable
from hypersweep.client._metrics import MetricRules

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

    def add_row(self, step: int, metrics: dict[str, Any]) -> None:
        with self.cond:
            self.rows.append((step, metrics))
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

    def set_summary(self, values: Mapping[str, Any]) -> None:
        with self.cond:
            self.summary.update(values)
            self.explicit.update(values)
            self.cond.notify_all()

    def pending(self) -> int:
        """How many rows (plus one for explicit summary keys) wait; call under ``cond``."""
        return len(self.rows) + (1 if self.explicit else 0)

    def take(self, max_rows: int) -> Batch:
        """Remove and return up to ``max_rows`` rows and the explicit summary keys."""
        with self.cond:
            rows, self.rows = self.rows[:max_rows], self.rows[max_rows:]
            explicit: dict[str, Any] = {}
            if not self.rows:  # explicit keys go with the last rows so they land after them
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
