"""Offline runs: a directory of plain files, written as the run goes, read back by ``sync``.

Layout of ``<WANDB_DIR or cwd>/hypersweep/offline-run-<YYYYmmdd_HHMMSS>-<run id>/``::

    run.json        id, sweep_id, project, name, params, config, summary, state, exit_code, ...
                    (rewritten whole, atomically, whenever it changes)
    history.jsonl   one {"step": S, "metrics": {...}} per line, appended as rows are flushed
    .synced         written by `hypersweep sync` after the upload: sweep, server, run id

Appending instead of writing at the end means a run that crashes keeps every flushed row; a run
whose ``state`` is still ``running`` never reached ``finish()`` and is uploaded as crashed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hypersweep.errors import HypersweepError

__all__ = [
    "HISTORY_FILE",
    "RUN_FILE",
    "SYNCED_FILE",
    "OfflineRun",
    "OfflineWriter",
    "find_run_dirs",
    "mark_synced",
    "offline_dir",
    "read_offline_run",
    "read_synced",
]

RUN_FILE = "run.json"
HISTORY_FILE = "history.jsonl"
SYNCED_FILE = ".synced"
FORMAT = 1


def offline_dir(base: Path, run_id: str, when: datetime, prefix: str = "offline-run") -> Path:
    """Where a run's files go: W&B's naming, under ``base/hypersweep``."""
    return base / "hypersweep" / f"{prefix}-{when:%Y%m%d_%H%M%S}-{run_id}"


def _dump(data: Any) -> str:
    # allow_nan: a NaN loss is worth keeping; json.loads reads it back
    return json.dumps(data, default=str, allow_nan=True)


class OfflineWriter:
    """Writes one offline run; used only by the sender thread."""

    def __init__(self, path: Path, meta: Mapping[str, Any]) -> None:
        self.path = path
        self.meta: dict[str, Any] = {"format": FORMAT, **meta}
        path.mkdir(parents=True, exist_ok=True)
        self._history = (path / HISTORY_FILE).open("a", encoding="utf-8")
        self.write_meta()

    def append(self, rows: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        for step, metrics in rows:
            self._history.write(_dump({"step": step, "metrics": metrics}) + "\n")
        self._history.flush()

    def write_meta(self, **changes: Any) -> None:
        self.meta.update(changes)
        tmp = self.path / f".{RUN_FILE}.tmp"
        tmp.write_text(json.dumps(self.meta, default=str, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path / RUN_FILE)

    def close(self) -> None:
        self._history.close()


@dataclass(frozen=True)
class OfflineRun:
    """An offline run as read back from its directory."""

    path: Path
    meta: dict[str, Any]
    history: list[tuple[int, dict[str, Any]]]

    @property
    def final_state(self) -> str:
        """``running`` on disk means the process died before ``finish()``: crashed."""
        state = str(self.meta.get("state") or "running")
        return state if state in ("finished", "failed", "crashed", "killed") else "crashed"


def find_run_dirs(path: Path) -> list[Path]:
    """``path`` itself when it holds a ``run.json``, else its run directories (one level)."""
    if (path / RUN_FILE).is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(child for child in path.iterdir() if (child / RUN_FILE).is_file())


def read_offline_run(path: Path) -> OfflineRun:
    """Read an offline run directory.

    A last history line cut short by a crash is skipped; any other damage is an error.

    Raises:
        HypersweepError: no ``run.json``, or a file that is not what hypersweep wrote.
    """
    try:
        meta = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HypersweepError(
            f"{path}: no {RUN_FILE} here; pass the offline-run-... directory that "
            "hypersweep.init() printed, or its parent"
        ) from None
    except (OSError, ValueError) as exc:
        raise HypersweepError(f"{path / RUN_FILE}: unreadable ({exc}); was it edited?") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("id"), str):
        raise HypersweepError(f"{path / RUN_FILE}: no run id in it; was it edited?")
    history: list[tuple[int, dict[str, Any]]] = []
    history_path = path / HISTORY_FILE
    lines = history_path.read_text(encoding="utf-8").splitlines() if history_path.is_file() else []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            history.append((int(row["step"]), dict(row["metrics"])))
        except (ValueError, KeyError, TypeError):
            if number == len(lines):  # the write the crash interrupted
                break
            raise HypersweepError(
                f"{history_path}:{number}: not a history row ({line[:60]!r}); remove the line "
                "and sync again"
            ) from None
    return OfflineRun(path, meta, history)


def read_synced(path: Path) -> dict[str, Any] | None:
    """The ``.synced`` marker of a run directory, or None when it was never synced."""
    try:
        data = json.loads((path / SYNCED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else {}


def mark_synced(path: Path, *, sweep_id: str, server: str, run_id: str) -> None:
    marker = {"sweep_id": sweep_id, "server": server, "run_id": run_id}
    (path / SYNCED_FILE).write_text(json.dumps(marker) + "\n", encoding="utf-8")
