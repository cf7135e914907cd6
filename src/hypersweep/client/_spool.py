"""Rows beyond the outbox's memory bound, kept in a file while the server is away.

The outbox holds at most ``memory_rows`` undelivered rows in memory; once that many wait, every
new row is appended to ``<run dir>/spool/history.jsonl`` instead (one JSON line, the offline
format: ``{"step": S, "metrics": {...}}``), and keeps going there until the spool is drained,
so the rows in memory are always older than the rows in the file. The sender reads the file
back in order, a chunk at a time, as the rows in memory go out, and deletes it once drained.

Threads: ``append`` runs on the training thread and ``claim``/``consumed``/``leave`` on the
sender, all under the outbox's lock; ``read`` runs on the sender without it (it reads only
bytes that were flushed before ``claim`` and never changes the counters).

When ``finish()`` gives up on a server that is still away, ``leave`` writes everything still
undelivered into the spool directory as an offline run (``run.json`` with ``"kind": "spool"``
plus ``history.jsonl``) that ``hypersweep sync DIR`` appends to the run on the server.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from hypersweep.client._offline import FORMAT, HISTORY_FILE, RUN_FILE

__all__ = ["MEMORY_ROWS", "SPOOL_KIND", "Spool"]

# About 14 MB of Python objects for rows of ten metrics (3.7 MB once spooled as JSON; measured
# with tracemalloc): large enough that a server restart of a few seconds never touches the
# disk, small enough for any training process.
MEMORY_ROWS = 10_000
SPOOL_KIND = "spool"

Row = tuple[int, dict[str, Any]]


def _line(step: int, metrics: Mapping[str, Any]) -> bytes:
    # ASCII (ensure_ascii), so a line's length in characters is its length in bytes; NaN is
    # kept (a NaN loss is worth keeping) and json.loads reads it back
    return (json.dumps({"step": step, "metrics": metrics}, default=str) + "\n").encode("ascii")


class Spool:
    """An append-only FIFO of rows in ``directory/history.jsonl``; see the module docstring."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / HISTORY_FILE
        self.rows = 0  # rows in the file not yet handed back to memory
        self._out: IO[bytes] | None = None
        self._written = 0  # bytes appended and flushed
        self._read = 0  # bytes handed back to memory

    def append(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Append one row (training thread, under the outbox lock): one buffered write + flush.

        Raises:
            OSError: the file cannot be written (disk full, no permission); nothing is counted
                and a partial line is cut off again.
        """
        data = _line(step, metrics)
        if self._out is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._out = self.path.open("wb")
        try:
            self._out.write(data)
            self._out.flush()  # a crash of the process then loses none of it
        except OSError:
            self._cut()
            raise
        self._written += len(data)
        self.rows += 1

    def _cut(self) -> None:
        if self._out is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self._out.seek(self._written)
            self._out.truncate()

    def claim(self) -> tuple[int, int]:
        """The byte range not yet handed back (under the outbox lock)."""
        return self._read, self._written

    def read(self, start: int, end: int, limit: int) -> tuple[list[Row], int]:
        """Up to ``limit`` rows from bytes ``start..end`` and the offset after them."""
        rows: list[Row] = []
        with self.path.open("rb") as file:
            file.seek(start)
            offset = start
            while offset < end and len(rows) < limit:
                line = file.readline()
                offset += len(line)
                row = json.loads(line)
                rows.append((int(row["step"]), dict(row["metrics"])))
        return rows, offset

    def consumed(self, offset: int, count: int) -> None:
        """``count`` rows up to ``offset`` are in memory now (under the outbox lock); a drained
        spool deletes its file, so the next overflow starts a new one."""
        self._read = offset
        self.rows -= count
        if self.rows == 0:
            self._discard()

    def _discard(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        self.path.unlink(missing_ok=True)
        # not when the user put something there, or it was never created
        with contextlib.suppress(OSError):
            self.directory.rmdir()
        self._read = self._written = 0

    def leave(self, first: Sequence[Row], meta: Mapping[str, Any]) -> Path:
        """Write ``first`` (the rows in memory, oldest first) and the unread spooled rows after
        them as an offline run in the spool directory, for ``hypersweep sync``; return it.

        Called by the sender after the training thread stopped logging (``finish()``).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{HISTORY_FILE}.tmp"
        with tmp.open("wb") as out:
            for step, metrics in first:
                out.write(_line(step, metrics))
            if self._out is not None:
                self._out.flush()
                with self.path.open("rb") as spooled:
                    spooled.seek(self._read)
                    remaining = self._written - self._read
                    while remaining > 0:
                        chunk = spooled.read(min(remaining, 1 << 20))
                        if not chunk:
                            break
                        out.write(chunk)
                        remaining -= len(chunk)
        if self._out is not None:
            self._out.close()
            self._out = None
        os.replace(tmp, self.path)
        self.rows = 0
        self._read = self._written = 0
        run_tmp = self.directory / f".{RUN_FILE}.tmp"
        body = {"format": FORMAT, "kind": SPOOL_KIND, **meta}
        run_tmp.write_text(json.dumps(body, default=str, indent=2) + "\n", encoding="utf-8")
        os.replace(run_tmp, self.directory / RUN_FILE)
        return self.directory
